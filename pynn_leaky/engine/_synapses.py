"""Static synapses with exact per-synapse delays: CSR table plus a delay ring buffer.

The ring buffer holds, for each of the next ``L`` steps, the summed weight arriving at
each target (``target = receptor * n_cells + cell``). A spike emitted at step k through
a synapse of ``d`` steps adds its weight to slot ``(k + d) % L``; slot ``k % L`` is read
when step k is reached and cleared one step later. ``L = max_delay_steps + 1`` keeps
the slot being read distinct from every slot being written.

A spike needs to be in the ring only by the step before it arrives, so with a minimum
delay of ``D`` steps the spikes of ``D`` consecutive steps can be delivered together
(NEST's min-delay interval): :func:`deliver` takes a window of rows, row r holding the
spikes emitted at step ``k + r``.
"""

from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


class SynapseTable(NamedTuple):
    """Synapses sorted by presynaptic (global spiking) index.

    Each synapse's delay and target are kept as one number, its offset in the ring buffer
    ``delay * n_target + target``: the event delivery adds it to the emitting step's slot
    start as it is (:func:`_ring_index`; no per-chunk recomputation over all synapses, 12
    bytes per synapse in float64 instead of 16). Build one from targets and delays with
    :meth:`of`.
    """

    row_ptr: jax.Array  # (n_pre + 1,) int32, synapses of pre i are row_ptr[i]:row_ptr[i+1]
    offset: jax.Array  # (S,) int32 delay * n_target + target, 1 <= delay < L
    # (S,) nA (signed: inhibitory weights are negative); (1,): one weight for all; or
    # (n_pre, 1): one weight per presynaptic cell (row), for all its synapses
    weight: jax.Array

    @staticmethod
    def of(row_ptr, target, delay, weight, layout: "SynapseLayout", order=None, dtype=None):
        """The table of synapses given by (S,) ``target`` (flat index into one ring slot,
        ``0 <= target < layout.n_target``) and ``delay`` (steps, ``1 <= delay <
        layout.ring``), in CSR order (``row_ptr``), or in CSR order once permuted by
        ``order`` (table position i holds synapse ``order[i]``); NumPy or JAX arrays.
        ``weight`` is converted to ``dtype`` if given. Raises ValueError for a value out of
        these ranges or a ring too large for int32 (:func:`check_ring`).

        Built for 10^8 synapses: the offsets are formed in int32 before the one gather
        by ``order`` (:meth:`offsets`; without a gather, from offsets already in table
        order: :meth:`of_offsets`), and one weight shared by all synapses (NumPy values)
        is kept as one value, shape (1,) (W3 at 10^6 cells: 800 MB less, and no weight read
        per event); weights shared by each presynaptic cell's synapses (each projection's
        weight one value and its sources its own, as in W1 and W2) are kept as one per
        cell, shape (n_pre, 1) (W1: 8 MB less).
        """
        offset = SynapseTable.offsets(target, delay, layout, order)
        if order is not None:
            offset = offset[order]
            if isinstance(weight, jax.Array):  # possibly traced (jax.grad)
                weight = weight[jnp.asarray(order)]
            elif np.size(weight) > 1:
                weight = np.asarray(weight)[order]
        return SynapseTable.of_offsets(row_ptr, offset, weight, dtype)

    @staticmethod
    def offsets(target, delay, layout: "SynapseLayout", order=None, out=None):
        """(S,) int32 ring offsets ``delay * n_target + target`` of the synapses given by
        ``target`` and ``delay`` (as for :meth:`of`; one delay for all: shape (1,)), in
        their given order; a ValueError for a value out of range names the synapse's table
        position (``order`` as for :meth:`of`). ``out``: the array to write them to, which
        may be ``target`` itself."""
        check_ring(layout)
        target, delay = np.asarray(target), np.asarray(delay)
        for name, x, lo, hi in (("target", target, 0, layout.n_target),
                                ("delay", delay, 1, layout.ring)):
            if x.size and (x.min() < lo or x.max() >= hi):
                bad = (x < lo) | (x >= hi)
                i = int(np.flatnonzero(bad)[0])
                at = i if order is None else int(np.flatnonzero(np.asarray(order) == i)[0])
                raise ValueError(f"synapse {at}: {name} = {int(x[i])} is outside "
                                 f"{lo} .. {hi - 1}")
        # < ring * n_target <= RING_MAX: int32 throughout
        offset = np.multiply(delay, layout.n_target, dtype=np.int32, casting="unsafe")
        if out is None and offset.shape == target.shape:
            out = offset  # a delay per synapse: no second array
        return np.add(target, offset, out=out, dtype=np.int32, casting="unsafe")

    @staticmethod
    def of_offsets(row_ptr, offset, weight, dtype=None, given=False):
        """The table of synapses given by their ring offsets (:meth:`offsets`) and weights,
        both in table order (CSR by ``row_ptr``); a weight of one value stands for all.

        ``given``: the caller gives its NumPy ``offset`` and ``weight`` arrays to the
        table and never changes them afterwards; JAX may then use them in place instead of
        copying them (its CPU client does so for 64-byte aligned arrays)."""
        if isinstance(weight, jax.Array):  # possibly traced (jax.grad): kept a JAX value
            weight = jnp.asarray(weight, dtype)
        else:
            weight = np.asarray(weight)
            dtype = weight.dtype if dtype is None else dtype
            if weight.size and weight.min() == weight.max():
                weight = jnp.full((1,), weight.flat[0], dtype)
            else:
                weight = _host_to_jax(_per_row(weight, np.asarray(row_ptr)), dtype, given)
        return SynapseTable(row_ptr=jnp.asarray(row_ptr, jnp.int32),
                            offset=_host_to_jax(offset, np.int32, given), weight=weight)


def _host_to_jax(x, dtype, given):
    """The NumPy array ``x`` as a JAX array of ``dtype``: at most one copy (jnp.asarray
    made two at once: 10^8 synapses' offsets, 800 MB), none where ``x`` is given to the
    table and JAX can use it in place. Not given, ``x`` is copied first: JAX's CPU client
    (0.10) shares a 64-byte aligned host array even with ``may_alias=False``."""
    x = np.asarray(x, dtype)
    return jax.device_put(x if given else x.copy())


def _per_row(weight, row_ptr):
    """``weight`` (table order) as one value per CSR row, shape (n_pre, 1), if every row's
    synapses share one; else ``weight`` itself. One byte per synapse of work space."""
    n_pre = row_ptr.size - 1
    if weight.size < 2 or n_pre >= weight.size:
        return weight
    differs = weight[1:] != weight[:-1]
    if np.count_nonzero(differs) >= n_pre:  # more changes than row starts after the first
        return weight
    changes = np.flatnonzero(differs) + 1
    # each change must fall on a row start (both sorted; empty rows repeat a start)
    at = row_ptr[np.minimum(np.searchsorted(row_ptr, changes), n_pre)]
    if not (at == changes).all():
        return weight
    first = np.minimum(row_ptr[:-1], weight.size - 1)  # an empty row's value is never read
    return weight[first][:, None]


class SynapseLayout(NamedTuple):
    """Static sizes of the synaptic machinery (hashable, part of the compile key)."""

    n_pre: int
    n_target: int
    n_syn: int
    ring: int  # L
    max_fanout: int
    mode: str  # "event" (work ~ spikes x fan-out) or "dense" (all synapses, differentiable)
    min_delay: int = 1  # steps, the shortest delay of these synapses (1 if none)


RING_MAX = 2**30
"""Most values a ring buffer may hold (``ring * n_target``): slot starts plus offsets are
computed in int32, and stay below twice this."""


def check_ring(layout: SynapseLayout):
    """Raise ValueError if the ring buffer of ``layout`` is too large for int32 indices."""
    size = layout.ring * layout.n_target
    if size > RING_MAX:
        raise ValueError(
            f"the delay ring buffer would hold {size} values ({layout.ring} slots x "
            f"{layout.n_target} synaptic targets); at most {RING_MAX} are allowed: use fewer "
            "cells per simulation or a shorter maximum delay")


def _ring_index(slot_start, offset, size):
    """Index in the ring (``size`` values) of a synapse with ``offset`` (delay * n_target
    + target) for spikes of the step whose slot starts at ``slot_start``: the slot
    ``(k + delay) % ring`` without a division (``slot_start + offset < 2 * size``, as
    delay < ring)."""
    idx = slot_start + offset
    return jnp.where(idx >= size, idx - size, idx)


def read_slot(buffer, k, layout: SynapseLayout):
    """Arrivals at step k, shape (n_target,). The slot is cleared by :func:`clear_slot`."""
    return _slot_ops(layout.n_target, layout.mode)[0](buffer, (k % layout.ring) * layout.n_target)


def clear_slot(buffer, k, layout: SynapseLayout):
    """Zero the slot of step k (read during the previous step).

    Within one step all writes to the buffer (this clear, then :func:`deliver`) come
    before the read: XLA then updates the buffer in place instead of copying it.
    """
    return _slot_ops(layout.n_target, layout.mode)[1](buffer, (k % layout.ring) * layout.n_target)


def shared_index(plain, batched_form):
    """``plain(*arrays, index)`` wrapped so that under ``jax.vmap`` with an unbatched
    ``index`` (trials sharing the step) it becomes ``batched_form(*arrays, index)``, every
    array with a leading trial axis (broadcast where unbatched), instead of JAX's generic
    rule. That rule turns a dynamic slice update into a scatter, which XLA either cannot do
    in place (copying the whole buffer every step) or lowers to a guarded update with
    several scalar kernels of bounds checks per step. A batched index keeps the generic
    rule. Not differentiable: for the event-mode loop only."""
    f = jax.custom_batching.custom_vmap(plain)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        if in_batched[-1]:  # per-trial index: the generic rule
            axes = tuple(0 if b else None for b in in_batched)
            return jax.vmap(plain, in_axes=axes)(*args), True
        *arrays, index = args
        arrays = [a if b else jnp.broadcast_to(a, (axis_size,) + a.shape)
                  for a, b in zip(arrays, in_batched)]
        return batched_form(*arrays, jnp.asarray(index, jnp.int32)), True

    return f


@lru_cache(maxsize=64)
def _slot_ops(n: int, mode: str):
    """Read and clear one slot of ``n`` values at a flat offset.

    In event mode, under ``jax.vmap`` over trials sharing the step (batched buffer, one
    offset), both stay a plain slice of the (trials, L * n) buffer (:func:`shared_index`;
    the generic rule made the clear a scatter that copied the whole ring every step).
    Dense mode (differentiable) keeps the plain operations, which reverse-mode autodiff
    needs.
    """

    def plain_read(buffer, start):
        return lax.dynamic_slice(buffer, (start,), (n,))

    def plain_clear(buffer, start):
        return lax.dynamic_update_slice(buffer, jnp.zeros((n,), buffer.dtype), (start,))

    if mode == "dense":
        return plain_read, plain_clear
    read = shared_index(plain_read, lambda b, start: lax.dynamic_slice(
        b, (jnp.int32(0), start), (b.shape[0], n)))
    clear = shared_index(plain_clear, lambda b, start: lax.dynamic_update_slice(
        b, jnp.zeros((b.shape[0], n), b.dtype), (jnp.int32(0), start)))
    return read, clear


def presynaptic(table: SynapseTable, layout: SynapseLayout):
    """The presynaptic index of each synapse (its CSR row); computed once per chunk."""
    return jnp.searchsorted(table.row_ptr, jnp.arange(layout.n_syn), side="right") - 1


def prepare(table: SynapseTable, layout: SynapseLayout):
    """Per-chunk precomputation for :func:`deliver`: each synapse's presynaptic index
    (dense mode); None in event mode, which needs none."""
    if layout.mode == "dense":
        return presynaptic(table, layout)
    return None


def deliver(table: SynapseTable, buffer, counts, k, layout: SynapseLayout, prepared=None,
            batch=0):
    """Add the spikes emitted at step k (``counts``, (n_pre,) int) to the ring buffer.

    In event mode ``counts`` may also be a window (rows, n_pre): row r holds the spikes
    emitted at step ``k + r``, and every row must be due no earlier than the next read
    (``k + rows - 1 + min_delay >= `` the step read next). ``prepared`` is the result of
    :func:`prepare` (dense mode; computed here when not given). ``batch`` (static, event
    mode): spiking cells whose synapses are scattered together, 0 for
    :func:`spikes_per_batch`'s CPU choice.
    """
    if layout.n_syn == 0:
        return buffer
    if layout.mode == "dense":
        pre = presynaptic(table, layout) if prepared is None else prepared
        weight = table.weight[pre, 0] if table.weight.ndim == 2 else table.weight
        w = weight * counts[pre].astype(table.weight.dtype)
        idx = _ring_index((k % layout.ring) * layout.n_target, table.offset,
                          layout.ring * layout.n_target)
        return buffer.at[idx].add(w)

    return _event_delivery(layout, 1 if counts.ndim == 1 else counts.shape[0],
                           batch or spikes_per_batch(layout.max_fanout))(
        table, buffer, counts.reshape(-1), k)


GPU_LANES = 2**16
"""Synapses one delivery batch may span on a GPU (see :func:`spikes_per_batch`)."""

CPU_MAX_BATCH = 16
"""The most spiking cells a CPU's delivery batch takes (see :func:`spikes_per_batch`)."""


def spikes_per_batch(max_fanout: int, gpu=False) -> int:
    """Spiking cells whose synapses one delivery batch scatters together (K).

    CPU: few spikes per step are the common case and each lane of the (K, max_fanout)
    batch costs as much as a spike's synapse, so the batch is kept small: up to 4 spikes
    (at most 2048 lanes), or up to 16 while that stays within 512 lanes. A batch costs
    about 20 small kernels whatever its size, which small fan-outs felt: 16 batched
    trials of 20 (200) cells, fan-out at most 7 (31), 48 spikes per delivery window: 80 ->
    75 (117 -> 108) ms with K = 16 instead of 4.
    GPU: the lanes run in parallel, and the batches of one delivery run one after
    another, each as about 20 dependent kernels (W1, fan-out about 1100: K = 1 spent
    most of its 35 us per step on them). K then fills up to GPU_LANES lanes (at most
    256 spikes).
    """
    fmax = max(max_fanout, 1)
    k = max(1, min(4, 2048 // fmax), min(CPU_MAX_BATCH, 512 // fmax))
    return max(k, min(256, GPU_LANES // fmax)) if gpu else k


@lru_cache(maxsize=64)
def _event_delivery(layout: SynapseLayout, rows: int, K: int):
    """Event-driven delivery for ``layout``; under ``jax.vmap`` (batched trials sharing
    one synapse table) the trials are folded into one network of B copies, so that the
    work stays proportional to the spikes of all trials together (a vmapped loop over
    spikes would run as long as the busiest trial's and select over all buffers)."""

    @jax.custom_batching.custom_vmap
    def deliver(table, buffer, counts, k):
        return _deliver_events(table, buffer, counts, k, layout, 1, rows, K)

    @deliver.def_vmap
    def _batched(axis_size, in_batched, table, buffer, counts, k):
        table_b, buffer_b, counts_b, k_b = in_batched
        if any(jax.tree.leaves(table_b)) or k_b:
            axes = jax.tree.map(lambda b: 0 if b else None, (table_b, buffer_b, counts_b, k_b))
            plain = partial(_deliver_events, layout=layout, trials=1, rows=rows, K=K)
            return jax.vmap(plain, in_axes=axes)(table, buffer, counts, k), True
        if not buffer_b:
            buffer = jnp.broadcast_to(buffer, (axis_size,) + buffer.shape)
        if not counts_b:
            counts = jnp.broadcast_to(counts, (axis_size,) + counts.shape)
        # The buffer stays (trials, L * n_target): reshaping it to one flat array inside
        # the step loop would make XLA copy the whole ring every step.
        return _deliver_events(table, buffer, counts.reshape(-1), k, layout, axis_size,
                               rows, K), True

    return deliver


def _deliver_events(table, buffer, counts, k, layout, trials, rows, K):
    """Event-driven delivery into ``buffer`` (L * n_target, or (trials, L * n_target)) of
    ``counts`` (trials * rows * n_pre): ``trials`` copies of one network, side by side,
    each with ``rows`` steps of spikes (row r emitted at step k + r), K spiking cells per
    batch (:func:`spikes_per_batch`).

    The spiking cells are found without a loop over cells or spikes: one pass packs
    "count > 0" into 32-bit words, and the j-th spiking cell (in index order) is read off
    the words' prefix popcounts and a bit select. They are taken K at a time and their
    synapses scattered together; for a step's spikes, or batches wider than a CPU's, the
    first batch is unconditional, so the common case (at most K spikes) runs no loop.
    """
    fmax, size = layout.max_fanout, layout.ring * layout.n_target
    bits = _SpikeBits(counts)  # trials * rows * n_pre
    lane = jnp.arange(fmax, dtype=jnp.int32)
    per_trial = rows * layout.n_pre

    def slices(x, start):
        # A spike's synapses are contiguous: K slices of fmax instead of K * fmax gathers,
        # each slice a kernel of its own. Above 4 (fan-outs up to 32), one gather of the K
        # slices: XLA's gather copies element by element, which made W2 (K = 4, fan-out
        # about 100) 70 % slower, but spares K - 1 kernels.
        if K > 4:
            return jax.vmap(lambda s: lax.dynamic_slice(x, (s,), (fmax,)))(start)
        return jnp.stack([lax.dynamic_slice(x, (start[i],), (fmax,)) for i in range(K)])

    def batch(buf, first_slot):
        slot = first_slot + jnp.arange(K, dtype=jnp.int32)
        taken = slot < bits.total
        spiking = jnp.where(taken, bits.select(slot), 0)
        trial = spiking // per_trial
        if rows == 1:
            row, pre = 0, spiking - trial * per_trial
        else:
            row, pre = jnp.divmod(spiking - trial * per_trial, layout.n_pre)
        base = jnp.broadcast_to(((k + row) % layout.ring) * layout.n_target, (K,))
        first, last = table.row_ptr[pre], table.row_ptr[pre + 1]
        start = jnp.minimum(first, layout.n_syn - fmax)  # slices stay inside the table
        syn = start[:, None] + lane[None, :]
        valid = taken[:, None] & (syn >= first[:, None]) & (syn < last[:, None])
        if table.weight.ndim == 2:  # (n_pre, 1): one weight per presynaptic cell
            weight = table.weight[pre]
        elif table.weight.shape[0] == 1:  # one weight for all synapses
            weight = table.weight[0]
        else:
            weight = slices(table.weight, start)
        w = weight * counts[spiking][:, None].astype(buf.dtype)
        idx = _ring_index(base[:, None], slices(table.offset, start), size)
        idx = jnp.where(valid, idx, size).ravel()  # out of bounds: dropped
        w = jnp.where(valid, w, 0.0).ravel()
        if buf.ndim == 1:
            return buf.at[idx].add(w, mode="drop")
        trial = jnp.broadcast_to(trial[:, None], valid.shape).ravel()
        return buf.at[trial, idx].add(w, mode="drop")

    # The first batch runs outside the loop where it usually carries all the spikes: a
    # step's own (rows 1) or a GPU's wide batch (K above the CPU's widest). A CPU's
    # window (W1: about 20 spikes, K = 1) runs the loop anyway, and a copy of the batch
    # outside it made the program a fifth larger (W1: 2764 -> 2224 instructions without).
    first = K if rows == 1 or K > CPU_MAX_BATCH else 0
    if first:
        buffer = batch(buffer, 0)
    return lax.while_loop(
        lambda c: c[0] < bits.total, lambda c: (c[0] + K, batch(c[1], c[0])),
        (jnp.asarray(first, jnp.int32), buffer),
    )[1]


def with_synapses(counts, row_ptr):
    """``counts`` (..., n_pre) without the spikes of the cells whose CSR row
    (``row_ptr``) is empty: a spiking population with no synapses in this table (e.g. the
    cells of a network whose plastic synapses come from its inputs, or a spiking output
    layer) would otherwise fill the delivery's batches with spikes that carry nothing.
    Plastic synapses: always (W5: 1.45 -> 1.17 s). Static synapses: only where some row
    is empty (``Layout.skip_empty_rows``; a readout of 4000 spiking cells 0.66 -> 0.50-0.58
    s), applied to each step's spikes before they join a delivery window (see
    ``_network._step``)."""
    return jnp.where(row_ptr[1:] > row_ptr[:-1], counts, 0)


_WORD = 32


def spike_words(counts):
    """``counts > 0`` as bits of 32-bit words: index i is bit i % 32 of word i // 32."""
    n = counts.shape[0]
    nw = -(-n // _WORD)
    b = jnp.pad(counts > 0, (0, nw * _WORD - n)).reshape(nw, _WORD).astype(jnp.uint32)
    # distinct bits: their sum is their bitwise or
    return jnp.sum(b << jnp.arange(_WORD, dtype=jnp.uint32), axis=1, dtype=jnp.uint32)


_COMPARE_ALL = 128
"""Up to this many words, :meth:`_SpikeBits.select` compares each spike's rank with every
word's prefix count (O(spikes x words) work in one kernel); beyond, in two levels (see
there). Measured on the delivery window of 16 batched trials (750 words, 48 spikes per
window): 36 -> 31 ms per 666 deliveries with a binary search instead of comparing all;
W1 (32 words) was 1-2 % slower with the search."""


class _SpikeBits:
    """The cells with a non-zero count, as bits of 32-bit words (:func:`spike_words`),
    with each word's exclusive prefix popcount: the j-th spiking cell is then found in
    O(words) vectorised work, with no prefix sum over the cells."""

    def __init__(self, counts):
        self.words = spike_words(counts)
        self.pop = lax.population_count(self.words).astype(jnp.int32)
        self.incl = jnp.cumsum(self.pop)
        self.total = self.incl[-1]

    def select(self, j):
        """Index of the j-th spiking cell (j: int32 array, each < total)."""
        nw = self.words.shape[0]
        if nw <= _COMPARE_ALL:  # one small kernel
            word = jnp.sum(self.incl[None, :] <= j[..., None], axis=-1)
        else:
            # Two levels of comparisons, O(spikes x sqrt(words)): the blocks of B words
            # that end at or below rank j, then the words of the next block. (A binary
            # search unrolled into log2(words) steps was a quarter of W1's program when
            # delivering per window, 2200 of 8000 instructions: memory held by the loaded
            # program, compile time, and one dependent kernel per step on a GPU.)
            B = 1 << max(3, (nw.bit_length() + 1) // 2)  # a power of 2 near sqrt(words)
            nb = -(-nw // B)
            incl = jnp.pad(self.incl, (0, nb * B - nw),
                           constant_values=jnp.iinfo(self.incl.dtype).max).reshape(nb, B)
            block = jnp.minimum(jnp.sum(incl[None, :, -1] <= j[..., None], axis=-1), nb - 1)
            word = block * B + jnp.sum(incl[block] <= j[..., None], axis=-1)
        word = jnp.minimum(word, nw - 1)
        rank = j - (self.incl[word] - self.pop[word])
        # The rank-th set bit of the word: halve the bits in view five times, going up
        # when the lower half holds no more than `rank` set bits (5 steps of a few
        # elementwise operations; clearing the lowest set bit `rank` times took 31).
        x, bit = self.words[word], jnp.zeros_like(word)
        for width in (16, 8, 4, 2, 1):
            low = x & jnp.uint32((1 << width) - 1)
            below = lax.population_count(low).astype(jnp.int32)
            up = rank >= below
            rank = jnp.where(up, rank - below, rank)
            x = jnp.where(up, x >> jnp.uint32(width), low)
            bit = bit + jnp.where(up, width, 0)
        return word * _WORD + bit


def spiking_batches(counts, row_ptr, max_fanout, fn, carry):
    """Event-driven iteration over the synapses of the cells with ``counts > 0``, for
    synapses whose delivery also updates per-synapse state (plastic synapses).

    Calls ``carry = fn(carry, pre, cnt, valid, syn)`` for batches of K spiking cells
    (distinct within a batch): ``pre``/``cnt`` (K,) their indices and counts, ``syn``
    (K, max_fanout) the synapse indices of their CSR rows (``row_ptr``) and ``valid``
    which of those are real. The spiking cells are found as in static delivery
    (:class:`_SpikeBits`). Unlike static delivery, no batch runs when no cell spikes: a
    batch of plastic synapses costs far more than the loop's test (W5, STDP: 5 % faster;
    the dropped postsynaptic history entries of :func:`_plastic.drop_oldest` are rare).
    """
    # K: a batch's work per lane (gathers, the history's bisection, the potentiation
    # loop) outweighs its fixed cost, so the batch is kept small. Measured on W5 (about
    # one presynaptic spike per step), run2 in s for K = 1 / 2 / 3 / 4 / 8: 0.65 / 0.65 /
    # 0.76 / 0.83 / 1.16; with 100 cells (fan-out 10) 0.185 / 0.167 / 0.176 / - / 0.283;
    # with 4000 cells (fan-out 400, 300 ms) 0.68 / 0.60 / 0.65 / 0.74 / 0.86.
    K = max(1, min(2, 4096 // max(max_fanout, 1)))
    counts = with_synapses(counts, row_ptr)
    bits = _SpikeBits(counts)
    lane = jnp.arange(max_fanout, dtype=jnp.int32)

    def batch(carry, first_slot):
        slot = first_slot + jnp.arange(K, dtype=jnp.int32)
        taken = slot < bits.total
        pre = jnp.where(taken, bits.select(slot), 0)
        first = row_ptr[pre]
        valid = taken[:, None] & (lane[None, :] < (row_ptr[pre + 1] - first)[:, None])
        syn = jnp.where(valid, first[:, None] + lane[None, :], 0)
        return fn(carry, pre, counts[pre], valid, syn)

    return lax.while_loop(
        lambda c: c[0] < bits.total, lambda c: (c[0] + K, batch(c[1], c[0])),
        (jnp.asarray(0, jnp.int32), carry),
    )[1]
