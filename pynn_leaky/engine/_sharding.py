"""Spreading a network over several devices with ``jax.sharding`` (no message layer).

Per-cell arrays (cell states and parameters) and per-synapse arrays are split along a
one-dimensional mesh axis ``"cells"``; everything else is replicated. The step function
is unchanged: XLA's SPMD partitioner divides the work and inserts the collectives.
An array whose length is not a multiple of the number of devices stays replicated
(correct, only less spread out).
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "cells"


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
        synapses=params.synapses._replace(row_ptr=False, offset=True, weight=True),
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
