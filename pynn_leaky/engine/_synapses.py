"""Static synapses with exact per-synapse delays: CSR table plus a delay ring buffer.

The ring buffer holds, for each of the next ``L`` steps, the summed weight arriving at
each target (``target = receptor * n_cells + cell``). A spike emitted at step k through
a synapse of ``d`` steps adds its weight to slot ``(k + d) % L``; slot ``k % L`` is read
when step k is reached and cleared one step later. ``L = max_delay_steps + 1`` keeps
the slot being read distinct from every slot being written.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

_BLOCK = 64  # cells per block when looking for the spiking cells


class SynapseTable(NamedTuple):
    """Synapses sorted by presynaptic (global spiking) index."""

    row_ptr: jax.Array  # (n_pre + 1,) int32, synapses of pre i are row_ptr[i]:row_ptr[i+1]
    target: jax.Array  # (S,) int32 flat target index into one ring-buffer slot
    delay: jax.Array  # (S,) int32 delay in steps, 1 <= delay < L
    weight: jax.Array  # (S,) nA (signed: inhibitory weights are negative)


class SynapseLayout(NamedTuple):
    """Static sizes of the synaptic machinery (hashable, part of the compile key)."""

    n_pre: int
    n_target: int
    n_syn: int
    ring: int  # L
    max_fanout: int
    mode: str  # "event" (work ~ spikes x fan-out) or "dense" (all synapses, differentiable)


def read_slot(buffer, k, layout: SynapseLayout):
    """Arrivals at step k, shape (n_target,). The slot is cleared by :func:`clear_slot`."""
    start = (k % layout.ring) * layout.n_target
    return lax.dynamic_slice(buffer, (start,), (layout.n_target,))


def clear_slot(buffer, k, layout: SynapseLayout):
    """Zero the slot of step k (read during the previous step).

    Within one step all writes to the buffer (this clear, then :func:`deliver`) come
    before the read: XLA then updates the buffer in place instead of copying it.
    """
    start = (k % layout.ring) * layout.n_target
    return lax.dynamic_update_slice(buffer, jnp.zeros((layout.n_target,), buffer.dtype), (start,))


def presynaptic(table: SynapseTable, layout: SynapseLayout):
    """The presynaptic index of each synapse (its CSR row); computed once per chunk."""
    return jnp.searchsorted(table.row_ptr, jnp.arange(layout.n_syn), side="right") - 1


def deliver(table: SynapseTable, buffer, counts, k, layout: SynapseLayout, pre=None):
    """Add the spikes emitted at step k (``counts``, (n_pre,) int) to the ring buffer.

    Dense mode needs ``pre``, the result of :func:`presynaptic`.
    """
    if layout.n_syn == 0:
        return buffer
    if layout.mode == "dense":
        w = table.weight * counts[pre].astype(table.weight.dtype)
        slot = (k + table.delay) % layout.ring
        return buffer.at[slot * layout.n_target + table.target].add(w)

    # Event-driven: visit the spiking cells one by one, found with a two-level argmax
    # (blocks of 64 cells, then the cell within the block): O(n_pre / 64 + 64) per spike,
    # where compacting the indices with jnp.nonzero costs a prefix sum over all n_pre.
    bs, fmax = _BLOCK, layout.max_fanout
    nb = -(-layout.n_pre // bs)
    pending = jnp.pad(counts, (0, nb * bs - layout.n_pre)).reshape(nb, bs)
    per_block = jnp.count_nonzero(pending, axis=1)
    lane = jnp.arange(fmax)

    def one_spike(carry):
        i, pending, per_block, buf = carry
        b = jnp.argmax(per_block > 0)
        j = jnp.argmax(pending[b] > 0)
        pre = b * bs + j
        first = table.row_ptr[pre]
        valid = lane < table.row_ptr[pre + 1] - first
        syn = jnp.where(valid, first + lane, 0)
        w = jnp.where(valid, table.weight[syn] * pending[b, j].astype(buf.dtype), 0.0)
        slot = (k + table.delay[syn]) % layout.ring
        buf = buf.at[slot * layout.n_target + table.target[syn]].add(w)
        return i + 1, pending.at[b, j].set(0), per_block.at[b].add(-1), buf

    n_spiking = per_block.sum()
    return lax.while_loop(
        lambda c: c[0] < n_spiking, one_spike, (0, pending, per_block, buffer)
    )[3]
