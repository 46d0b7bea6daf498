"""Gradients through a simulation: the network as a pure function of weights and parameters.

``f = sim.differentiable(duration)`` captures the network built so far (from the current
state) and returns a function ``f(weights=None, parameters=None)`` that runs ``duration``
ms and returns the recorded traces ``{population: {variable: array (n_steps, n_cells)}}``.
It is a pure JAX function: ``jax.grad``, ``jax.jit`` and ``jax.vmap`` apply.

- ``weights``: ``{projection: array (len(projection),)}`` in the order of
  ``projection.get("weight", format="list")``; projections not given keep their weights.
- ``parameters``: ``{population: {name: value}}`` for LeakyIntegrator populations (names:
  V_rest, R, tau, tau_syn_E, tau_syn_I, i_offset, noise; scalar or per-cell).

Synaptic delivery is dense (every synapse every step) so that the loop has no
data-dependent trip count; spike thresholds are not differentiable (their gradient is 0),
so gradients flow through the LeakyIntegrator dynamics and the weights onto them.
"""

import jax.numpy as jnp
import numpy as np
from pyNN import errors

from . import _build, engine, simulator
from .standardmodels.cells import LeakyIntegrator


def differentiable(duration):
    state = simulator.state
    if not state.initialized:
        raise RuntimeError("pynn_leaky: call setup() before differentiable()")
    if state.emulated:
        raise NotImplementedError(
            "pynn_leaky: differentiable() is not available in an emulated partition "
            f"(num_processes = {state.num_processes}, rank = {state.mpi_rank}); use run()")
    net = _build.current(state)
    if net.plastic_layout is not None:
        raise NotImplementedError(
            "differentiable(): the network has plastic synapses (STDP, Tsodyks-Markram or "
            "stochastic), whose event-driven updates have no gradient; use StaticSynapse")
    layout = net.layout._replace(synapses=net.layout.synapses._replace(mode="dense"),
                                 interval=1)
    n_steps = int(np.rint(duration / state.dt))
    k0, start_state, base = state.step, state.engine_state, net.params
    projections = [p for p in state.projections if len(p) > 0]
    order = jnp.asarray(net.synapse_order(state))
    group_of = {}
    for gi, members in enumerate(net.members.values()):
        offset = 0
        for p in members:
            group_of[id(p)] = (gi, offset)
            offset += p.size
    outputs = [(r.population, name, cols, field) for r, name, cols, _, field in net.rec_map
               if name != "spikes"]

    def run(weights=None, parameters=None):
        params = base
        if weights:
            unknown = [p for p in weights if p not in projections]
            if unknown:
                raise errors.InvalidParameterValueError(
                    f"weights given for {unknown[0]!r}, which is not a projection of this network")
            flat = jnp.concatenate([
                jnp.asarray(weights.get(p, p._weight), base.synapses.weight.dtype).reshape(-1)
                for p in projections
            ])
            params = params._replace(synapses=params.synapses._replace(weight=flat[order]))
        groups = list(params.groups)
        for pop, values in (parameters or {}).items():
            if not isinstance(pop.celltype, LeakyIntegrator):
                raise errors.InvalidParameterValueError(
                    f"parameters of {pop.label!r} ({type(pop.celltype).__name__}): gradients "
                    "are available for LeakyIntegrator parameters only")
            gi, offset = group_of[id(pop)]
            for name, value in values.items():
                if name not in groups[gi]._fields:
                    raise errors.NonExistentParameterError(
                        name, "LeakyIntegrator", list(groups[gi]._fields))
                leaf = getattr(groups[gi], name)  # one value if uniform in the group
                leaf = jnp.broadcast_to(leaf, (net.layout.groups[gi].n,) + leaf.shape[1:])
                new = leaf.at[offset:offset + pop.size].set(
                    jnp.broadcast_to(jnp.asarray(value, leaf.dtype), (pop.size,)))
                groups[gi] = groups[gi]._replace(**{name: new})
        params = params._replace(groups=tuple(groups))
        _, outs = engine.simulate(layout, params, start_state, k0, n_steps)
        traces = {}
        for pop, name, cols, field in outputs:
            traces.setdefault(pop, {})[name] = getattr(outs, field)[:, cols]
        return traces

    return run


__all__ = ["differentiable"]
