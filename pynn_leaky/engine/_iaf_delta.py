"""Integrate-and-fire with delta synapses (PyNN's IF_curr_delta, NEST's iaf_psc_delta).

.. math::

    \\tau_m \\frac{dv}{dt} = -(v - v_{rest}) + \\frac{\\tau_m}{c_m} I, \\qquad
    v \\leftarrow v + w \\text{ for each arriving spike of weight } w \\text{ (mV)}

Each step is NEST's iaf_psc_delta::update, in NEST's units and operation order (currents
in pA, capacitance in pF, v relative to v_rest):

.. math::

    y_{k+1} = P_{30} (I_k + I_e) + P_{33} y_k + \\sum w, \\qquad
    P_{33} = e^{-h/\\tau_m}, \\quad P_{30} = \\frac{1}{C} (1 - P_{33}) \\tau_m

with I_k the injected current held over the step. If y reaches the threshold at the end
of the step the cell spikes (the spike carries that step's time), v is set to v_reset and
held there for ``refrac`` steps. Spikes arriving while the cell is refractory are
discarded (NEST's default, ``refractory_input = False``).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class IafDeltaParams(NamedTuple):
    v_rest: jax.Array  # (n,) mV (NEST's E_L)
    c_m: jax.Array  # (n,) pF = 1000 cm
    tau_m: jax.Array  # (n,) ms
    i_e: jax.Array  # (n,) pA = 1000 i_offset
    v_thresh: jax.Array  # (n,) mV
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 refractory period in steps


class IafDeltaState(NamedTuple):
    v: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 refractory steps left


RECORDABLE = ("v",)


class _Prepared(NamedTuple):
    params: IafDeltaParams
    p33: jax.Array  # (n,)
    p30: jax.Array  # (n,) mV/pA
    theta: jax.Array  # (n,) threshold relative to v_rest, mV
    reset: jax.Array  # (n,) reset relative to v_rest, mV


def prepare(params: IafDeltaParams, dt, method: str):
    p33 = jnp.exp(-dt / params.tau_m)
    return _Prepared(
        params=params,
        p33=p33,
        p30=1.0 / params.c_m * (1.0 - p33) * params.tau_m,
        theta=params.v_thresh - params.v_rest,
        reset=params.v_reset - params.v_rest,
    )


def init(n: int, dtype) -> IafDeltaState:
    return IafDeltaState(jnp.zeros((n,), dtype), jnp.zeros((n,), jnp.int32))


def step(prepared: _Prepared, state: IafDeltaState, i_inj, arrive_exc, arrive_inh, key,
         method, has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    p = prepared
    y = state.v - p.params.v_rest
    refractory = state.refrac > 0
    # Input arriving during the refractory period is lost, as on NEST.
    integrated = p.p30 * (1000.0 * i_inj + p.params.i_e) + p.p33 * y + (arrive_exc + arrive_inh)
    y = jnp.where(refractory, y, integrated)
    spikes = y >= p.theta
    refrac = jnp.where(refractory, state.refrac - 1, 0)
    y = jnp.where(spikes, p.reset, y)
    return (
        IafDeltaState(
            v=jnp.where(refractory & ~spikes, state.v, y + p.params.v_rest),
            refrac=jnp.where(spikes, p.params.refrac, refrac),
        ),
        spikes,
    )
