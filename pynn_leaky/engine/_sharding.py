"""Spreading a network, or batched trials, over several devices with ``jax.sharding``
(no message layer).

One network: per-cell arrays (cell states and parameters) and per-synapse arrays are
split along a one-dimensional mesh axis ``"cells"``; everything else is replicated. The
step function is unchanged: XLA's SPMD partitioner divides the work and inserts the
collectives. An array whose length is not a multiple of the number of devices stays
replicated (correct, only less spread out).

Batched trials: the trial axis is split along a mesh axis ``"trials"`` and each device
runs its share of the trials with a replicated copy of the network (``shard_map``: no
collectives at all). On a CPU presented as several devices (``jax_num_cpu_devices``),
each device runs on a core of its own.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "cells"
TRIALS = "trials"


def mesh(devices) -> Mesh:
    return Mesh(np.asarray(devices), (AXIS,))


def _place(x, m: Mesh, split: bool):
    n = m.devices.size
    if split and x.ndim >= 1 and x.shape[0] % n == 0 and x.shape[0] > 0:
        spec = PartitionSpec(AXIS)
    else:
        spec = PartitionSpec()
    return jax.device_put(x, NamedSharding(m, spec))


def shard_params(params, m: Mesh):
    """Place a Params pytree: group parameters and synapse arrays split, the rest replicated."""
    flags = jax.tree.map(lambda _: False, params)._replace(
        groups=jax.tree.map(lambda _: True, params.groups),
        synapses=params.synapses._replace(row_ptr=False, offset=True,
                                           weight=params.synapses.weight.ndim == 1),
    )
    if params.plastic is not None:  # per-synapse and per-cell arrays split, CSR pointers not
        flags = flags._replace(
            plastic=jax.tree.map(lambda _: True, params.plastic)._replace(row_ptr=False))
    return jax.tree.map(lambda x, f: _place(x, m, f), params, flags)


def shard_state(state, m: Mesh):
    """Place a State pytree: cell states and plastic synapse variables split, ring buffer
    and pending spikes replicated."""
    flags = jax.tree.map(lambda _: False, state)._replace(
        groups=jax.tree.map(lambda _: True, state.groups)
    )
    if state.plastic is not None:
        flags = flags._replace(plastic=jax.tree.map(lambda _: True, state.plastic))
    return jax.tree.map(lambda x, f: _place(x, m, f), state, flags)


def trials_mesh(devices) -> Mesh:
    return Mesh(np.asarray(devices), (TRIALS,))


def trial_specs(flags):
    """PartitionSpecs for a pytree of booleans: True (a leading trial axis) -> split along
    ``"trials"``, False -> replicated."""
    return jax.tree.map(lambda f: PartitionSpec(TRIALS) if f else PartitionSpec(), flags)


def place_trials(tree, flags, m: Mesh):
    """Place ``tree`` on the trials mesh ``m`` (leaves with a trial axis split, the rest
    replicated) in one batched transfer, so that the chunks of a run reuse the placement."""
    return jax.device_put(tree, jax.tree.map(lambda spec: NamedSharding(m, spec),
                                             trial_specs(flags)))
