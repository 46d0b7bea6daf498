"""Hodgkin-Huxley neuron of Traub and Miles with exponential conductance synapses (PyNN's
HH_cond_exp, NEST's hh_cond_exp_traub).

.. math::

    c_m \\frac{dv}{dt} = -\\bar g_{Na} m^3 h (v - E_{Na}) - \\bar g_K n^4 (v - E_K)
        - g_{leak} (v - E_{leak}) - g_E (v - E_E) - g_I (v - E_I) + i_{offset} + I_{inj}

    \\frac{dx}{dt} = \\alpha_x(u) - (\\alpha_x(u) + \\beta_x(u))\\, x \\quad (x = m, h, n),
    \\qquad u = v - v_{offset}

    \\alpha_n = \\frac{0.032 (15 - u)}{e^{(15 - u)/5} - 1},\\;
    \\beta_n = 0.5 e^{(10 - u)/40},\\;
    \\alpha_m = \\frac{0.32 (13 - u)}{e^{(13 - u)/4} - 1},\\;
    \\beta_m = \\frac{0.28 (u - 40)}{e^{(u - 40)/5} - 1},\\;
    \\alpha_h = 0.128 e^{(17 - u)/18},\\;
    \\beta_h = \\frac{4}{1 + e^{(40 - u)/5}}

    \\frac{dg_X}{dt} = -\\frac{g_X}{\\tau_{syn,X}}, \\qquad g_X \\mathrel{+}= w

Units: mV, ms, nF, nA, uS (conductances and weights); m, h, n dimensionless.

As NEST: GSL's adaptive RKF45 (absolute tolerance 1e-3 on v, m, h, n and 1e-3 nS on the
synaptic conductances, :mod:`._gsl`); after the integration the arriving spikes are added
to the conductances, and a cell that is not refractory spikes when v >= v_offset + 30 mV
and v has started to fall (v at the start of the step was higher): a spike carries the
time of the end of the step and starts ``refrac`` steps (NEST's t_ref, 2 ms) during
which no further spike is detected. v is never reset.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _gsl


class HHParams(NamedTuple):
    gbar_Na: jax.Array  # (n,) uS
    gbar_K: jax.Array  # (n,) uS
    g_leak: jax.Array  # (n,) uS
    cm: jax.Array  # (n,) nF
    v_offset: jax.Array  # (n,) mV, NEST V_T
    e_rev_Na: jax.Array  # (n,) mV
    e_rev_K: jax.Array  # (n,) mV
    e_rev_leak: jax.Array  # (n,) mV
    e_rev_E: jax.Array  # (n,) mV
    e_rev_I: jax.Array  # (n,) mV
    tau_syn_E: jax.Array  # (n,) ms
    tau_syn_I: jax.Array  # (n,) ms
    i_offset: jax.Array  # (n,) nA
    refrac: jax.Array  # (n,) int32 steps without spike detection after a spike


class HHState(NamedTuple):
    v: jax.Array  # (n,) mV
    m: jax.Array  # (n,) Na activation
    h: jax.Array  # (n,) Na inactivation
    n: jax.Array  # (n,) K activation
    gsyn_exc: jax.Array  # (n,) uS
    gsyn_inh: jax.Array  # (n,) uS
    refrac: jax.Array  # (n,) int32 refractory steps left
    h_ode: jax.Array  # (n,) ms, adaptive integration step (0: not started)


RECORDABLE = ("v", "gsyn_exc", "gsyn_inh", "m", "h", "n")

# NEST: gsl_odeiv_control_y_new(1e-3, 0) on (V_m, m, h, n, g_ex [nS], g_in [nS]).
_CONTROL = _gsl.y_control((1e-3, 1e-3, 1e-3, 1e-3, 1e-6, 1e-6), 0.0)
SPIKE_HEIGHT = 30.0  # mV above v_offset (NEST V_T + 30)


def prepare(params: HHParams, dt, method: str):
    return params, jnp.asarray(dt, params.cm.dtype)


def init(n: int, dtype) -> HHState:
    zeros = jnp.zeros((n,), dtype)
    return HHState(zeros, zeros, zeros, zeros, zeros, zeros, jnp.zeros((n,), jnp.int32),
                   zeros)


def step(prepared, state: HHState, i_inj, arrive_exc, arrive_inh, key, method, has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    p, dt = prepared

    def f(y, aux):
        v, m, h, n, ge, gi = y
        # the operation order of NEST's hh_cond_exp_traub_dynamics
        i_na = p.gbar_Na * m * m * m * h * (v - p.e_rev_Na)
        i_k = p.gbar_K * n * n * n * n * (v - p.e_rev_K)
        i_l = p.g_leak * (v - p.e_rev_leak)
        i_exc = ge * (v - p.e_rev_E)
        i_inh = gi * (v - p.e_rev_I)
        dv = (-i_na - i_k - i_l - i_exc - i_inh + i_inj + p.i_offset) / p.cm
        u = v - p.v_offset
        alpha_n = 0.032 * (15.0 - u) / (jnp.exp((15.0 - u) / 5.0) - 1.0)
        beta_n = 0.5 * jnp.exp((10.0 - u) / 40.0)
        alpha_m = 0.32 * (13.0 - u) / (jnp.exp((13.0 - u) / 4.0) - 1.0)
        beta_m = 0.28 * (u - 40.0) / (jnp.exp((u - 40.0) / 5.0) - 1.0)
        alpha_h = 0.128 * jnp.exp((17.0 - u) / 18.0)
        beta_h = 4.0 / (1.0 + jnp.exp((40.0 - u) / 5.0))
        return (
            dv,
            alpha_m - (alpha_m + beta_m) * m,
            alpha_h - (alpha_h + beta_h) * h,
            alpha_n - (alpha_n + beta_n) * n,
            -ge / p.tau_syn_E,
            -gi / p.tau_syn_I,
        )

    y0 = (state.v, state.m, state.h, state.n, state.gsyn_exc, state.gsyn_inh)
    h_ode = _gsl.start_step(state.h_ode, dt)
    (v, m, h, n, ge, gi), h_ode, _ = _gsl.evolve(f, y0, h_ode, dt, _CONTROL)
    refractory = state.refrac > 0
    spikes = ~refractory & (v >= p.v_offset + SPIKE_HEIGHT) & (state.v > v)
    refrac = jnp.where(refractory, state.refrac - 1, jnp.where(spikes, p.refrac, 0))
    return HHState(v, m, h, n, ge + arrive_exc, gi + arrive_inh, refrac, h_ode), spikes
