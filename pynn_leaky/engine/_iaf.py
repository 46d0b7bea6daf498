"""Integrate-and-fire with exponential synaptic currents (PyNN's IF_curr_exp, NEST's
iaf_psc_exp): the leaky integrator below threshold, plus threshold, reset and an
absolute refractory period.

.. math::

    \\tau_m \\frac{dv}{dt} = -(v - v_{rest}) + R\\,I, \\qquad R = \\tau_m / c_m

When v reaches ``v_thresh`` at the end of a step the cell spikes (the spike carries
that step's time), v is set to ``v_reset`` and held there for ``refrac`` steps, during
which the synaptic currents go on decaying and summing input (as in NEST).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _leaky


class IafParams(NamedTuple):
    leaky: _leaky.LeakyParams  # V_rest = v_rest, R = tau_m / cm, tau = tau_m, ...
    v_thresh: jax.Array  # (n,) mV
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 refractory period in steps


class IafState(NamedTuple):
    v: jax.Array  # (n,) mV
    isyn_exc: jax.Array  # (n,) nA
    isyn_inh: jax.Array  # (n,) nA
    refrac: jax.Array  # (n,) int32 refractory steps left


def prepare(params: IafParams, dt, method: str):
    return params, _leaky.prepare(params.leaky, dt, method)


def init(n: int, dtype) -> IafState:
    base = _leaky.init(n, dtype)
    return IafState(*base, refrac=jnp.zeros((n,), jnp.int32))


def step(prepared, state: IafState, i_inj, arrive_exc, arrive_inh, key, method, has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    params, prop = prepared
    sub = _leaky.step(
        prop, _leaky.LeakyState(state.v, state.isyn_exc, state.isyn_inh),
        i_inj, arrive_exc, arrive_inh, key, method, has_noise,
    )
    refractory = state.refrac > 0
    v = jnp.where(refractory, state.v, sub.v)
    spikes = (v >= params.v_thresh) & ~refractory
    refrac = jnp.where(refractory, state.refrac - 1, 0)
    return (
        IafState(
            v=jnp.where(spikes, params.v_reset, v),
            isyn_exc=sub.isyn_exc,
            isyn_inh=sub.isyn_inh,
            refrac=jnp.where(spikes, params.refrac, refrac),
        ),
        spikes,
    )
