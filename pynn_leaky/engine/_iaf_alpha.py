"""Integrate-and-fire with alpha-shaped synaptic currents (PyNN's IF_curr_alpha, NEST's
iaf_psc_alpha), integrated with exact propagators.

.. math::

    c_m \\frac{dv}{dt} = -\\frac{c_m}{\\tau_m}(v - v_{rest}) + I_{syn,E} + I_{syn,I}
        + i_{offset} + I_{inj}

    \\frac{dI_X}{dt} = D_X - \\frac{I_X}{\\tau_{syn,X}}, \\qquad
    \\frac{dD_X}{dt} = -\\frac{D_X}{\\tau_{syn,X}}, \\qquad
    D_X \\mathrel{+}= \\frac{e}{\\tau_{syn,X}}\\, w \\text{ on each arriving spike}

so that one spike of weight w (nA) gives the current
:math:`w\\,(t/\\tau_{syn})\\,e^{1 - t/\\tau_{syn}}`, which peaks at w at t = tau_syn.
Units: mV, ms, nA, nF; ``disyn_X`` (the state D_X) in nA/ms.

Each step follows NEST's iaf_psc_alpha::update: v advances with the propagators
(unless refractory: then the refractory count goes down and v stays at v_reset), the
synaptic currents advance, the arriving spikes are added to D_X, and the threshold is
checked (the spike carries the time of the end of the step; v is set to v_reset and
held for ``refrac`` steps while the synaptic currents keep integrating).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class IafAlphaParams(NamedTuple):
    v_rest: jax.Array  # (n,) mV
    cm: jax.Array  # (n,) nF
    tau_m: jax.Array  # (n,) ms
    tau_syn_E: jax.Array  # (n,) ms
    tau_syn_I: jax.Array  # (n,) ms
    i_offset: jax.Array  # (n,) nA
    v_thresh: jax.Array  # (n,) mV
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 refractory period in steps


class IafAlphaState(NamedTuple):
    v: jax.Array  # (n,) mV
    isyn_exc: jax.Array  # (n,) nA
    isyn_inh: jax.Array  # (n,) nA
    disyn_exc: jax.Array  # (n,) nA/ms
    disyn_inh: jax.Array  # (n,) nA/ms
    refrac: jax.Array  # (n,) int32 refractory steps left


RECORDABLE = ("v", "isyn_exc", "isyn_inh")


class _Synapse(NamedTuple):
    """Propagators of one alpha-shaped synaptic current over one step."""

    p_dd: jax.Array  # (n,) decay of D over the step (NEST P11 = P22)
    p_id: jax.Array  # (n,) ms, response of I to D (NEST P21)
    p_vd: jax.Array  # (n,) mV per nA/ms, response of v to D (NEST P31)
    p_vi: jax.Array  # (n,) mV/nA, response of v to I (NEST P32)
    psc: jax.Array  # (n,) 1/ms, e / tau_syn: D jump per unit weight


class Propagators(NamedTuple):
    params: IafAlphaParams
    p_vv: jax.Array  # (n,) decay of v - v_rest
    p_vc: jax.Array  # (n,) MOhm, response of v to a current held over the step (NEST P30)
    exc: _Synapse
    inh: _Synapse


def _g(x):
    """``(1 - exp(-x) (1 + x)) / x**2``, continuous at x = 0 (where it is 1/2)."""
    small = jnp.abs(x) < 0.5
    # Series sum_k (-1)^k (k + 1) x^k / (k + 2)!: 16 terms leave < 1e-20 for |x| < 0.5.
    series, term = jnp.zeros_like(x), jnp.ones_like(x) * 0.5
    for k in range(16):
        series = series + term
        term = -term * x * (k + 2) / ((k + 1) * (k + 3))
    safe = jnp.where(small, 1.0, x)
    direct = (-jnp.expm1(-safe) - safe * jnp.exp(-safe)) / (safe * safe)
    return jnp.where(small, series, direct)


def _relative_expm1(x):
    """``(1 - exp(-x)) / x``, continuous at x = 0 (where it is 1)."""
    small = jnp.abs(x) < 1e-6
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - 0.5 * x + x * x / 6.0, -jnp.expm1(-safe) / safe)


def _synapse(p: IafAlphaParams, dt, tau_syn):
    # v(h) responses to I(s) = (I0 + D0 s) exp(-s / tau_syn):
    #   from I0: (1/cm) exp(-h/tau_m) int_0^h exp(-c s) ds   = (h/cm) exp(-h/tau_m) r(ch)
    #   from D0: (1/cm) exp(-h/tau_m) int_0^h s exp(-c s) ds = (h^2/cm) exp(-h/tau_m) g(ch)
    # with c = 1/tau_syn - 1/tau_m; both are regular at tau_syn == tau_m.
    decay_m = jnp.exp(-dt / p.tau_m)
    x = dt * (1.0 / tau_syn - 1.0 / p.tau_m)
    p_dd = jnp.exp(-dt / tau_syn)
    return _Synapse(
        p_dd=p_dd,
        p_id=dt * p_dd,
        p_vd=dt * dt / p.cm * decay_m * _g(x),
        p_vi=dt / p.cm * decay_m * _relative_expm1(x),
        psc=jnp.e / tau_syn,
    )


def prepare(params: IafAlphaParams, dt, method: str) -> Propagators:
    """Step coefficients, computed once per chunk."""
    dt = jnp.asarray(dt, params.tau_m.dtype)
    return Propagators(
        params=params,
        p_vv=jnp.exp(-dt / params.tau_m),
        p_vc=-params.tau_m / params.cm * jnp.expm1(-dt / params.tau_m),
        exc=_synapse(params, dt, params.tau_syn_E),
        inh=_synapse(params, dt, params.tau_syn_I),
    )


def init(n: int, dtype) -> IafAlphaState:
    zeros = jnp.zeros((n,), dtype)
    return IafAlphaState(zeros, zeros, zeros, zeros, zeros, jnp.zeros((n,), jnp.int32))


def _advance(s: _Synapse, i, d, arriving):
    return s.p_id * d + s.p_dd * i, d * s.p_dd + s.psc * arriving


def step(prop: Propagators, state: IafAlphaState, i_inj, arrive_exc, arrive_inh, key, method,
         has_noise):
    """Advance one step; return (state, spikes (n,) bool). ``key``/``has_noise`` unused."""
    p = prop.params
    free = (
        p.v_rest
        + (state.v - p.v_rest) * prop.p_vv
        + prop.p_vc * (p.i_offset + i_inj)
        + prop.exc.p_vd * state.disyn_exc
        + prop.exc.p_vi * state.isyn_exc
        + prop.inh.p_vd * state.disyn_inh
        + prop.inh.p_vi * state.isyn_inh
    )
    refractory = state.refrac > 0
    v = jnp.where(refractory, state.v, free)
    ie, de = _advance(prop.exc, state.isyn_exc, state.disyn_exc, arrive_exc)
    ii, di = _advance(prop.inh, state.isyn_inh, state.disyn_inh, arrive_inh)
    spikes = (v >= p.v_thresh) & ~refractory
    refrac = jnp.where(refractory, state.refrac - 1, 0)
    return (
        IafAlphaState(
            v=jnp.where(spikes, p.v_reset, v),
            isyn_exc=ie,
            isyn_inh=ii,
            disyn_exc=de,
            disyn_inh=di,
            refrac=jnp.where(spikes, p.refrac, refrac),
        ),
        spikes,
    )
