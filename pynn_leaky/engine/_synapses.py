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

    def scatter(buf, pre, cnt, valid, syn):
        w = jnp.where(valid, table.weight[syn] * cnt[:, None].astype(buf.dtype), 0.0)
        slot = (k + table.delay[syn]) % layout.ring
        return buf.at[(slot * layout.n_target + table.target[syn]).ravel()].add(w.ravel())

    return spiking_batches(counts, table.row_ptr, layout.n_pre, layout.max_fanout, scatter,
                           buffer)


def spiking_batches(counts, row_ptr, n_pre, max_fanout, fn, carry):
    """Event-driven iteration over the synapses of the cells with ``counts > 0``.

    Calls ``carry = fn(carry, pre, cnt, valid, syn)`` for batches of K spiking cells:
    ``pre``/``cnt`` (K,) their indices and counts, ``syn`` (K, max_fanout) the synapse
    indices of their CSR rows (``row_ptr``) and ``valid`` which of those are real.

    The spiking cells are found with a two-level argmax (blocks of 64 cells, then the
    cell within its block): O(n_pre / 64 + 64) per spike, where jnp.nonzero would cost a
    prefix sum over all n_pre every step. The first batch is unconditional, so the
    common step (at most K spikes) carries no big array through a loop.
    """
    bs, fmax = _BLOCK, max_fanout
    K = max(1, min(8, 4096 // max(fmax, 1)))
    nb = -(-n_pre // bs)
    pending = jnp.pad(counts, (0, nb * bs - n_pre)).reshape(nb, bs)
    per_block = jnp.count_nonzero(pending, axis=1).astype(jnp.int32)
    n_spiking = per_block.sum()
    lane = jnp.arange(fmax)

    def take(c):
        i, pending, per_block, pre, cnt = c
        b = jnp.argmax(per_block > 0)
        j = jnp.argmax(pending[b] > 0)
        return (i + 1, pending.at[b, j].set(0), per_block.at[b].add(-1),
                pre.at[i].set((b * bs + j).astype(jnp.int32)), cnt.at[i].set(pending[b, j]))

    def batch(pending, per_block, carry, n_take):
        _, pending, per_block, pre, cnt = lax.while_loop(
            lambda c: c[0] < n_take, take,
            (0, pending, per_block, jnp.zeros(K, jnp.int32), jnp.zeros(K, counts.dtype)),
        )
        first = row_ptr[pre]
        valid = (jnp.arange(K) < n_take)[:, None] & (
            lane[None, :] < (row_ptr[pre + 1] - first)[:, None])
        syn = jnp.where(valid, first[:, None] + lane[None, :], 0)
        return pending, per_block, fn(carry, pre, cnt, valid, syn)

    first_take = jnp.minimum(n_spiking, K)
    pending, per_block, carry = batch(pending, per_block, carry, first_take)

    def more(c):
        done, pending, per_block, carry = c
        n_take = jnp.minimum(n_spiking - done, K)
        pending, per_block, carry = batch(pending, per_block, carry, n_take)
        return done + n_take, pending, per_block, carry

    return lax.while_loop(
        lambda c: c[0] < n_spiking, more, (first_take, pending, per_block, carry)
    )[3]
