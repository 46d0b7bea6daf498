"""Integrate-and-fire with conductance-based synapses (PyNN's IF_cond_exp / IF_cond_alpha /
IF_cond_exp_gsfa_grr, NEST's iaf_cond_exp / iaf_cond_alpha / iaf_cond_exp_sfa_rr).

.. math::

    c_m \\frac{dv}{dt} = -g_L (v - v_{rest}) - g_E (v - E_E) - g_I (v - E_I)
        + i_{offset} + I_{inj}, \\qquad g_L = c_m / \\tau_m

exponential synapses (``kernel="exp"``):

.. math::

    \\frac{dg_X}{dt} = -\\frac{g_X}{\\tau_{syn,X}}, \\qquad g_X \\mathrel{+}= w

alpha synapses (``kernel="alpha"``; one spike of weight w gives
:math:`w (t/\\tau) e^{1 - t/\\tau}`, peak w at :math:`t = \\tau`):

.. math::

    \\frac{dg_X}{dt} = D_X - \\frac{g_X}{\\tau_{syn,X}}, \\qquad
    \\frac{dD_X}{dt} = -\\frac{D_X}{\\tau_{syn,X}}, \\qquad
    D_X \\mathrel{+}= \\frac{e}{\\tau_{syn,X}} w

IF_cond_exp_gsfa_grr adds, with exponential synapses, an adaptation and a relative
refractory conductance (Muller et al. 2007), both jumping at each spike:

.. math::

    c_m \\frac{dv}{dt} = \\ldots - g_s (v - E_{sfa}) - g_r (v - E_{rr}), \\quad
    \\frac{dg_s}{dt} = -\\frac{g_s}{\\tau_{sfa}}, \\quad
    \\frac{dg_r}{dt} = -\\frac{g_r}{\\tau_{rr}}, \\quad
    g_s \\mathrel{+}= q_{sfa},\\; g_r \\mathrel{+}= q_{rr} \\text{ at each spike}

Units: mV, ms, nF, nA, uS (weights and g), uS/ms (``dgsyn_X``, the state D_X); g_s, g_r,
q_sfa and q_rr in nS (PyNN's units for them).

As NEST (which has no closed form to use here either), each step integrates the equations
with GSL's adaptive Runge-Kutta-Fehlberg 4(5) (absolute tolerance 1e-3 mV on v and 1e-3 nS
on conductances, see :mod:`._gsl`), then: the arriving spikes are added to the synapses
(to g_X, or to D_X for alpha synapses); a refractory cell counts down and v is set to
v_reset; otherwise, v >= v_thresh emits a spike carrying the time of the end of the step,
sets v to v_reset and starts ``refrac`` steps of refractoriness. As in NEST, the
equations see v = v_reset and dv/dt = 0 while refractory, and v bounded by v_thresh
otherwise (a trial stage beyond threshold does not run away); v is set to v_reset after
each refractory step.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _gsl


class IafCondParams(NamedTuple):
    v_rest: jax.Array  # (n,) mV, leak reversal potential
    cm: jax.Array  # (n,) nF
    g_leak: jax.Array  # (n,) uS, cm / tau_m
    e_rev_E: jax.Array  # (n,) mV
    e_rev_I: jax.Array  # (n,) mV
    tau_syn_E: jax.Array  # (n,) ms
    tau_syn_I: jax.Array  # (n,) ms
    i_offset: jax.Array  # (n,) nA
    v_thresh: jax.Array  # (n,) mV
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 refractory period in steps


class IafCondExpState(NamedTuple):
    v: jax.Array  # (n,) mV
    gsyn_exc: jax.Array  # (n,) uS
    gsyn_inh: jax.Array  # (n,) uS
    refrac: jax.Array  # (n,) int32 refractory steps left
    h_ode: jax.Array  # (n,) ms, adaptive integration step (0: not started)


class IafCondAlphaState(NamedTuple):
    v: jax.Array  # (n,) mV
    gsyn_exc: jax.Array  # (n,) uS
    gsyn_inh: jax.Array  # (n,) uS
    dgsyn_exc: jax.Array  # (n,) uS/ms
    dgsyn_inh: jax.Array  # (n,) uS/ms
    refrac: jax.Array  # (n,) int32 refractory steps left
    h_ode: jax.Array  # (n,) ms, adaptive integration step (0: not started)


RECORDABLE = ("v", "gsyn_exc", "gsyn_inh")

# NEST: gsl_odeiv_control_y_new(1e-3, 0) on (V_m [mV], g [nS], ...); g here in uS.
_EXP_CONTROL = _gsl.y_control((1e-3, 1e-6, 1e-6), 0.0)
_ALPHA_CONTROL = _gsl.y_control((1e-3, 1e-6, 1e-6, 1e-6, 1e-6), 0.0)


def prepare(params: IafCondParams, dt, method: str):
    return params, jnp.asarray(dt, params.cm.dtype)


def init_exp(n: int, dtype) -> IafCondExpState:
    zeros = jnp.zeros((n,), dtype)
    return IafCondExpState(zeros, zeros, zeros, jnp.zeros((n,), jnp.int32), zeros)


def init_alpha(n: int, dtype) -> IafCondAlphaState:
    zeros = jnp.zeros((n,), dtype)
    return IafCondAlphaState(zeros, zeros, zeros, zeros, zeros,
                             jnp.zeros((n,), jnp.int32), zeros)


def _seen_v(p: IafCondParams, v, refractory):
    """The v the equations see, as in NEST: v_reset while refractory (where dv/dt = 0 too),
    otherwise v bounded by v_thresh (trial stages beyond threshold do not run away)."""
    return jnp.where(refractory, p.v_reset, jnp.minimum(v, p.v_thresh))


def _currents(p: IafCondParams, v, g_exc, g_inh, refractory):
    v = _seen_v(p, v, refractory)
    return p.g_leak * (v - p.v_rest), g_exc * (v - p.e_rev_E), g_inh * (v - p.e_rev_I)


def _threshold(p: IafCondParams, v, refrac):
    """Refractory count-down and clamp, or threshold and reset; returns (v, refrac, spikes)."""
    refractory = refrac > 0
    spikes = ~refractory & (v >= p.v_thresh)
    v = jnp.where(refractory | spikes, p.v_reset, v)
    refrac = jnp.where(refractory, refrac - 1, jnp.where(spikes, p.refrac, refrac))
    return v, refrac, spikes


def step_exp(prepared, state: IafCondExpState, i_inj, arrive_exc, arrive_inh, key, method,
             has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    p, dt = prepared

    refractory = state.refrac > 0

    def f(y, aux):
        v, ge, gi = y
        i_leak, i_exc, i_inh = _currents(p, v, ge, gi, refractory)
        # the operation order of NEST's iaf_cond_exp_dynamics
        dv = (-i_leak + i_inj + p.i_offset - i_exc - i_inh) / p.cm
        return jnp.where(refractory, 0.0, dv), -ge / p.tau_syn_E, -gi / p.tau_syn_I

    h = _gsl.start_step(state.h_ode, dt)
    (v, ge, gi), h, _ = _gsl.evolve(f, (state.v, state.gsyn_exc, state.gsyn_inh), h, dt,
                                    _EXP_CONTROL)
    ge, gi = ge + arrive_exc, gi + arrive_inh
    v, refrac, spikes = _threshold(p, v, state.refrac)
    return IafCondExpState(v, ge, gi, refrac, h), spikes


def step_alpha(prepared, state: IafCondAlphaState, i_inj, arrive_exc, arrive_inh, key,
               method, has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    p, dt = prepared

    refractory = state.refrac > 0

    def f(y, aux):
        v, ge, gi, dge, dgi = y
        i_leak, i_exc, i_inh = _currents(p, v, ge, gi, refractory)
        # the operation order of NEST's iaf_cond_alpha_dynamics
        dv = (-i_leak - i_exc - i_inh + i_inj + p.i_offset) / p.cm
        return (
            jnp.where(refractory, 0.0, dv),
            dge - ge / p.tau_syn_E,
            dgi - gi / p.tau_syn_I,
            -dge / p.tau_syn_E,
            -dgi / p.tau_syn_I,
        )

    h = _gsl.start_step(state.h_ode, dt)
    y = (state.v, state.gsyn_exc, state.gsyn_inh, state.dgsyn_exc, state.dgsyn_inh)
    (v, ge, gi, dge, dgi), h, _ = _gsl.evolve(f, y, h, dt, _ALPHA_CONTROL)
    v, refrac, spikes = _threshold(p, v, state.refrac)
    dge = dge + arrive_exc * (jnp.e / p.tau_syn_E)
    dgi = dgi + arrive_inh * (jnp.e / p.tau_syn_I)
    return IafCondAlphaState(v, ge, gi, dge, dgi, refrac, h), spikes


class SfaRrParams(NamedTuple):
    """IF_cond_exp_gsfa_grr: IafCondParams plus adaptation and relative refractoriness."""

    cond: IafCondParams
    tau_sfa: jax.Array  # (n,) ms
    e_rev_sfa: jax.Array  # (n,) mV
    q_sfa: jax.Array  # (n,) nS, g_s jump at each spike
    tau_rr: jax.Array  # (n,) ms
    e_rev_rr: jax.Array  # (n,) mV
    q_rr: jax.Array  # (n,) nS, g_r jump at each spike


class SfaRrState(NamedTuple):
    v: jax.Array  # (n,) mV
    gsyn_exc: jax.Array  # (n,) uS
    gsyn_inh: jax.Array  # (n,) uS
    g_s: jax.Array  # (n,) nS, spike-frequency adaptation conductance
    g_r: jax.Array  # (n,) nS, relative refractory conductance
    refrac: jax.Array  # (n,) int32 refractory steps left
    h_ode: jax.Array  # (n,) ms, adaptive integration step (0: not started)


SFA_RR_RECORDABLE = ("v", "gsyn_exc", "gsyn_inh", "g_s", "g_r")
# NEST iaf_cond_exp_sfa_rr: y_new(1e-3, 0) on (V_m, g_ex, g_in, g_sfa, g_rr), all g in nS.
_SFA_RR_CONTROL = _gsl.y_control((1e-3, 1e-6, 1e-6, 1e-3, 1e-3), 0.0)


def prepare_sfa_rr(params: SfaRrParams, dt, method: str):
    return params, jnp.asarray(dt, params.cond.cm.dtype)


def init_sfa_rr(n: int, dtype) -> SfaRrState:
    zeros = jnp.zeros((n,), dtype)
    return SfaRrState(zeros, zeros, zeros, zeros, zeros, jnp.zeros((n,), jnp.int32), zeros)


def step_sfa_rr(prepared, state: SfaRrState, i_inj, arrive_exc, arrive_inh, key, method,
                has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    q, dt = prepared
    p = q.cond

    refractory = state.refrac > 0

    def f(y, aux):
        v, ge, gi, gs, gr = y
        # the operation order of NEST's iaf_cond_exp_sfa_rr_dynamics; g_s, g_r in nS
        i_leak, i_exc, i_inh = _currents(p, v, ge, gi, refractory)
        v = _seen_v(p, v, refractory)
        i_sfa = gs * (v - q.e_rev_sfa) * 1e-3
        i_rr = gr * (v - q.e_rev_rr) * 1e-3
        dv = (-i_leak + i_inj + p.i_offset - i_exc - i_inh - i_sfa - i_rr) / p.cm
        return (jnp.where(refractory, 0.0, dv), -ge / p.tau_syn_E, -gi / p.tau_syn_I,
                -gs / q.tau_sfa, -gr / q.tau_rr)

    h = _gsl.start_step(state.h_ode, dt)
    y = (state.v, state.gsyn_exc, state.gsyn_inh, state.g_s, state.g_r)
    (v, ge, gi, gs, gr), h, _ = _gsl.evolve(f, y, h, dt, _SFA_RR_CONTROL)
    v, refrac, spikes = _threshold(p, v, state.refrac)
    gs = jnp.where(spikes, gs + q.q_sfa, gs)
    gr = jnp.where(spikes, gr + q.q_rr, gr)
    return SfaRrState(v, ge + arrive_exc, gi + arrive_inh, gs, gr, refrac, h), spikes
