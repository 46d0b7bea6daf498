"""Adaptive exponential integrate-and-fire with conductance-based synapses (PyNN's
EIF_cond_exp_isfa_ista / EIF_cond_alpha_isfa_ista, NEST's aeif_cond_exp / aeif_cond_alpha;
Brette and Gerstner 2005).

.. math::

    c_m \\frac{dv}{dt} = -g_L (v - v_{rest})
        + g_L \\Delta_T e^{(v - v_{thresh}) / \\Delta_T}
        - g_E (v - E_E) - g_I (v - E_I) - w + i_{offset} + I_{inj}

    \\tau_w \\frac{dw}{dt} = a (v - v_{rest}) - w

with g_L = c_m / tau_m and the synaptic conductances of :mod:`._iaf_cond` (exponential
or alpha-shaped, weights in uS). Units: mV, ms, nF, nA (w, b), uS (a, g).

As NEST, each step integrates with GSL's adaptive RKF45 (tolerance 1e-6 on derivatives
times the step, :func:`._gsl.yp_control`, first step 0.01 ms), and checks for spikes after
*every* accepted integration step inside the time step: v >= v_spike (v_thresh when
delta_T = 0) emits a spike (carrying the time of the end of the time step), sets v to
v_reset, adds b to w and makes the cell refractory for ``refrac`` steps (plus the rest of
this one); without a refractory period a cell can spike several times in one step. While
refractory the equations see v = v_reset and dv/dt = 0, and v is set to v_reset after each
integration step; otherwise they see v bounded by v_spike. After the integration the
refractory count goes down and the arriving spikes are added to the synapses. v < -1000 mV
or |w| > 1e6 nA (NEST's NumericalInstability) makes v NaN.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _gsl


class AeifParams(NamedTuple):
    v_rest: jax.Array  # (n,) mV, leak reversal potential
    cm: jax.Array  # (n,) nF
    g_leak: jax.Array  # (n,) uS, cm / tau_m
    e_rev_E: jax.Array  # (n,) mV
    e_rev_I: jax.Array  # (n,) mV
    tau_syn_E: jax.Array  # (n,) ms
    tau_syn_I: jax.Array  # (n,) ms
    i_offset: jax.Array  # (n,) nA
    a: jax.Array  # (n,) uS, subthreshold adaptation
    b: jax.Array  # (n,) nA, spike-triggered adaptation
    delta_T: jax.Array  # (n,) mV, slope factor (0: plain integrate-and-fire)
    tau_w: jax.Array  # (n,) ms
    v_thresh: jax.Array  # (n,) mV, spike initiation threshold
    v_spike: jax.Array  # (n,) mV, spike detection threshold (NEST V_peak)
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 refractory period in steps


class AeifExpState(NamedTuple):
    v: jax.Array  # (n,) mV
    gsyn_exc: jax.Array  # (n,) uS
    gsyn_inh: jax.Array  # (n,) uS
    w: jax.Array  # (n,) nA
    refrac: jax.Array  # (n,) int32 refractory steps left
    h_ode: jax.Array  # (n,) ms, adaptive integration step (0: not started)


class AeifAlphaState(NamedTuple):
    v: jax.Array  # (n,) mV
    gsyn_exc: jax.Array  # (n,) uS
    gsyn_inh: jax.Array  # (n,) uS
    dgsyn_exc: jax.Array  # (n,) uS/ms
    dgsyn_inh: jax.Array  # (n,) uS/ms
    w: jax.Array  # (n,) nA
    refrac: jax.Array  # (n,) int32 refractory steps left
    h_ode: jax.Array  # (n,) ms, adaptive integration step (0: not started)


RECORDABLE = ("v", "w", "gsyn_exc", "gsyn_inh")

# NEST: gsl_odeiv_control_yp_new(1e-6, 1e-6) on (V_m [mV], g [nS], w [pA], ...); g in uS
# and w in nA here, so their absolute tolerance is 1e-9 (the relative one is unchanged).
_TOL = 1e-6
_EXP_CONTROL = _gsl.yp_control((_TOL, _TOL * 1e-3, _TOL * 1e-3, _TOL * 1e-3), _TOL)
_ALPHA_CONTROL = _gsl.yp_control((_TOL,) + (_TOL * 1e-3,) * 5, _TOL)
_FIRST_STEP = 0.01  # ms, NEST's first integration step for aeif models (min with dt)


def prepare(params: AeifParams, dt, method: str):
    return params, jnp.asarray(dt, params.cm.dtype)


def init_exp(n: int, dtype) -> AeifExpState:
    zeros = jnp.zeros((n,), dtype)
    return AeifExpState(zeros, zeros, zeros, zeros, jnp.zeros((n,), jnp.int32), zeros)


def init_alpha(n: int, dtype) -> AeifAlphaState:
    zeros = jnp.zeros((n,), dtype)
    return AeifAlphaState(zeros, zeros, zeros, zeros, zeros, zeros,
                          jnp.zeros((n,), jnp.int32), zeros)


def _membrane(p: AeifParams, v, g_exc, g_inh, w, i_inj, refractory):
    """(dv/dt, dw/dt) in NEST's operation order (aeif_cond_*_dynamics)."""
    v = jnp.where(refractory, p.v_reset, jnp.minimum(v, p.v_spike))
    i_exc = g_exc * (v - p.e_rev_E)
    i_inh = g_inh * (v - p.e_rev_I)
    plain = p.delta_T == 0.0
    delta = jnp.where(plain, 1.0, p.delta_T)
    i_spike = jnp.where(plain, 0.0, p.g_leak * p.delta_T * jnp.exp((v - p.v_thresh) / delta))
    dv = (-p.g_leak * (v - p.v_rest) + i_spike - i_exc - i_inh - w + p.i_offset + i_inj) / p.cm
    dw = (p.a * (v - p.v_rest) - w) / p.tau_w
    return jnp.where(refractory, 0.0, dv), dw


def _spikes_in_loop(p: AeifParams):
    """NEST's spike handling after each accepted integration step (inside the time step)."""
    v_peak = jnp.where(p.delta_T > 0.0, p.v_spike, p.v_thresh)
    refrac_after = jnp.where(p.refrac > 0, p.refrac + 1, 0)

    def after_step(y, aux, accepted):
        refrac, count = aux
        v, w = y[0], y[-1]
        refractory = accepted & (refrac > 0)
        spike = accepted & (refrac <= 0) & (v >= v_peak)
        v = jnp.where(refractory | spike, p.v_reset, v)
        w = jnp.where(spike, w + p.b, w)
        refrac = jnp.where(spike, refrac_after, refrac)
        return (v,) + tuple(y[1:-1]) + (w,), (refrac, count + spike.astype(count.dtype))

    return after_step


def _integrate(prepared, y, state, i_inj, f, control):
    p, dt = prepared
    h = _gsl.start_step(state.h_ode, jnp.minimum(_FIRST_STEP, dt))
    aux = (state.refrac, jnp.zeros_like(state.refrac))
    y, h, (refrac, count) = _gsl.evolve(f, y, h, dt, control, aux, _spikes_in_loop(p))
    v, w = y[0], y[-1]
    unstable = (v < -1e3) | (w < -1e6) | (w > 1e6)
    y = (jnp.where(unstable, jnp.nan, v),) + tuple(y[1:])
    return y, h, jnp.where(refrac > 0, refrac - 1, refrac), count


def step_exp(prepared, state: AeifExpState, i_inj, arrive_exc, arrive_inh, key, method,
             has_noise):
    """Advance one step; return (state, spike counts (n,) int32)."""
    p, _ = prepared

    def f(y, aux):
        v, ge, gi, w = y
        dv, dw = _membrane(p, v, ge, gi, w, i_inj, aux[0] > 0)
        return dv, -ge / p.tau_syn_E, -gi / p.tau_syn_I, dw

    y0 = (state.v, state.gsyn_exc, state.gsyn_inh, state.w)
    (v, ge, gi, w), h, refrac, count = _integrate(prepared, y0, state, i_inj, f, _EXP_CONTROL)
    return AeifExpState(v, ge + arrive_exc, gi + arrive_inh, w, refrac, h), count


def step_alpha(prepared, state: AeifAlphaState, i_inj, arrive_exc, arrive_inh, key, method,
               has_noise):
    """Advance one step; return (state, spike counts (n,) int32)."""
    p, _ = prepared

    def f(y, aux):
        v, ge, gi, dge, dgi, w = y
        dv, dw = _membrane(p, v, ge, gi, w, i_inj, aux[0] > 0)
        return (dv, dge - ge / p.tau_syn_E, dgi - gi / p.tau_syn_I, -dge / p.tau_syn_E,
                -dgi / p.tau_syn_I, dw)

    y0 = (state.v, state.gsyn_exc, state.gsyn_inh, state.dgsyn_exc, state.dgsyn_inh, state.w)
    (v, ge, gi, dge, dgi, w), h, refrac, count = _integrate(prepared, y0, state, i_inj, f,
                                                            _ALPHA_CONTROL)
    dge = dge + arrive_exc * (jnp.e / p.tau_syn_E)
    dgi = dgi + arrive_inh * (jnp.e / p.tau_syn_I)
    return AeifAlphaState(v, ge, gi, dge, dgi, w, refrac, h), count
