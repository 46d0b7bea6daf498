"""Izhikevich's quadratic model (PyNN's Izhikevich, NEST's izhikevich).

.. math::

    \\frac{dv}{dt} = 0.04 v^2 + 5 v + 140 - u + I, \\qquad
    \\frac{du}{dt} = a (b v - u)

with v in mV, u in mV/ms, t in ms, and I = 1000 (i_offset + I_inj) with currents in nA:
NEST (and so PyNN's NEST backend) adds the current in pA to dv/dt in mV/ms. Synaptic
input is a jump of v by the weight (mV; excitatory >= 0, inhibitory <= 0).

Each step is NEST's izhikevich::update (``consistent_integration``): one forward Euler
step from the state at the start of the step, plus the weights arriving at the end of
the step; then, if v >= 30 mV, a spike (carrying the time of the end of the step), v = c
and u += d. The model is defined by this update, so pynn_leaky repeats it exactly.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

V_PEAK = 30.0  # mV, NEST's V_th for izhikevich


class IzhikevichParams(NamedTuple):
    a: jax.Array  # (n,) 1/ms
    b: jax.Array  # (n,) 1/ms
    c: jax.Array  # (n,) mV, reset of v
    d: jax.Array  # (n,) mV/ms, jump of u at a spike
    i_e: jax.Array  # (n,) i_offset in NEST's units (pA, read as mV/ms): 1000 * i_offset


class IzhikevichState(NamedTuple):
    v: jax.Array  # (n,) mV
    u: jax.Array  # (n,) mV/ms


RECORDABLE = ("v", "u")


def prepare(params: IzhikevichParams, dt, method: str):
    return params, jnp.asarray(dt, params.a.dtype)


def init(n: int, dtype) -> IzhikevichState:
    zeros = jnp.zeros((n,), dtype)
    return IzhikevichState(zeros, zeros)


def step(prepared, state: IzhikevichState, i_inj, arrive_exc, arrive_inh, key, method,
         has_noise):
    """Advance one step; return (state, spikes (n,) bool)."""
    p, h = prepared
    v, u = state.v, state.u
    i_stim = 1000.0 * i_inj  # nA -> pA, as pyNN.nest scales current sources
    # the operation order of NEST's izhikevich::update
    v_new = h * (0.04 * v * v + 5.0 * v + 140.0 - u + i_stim + p.i_e) + (arrive_exc + arrive_inh)
    v_new = v + v_new
    u_new = u + h * p.a * (p.b * v - u)
    spikes = v_new >= V_PEAK
    return (
        IzhikevichState(
            v=jnp.where(spikes, p.c, v_new),
            u=jnp.where(spikes, u_new + p.d, u_new),
        ),
        spikes,
    )
