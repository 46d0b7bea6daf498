"""Host network -> engine pytrees, and the chunked run loop that feeds the recorders.

Built lazily at the first run() after a change. Connectivity tables are cached per
projection version, so changing a neuron parameter between runs costs O(cells), not
O(synapses), and keeps the compiled program (same layout and shapes; a parameter that
stops or starts being equal in all cells of a group changes its shape, and the program is
compiled once more).
"""

import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from pyNN import common, errors

from . import _memory, _warnings, engine
from .engine import currents as ec
from .engine import plastic as ep
from .engine import sources as es
from .engine import synapses as esyn
from .populations import held, local_positions
from .projections import delay_steps
from .simulator import NumericalError, Progress
from .standardmodels.cells import (
    SpikeSourceArray,
    SpikeSourcePoisson,
    is_neuron,
    is_random_source,
    is_spiking_neuron,
)

NEVER = es.NEVER
_SIGNALS = engine.RECORDABLE
_FIELDS = engine.FIELDS  # every per-cell state field of any model


def _env_int(name):
    value = os.environ.get(name)
    if value is None or not value.strip():  # unset, or set to nothing (VAR= in a shell)
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise errors.InvalidParameterValueError(
            f"{name} = {value!r} is not allowed: it must be an integer >= 1")
    return number


def _steps_per_sync():
    """Steps per device wait of the chunk loop (``Layout.steps_per_sync``), from
    ``PYNN_LEAKY_STEPS_PER_SYNC`` (default 1). Larger values help on a GPU only when XLA's
    command buffers do not already keep the loop on the device (see README)."""
    return _env_int("PYNN_LEAKY_STEPS_PER_SYNC") or 1


def _env_switch(name):
    """The on/off setting ``name`` from the environment: True (1), False (0) or None
    (unset or empty: the default); anything else is refused by name."""
    chosen = os.environ.get(name, "").strip()
    if chosen not in ("", "0", "1"):
        raise errors.InvalidParameterValueError(
            f"{name} = {chosen!r} is not allowed: use 1 (on), 0 (off) or leave it unset "
            "(the default)")
    return None if not chosen else chosen == "1"


def _accelerator():
    """Whether JAX's default platform is not the CPU (a GPU or another accelerator): the
    platform the defaults of the settings below are chosen for."""
    return jax.default_backend() != "cpu"


def _spikes_per_batch(syn_layout):
    """Spiking cells per batch of the event delivery (``Layout.spikes_per_batch``):
    ``PYNN_LEAKY_SPIKES_PER_BATCH``, else the engine's choice for the default platform
    (:func:`engine.synapses.spikes_per_batch`: small on CPUs, up to 2^16 synapses per
    batch on GPUs). Any value gives the same results."""
    return _env_int("PYNN_LEAKY_SPIKES_PER_BATCH") or esyn.spikes_per_batch(
        syn_layout.max_fanout, gpu=_accelerator())


def _window_blocks():
    """Whether the chunk loop runs whole delivery windows as blocks without a per-step
    condition (``Layout.window_blocks``): ``PYNN_LEAKY_WINDOW_BLOCKS`` 1 (on) or 0 (off);
    by default on GPUs (and other accelerators), off on CPUs. Measured on an H100, W1
    run2 with full delivery batches: 0.267 s -> 0.152 s (float32); on 2 CPU cores W1 ran
    0.29 s against 0.277 s without blocks and compiled 0.55 s longer."""
    chosen = _env_switch("PYNN_LEAKY_WINDOW_BLOCKS")
    return _accelerator() if chosen is None else chosen


def _delivery_interval(syn_layout, plastic, blocks=False):
    """Steps whose spikes are delivered together (``Layout.interval``), at most the
    synapses' minimum delay. Default: on a CPU the minimum delay (at most 16) from 4 steps
    up, else 1. Measured: W1 (10 steps) 8 % faster, W2 (2 steps) 15 % slower on 2 CPU
    cores; on a GPU (H200, command buffers on) W1 took 45 us per step instead of 35, as
    the per-step condition costs what the batched delivery saves (GPUs therefore run
    whole windows as blocks, without it: see _window_blocks). Not by default either
    when the window would hold over 2^16 counts: finding each spiking cell scans the
    window's bit words, D times as many as one step's (a large active network would lose).
    With ``blocks`` (window blocks: no per-step condition) a GPU takes the minimum delay
    too. ``PYNN_LEAKY_DELIVERY_INTERVAL`` sets it (still capped by the minimum delay)."""
    chosen = _env_int("PYNN_LEAKY_DELIVERY_INTERVAL")
    if plastic is not None or syn_layout.n_syn == 0:
        return 1
    if chosen is not None:
        return min(chosen, syn_layout.min_delay)
    d = min(syn_layout.min_delay, 16)
    if (_accelerator() and not blocks) or d < 4 \
            or d * syn_layout.n_pre > 2**16:
        return 1
    return d


def _region_analysis(groups):
    """Whether XLA compiles the network with region analysis in copy insertion
    (``Layout.region_analysis``): on a CPU, by default, for networks without adaptive
    cell models. It removes the per-step copies of the cell states (and of the STDP
    history): on 2 cores W1 ran 0.38 -> 0.30 s, W2 0.170 -> 0.144 s, W3 at 10^5 cells
    4.9 -> 3.0 s, 16 batched trials of 200 cells 0.158 -> 0.131 s and W5 (STDP) 1.70 ->
    1.44 s; the adaptive models (W2c) ran 3 % slower. (XLA returned wrong STDP weights
    with it until the potentiation loop stopped reading the per-synapse arrays that the
    delivery updates: tests/test_compile_options.py.) ``PYNN_LEAKY_REGION_ANALYSIS=1``
    turns it on for every network on any platform (GPUs: not measured yet, see
    benchmarks/gpu_sync.sh), ``=0`` off; ``PYNN_LEAKY_XLA_DEFAULTS=0`` turns the default
    off."""
    chosen = _env_switch("PYNN_LEAKY_REGION_ANALYSIS")
    if chosen is not None:
        return chosen
    return (os.environ.get("PYNN_LEAKY_XLA_DEFAULTS", "1").strip() != "0"
            and not _accelerator()
            and not any(g.model in engine.ADAPTIVE for g in groups))


def _uniform_as_one(values):
    """``values[:1]`` if all cells' values (rows) are equal, NaNs included, else ``values``."""
    if values.shape[0] > 1 and np.array_equal(values, np.broadcast_to(values[:1], values.shape),
                                              equal_nan=values.dtype.kind == "f"):
        return values[:1]
    return values


def _group_key(pop):
    return (pop.celltype.engine_model, pop.celltype.method)


def _pow2(n):
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def _clip_step(x):
    return np.clip(x, 0, NEVER - 1).astype(np.int32)


_SORT_BLOCK = 1 << 18  # keys per block of stable_order's counting sort (at least)
_SORT_MIN = 1 << 20  # smaller arrays: one np.argsort per 16 bits of key
_PIECE = 1 << 22  # elements per piece where a large array is worked through in pieces


def empty_aligned(n, dtype, align=64):
    """``np.empty(n, dtype)`` whose data start on an ``align``-byte boundary. JAX's CPU
    client uses such a host array in place (``jax.device_put``), where NumPy's own large
    arrays (16-byte aligned) are copied: 10^8 synapses' offsets, 400 MB."""
    dtype = np.dtype(dtype)
    raw = np.empty(n * dtype.itemsize + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + n * dtype.itemsize].view(dtype)


def bincount(keys, minlength=0):
    """``np.bincount(keys, minlength=minlength)`` in pieces: NumPy converts int32 keys to
    int64 first (10^8 synapses' presynaptic indices: 800 MB at once)."""
    keys = np.asarray(keys)
    out = np.zeros(minlength, np.int64)
    for lo in range(0, keys.size, _PIECE):
        part = np.bincount(keys[lo:lo + _PIECE], minlength=minlength)
        if part.size > out.size:
            out = np.concatenate([out, np.zeros(part.size - out.size, np.int64)])
        out[:part.size] += part
    return out


def stable_order(keys, n_keys):
    """``np.argsort(keys, kind="stable")`` for integer keys in ``0 .. n_keys``, as int32
    positions (4 bytes each) below 2^31 keys, else int64.

    Large arrays (10^8 synapses' presynaptic indices) are sorted by a stable counting sort
    per 16-bit digit, lowest first, in blocks of :data:`_SORT_BLOCK` keys: each block is
    sorted on its own (NumPy's radix sort, in cache) and its elements are written straight
    to their final places, which the key counts of the blocks before it give. 10^8 random
    keys on 2 cores: 1000 key values 3.3 -> 2.0 s, 10^4 values 3.6 -> 2.0 s, 3 * 10^5
    values (two digits) 8.5 -> 5.4 s; no int64 copy of the order (W3 at 10^6 cells, 10^8
    synapses: peak RSS 3089 -> 2517 MiB). Smaller arrays go through ``np.argsort`` (radix
    for 16-bit keys) once per 16 bits of key."""
    return _stable_sort(keys, n_keys, (), with_order=True)[0]


def sorted_by(keys, n_keys, *arrays):
    """``[a[stable_order(keys, n_keys)] for a in arrays]``, each of ``arrays`` as long as
    ``keys``, without the order for large arrays: their elements travel with the keys'
    counting sort, block by block. A gather by the whole order reads memory at random (10^8
    int32 ring offsets in W3's order: 2.6 s); written to their places block by block, they
    take 0.6 s."""
    return _stable_sort(keys, n_keys, arrays, with_order=False)


def _stable_sort(keys, n_keys, arrays, with_order):
    """``arrays`` permuted by the stable order of ``keys``, after that order itself if
    ``with_order``: see :func:`stable_order` and :func:`sorted_by`."""
    keys, arrays = np.asarray(keys), [np.asarray(a) for a in arrays]
    index = np.int32 if keys.size < 2**31 else np.int64
    bits = max(int(n_keys).bit_length(), 1)
    if keys.size < _SORT_MIN:
        if bits <= 16:
            order = np.argsort(keys.astype(np.uint16), kind="stable").astype(index)
        else:
            order = np.arange(keys.size, dtype=index)
            for shift in range(0, bits, 16):
                digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
                order = order[np.argsort(digit, kind="stable")]
        return [order] * with_order + [a[order] for a in arrays]
    passes = -(-bits // 16)
    width = -(-bits // passes)  # digits of equal width, at most 16 bits
    mask = (1 << width) - 1
    order, cur = None, keys
    for p in range(passes):
        digit = np.empty(keys.size, np.uint16)  # in pieces: no temporary as large as keys
        for lo in range(0, keys.size, _PIECE):
            digit[lo:lo + _PIECE] = (cur[lo:lo + _PIECE] >> (p * width)) & mask
        last = p + 1 == passes
        nxt = np.empty(keys.size, index) if with_order else None
        nxt_cur = None if last else np.empty_like(cur)
        moved = [empty_aligned(a.size, a.dtype) for a in arrays]  # see of_offsets(given)
        for lo, o, dest in _counting_blocks(digit, mask + 1):
            if with_order:
                nxt[dest] = o + lo if order is None else order[lo:lo + o.size][o]
            if not last:  # the keys travel with the order (no gather by the whole order)
                nxt_cur[dest] = cur[lo:lo + o.size][o]
            for a, m in zip(arrays, moved):
                m[dest] = a[lo:lo + o.size][o]
        order, cur, arrays = nxt, nxt_cur, moved
    return [order] * with_order + arrays


def _counting_blocks(digit, n_values):
    """One pass of a stable counting sort by ``digit`` (values ``0 .. n_values - 1``), block
    by block: yields ``(lo, o, dest)``, where element ``lo + o[j]`` of the array goes to
    position ``dest[j]`` of the stably sorted order."""
    n, block = digit.size, max(_SORT_BLOCK, 16 * n_values)
    starts = range(0, n, block)
    counts = np.stack([np.bincount(digit[lo:lo + block], minlength=n_values) for lo in starts])
    earlier = np.cumsum(counts, axis=0) - counts  # a value's elements in earlier blocks
    total = earlier[-1] + counts[-1]
    # the j-th element of block b in its own stable order, of value v, goes to
    # base[b, v] + j: v's start overall, plus v's elements in earlier blocks, less v's
    # start within the block. In that order the values ascend, counts[b, v] of each, so
    # base[b, v] repeated that often lines up with j (no gather by the order: 10^8 keys
    # of 1000 values 1.1-1.4 -> 0.8-1.1 s).
    base = earlier + (np.cumsum(total) - total) - (np.cumsum(counts, axis=1) - counts)
    step = np.arange(min(block, n))
    for b, lo in enumerate(starts):
        o = np.argsort(digit[lo:lo + block], kind="stable")
        yield lo, o, np.repeat(base[b], counts[b]) + step[:o.size]


def population_parts(cell_set, local):
    """Split indices within a Population/PopulationView/Assembly by population.

    Returns a list of (population, positions in `local`, indices in that population);
    the positions are ``slice(None)`` where they are all of them, in order.
    """
    local = np.asarray(local)
    if local.dtype.kind not in "iu":  # integer arrays as they are (int32: no copy)
        local = local.astype(np.int64)
    if isinstance(cell_set, common.Assembly):
        bounds = np.cumsum([0] + [p.size for p in cell_set.populations])
        owner = np.searchsorted(bounds, local, side="right") - 1
        parts = []
        for k, member in enumerate(cell_set.populations):
            where = np.flatnonzero(owner == k)
            for pop, sub, idx in population_parts(member, local[where] - bounds[k]):
                parts.append((pop, where[sub], idx))
        return parts
    everything = slice(None)
    if isinstance(cell_set, common.PopulationView):
        idx = np.asarray(cell_set.index_in_grandparent(local), dtype=np.int64)
        return [(cell_set.grandparent, everything, idx)]
    return [(cell_set, everything, local)]


def global_index(cell_set, local, offsets):
    """Indices within `cell_set` to indices in an engine index space (`offsets` per pop);
    -1 for cells held by another rank (emulated partition). Read only: possibly `local`
    itself (a whole population at offset 0: no copy of 10^8 indices)."""
    parts = population_parts(cell_set, local)
    out = np.empty(np.shape(local), np.int64) if len(parts) != 1 else None
    for pop, where, idx in parts:
        pos = local_positions(pop, idx)
        offset = offsets[id(pop)]
        if offset + pop.size >= 2**31:  # beyond int32 (the projections' index arrays)
            pos = pos.astype(np.int64)
        index = (pos + offset if offset else pos) if pop._all_local \
            else np.where(pos >= 0, offset + pos, -1)
        if out is None:  # one part: all positions, in order
            return index
        out[where] = index
    return out


class Network:
    """The engine's view of the host network, plus the maps back to PyNN objects.

    The engine holds the cells this process holds: every cell, but in an emulated
    partition (``setup(num_processes=N, rank=r)``) only the local ones, in their order;
    connections from cells of other ranks are kept but never receive a spike.
    """

    def __init__(self, state):
        self.dtype = jnp.float64 if state.precision == "float64" else jnp.float32
        self.dt = state.dt
        pops = state.populations
        neurons = [p for p in pops if is_neuron(p.celltype)]
        # One engine group per (model, method); populations of a group are contiguous.
        keys = list(dict.fromkeys(_group_key(p) for p in neurons))
        self.members = {k: [p for p in neurons if _group_key(p) == k] for k in keys}
        self.neurons = [p for k in keys for p in self.members[k]]
        self.arrays = [p for p in pops if isinstance(p.celltype, SpikeSourceArray)]
        self.poisson = [p for p in pops if is_random_source(p.celltype)]  # and gamma, ...
        self.poisson_offset = self._offsets(self.poisson)
        self.spiking_neurons = [p for p in self.neurons if is_spiking_neuron(p.celltype)]
        self.spikers = self.arrays + self.poisson + self.spiking_neurons
        self.cell_offset = self._offsets(self.neurons)
        self.spike_offset = self._offsets(self.spikers)
        self.n_cells = sum(held(p) for p in self.neurons)
        self.n_rows = _ring_rows(self.neurons, state.projections)
        self.n_array = sum(held(p) for p in self.arrays)
        self.n_spiking = sum(held(p) for p in self.spikers)
        self.groups = [
            engine.GroupLayout(
                n=sum(held(p) for p in self.members[k]),
                method=k[1],
                has_noise=any(np.any(np.asarray(p._parameters.get("noise", 0.0)) != 0)
                              for p in self.members[k]),
                model=k[0],
            )
            for k in keys
        ]
        self.sources = [s for s in state.current_sources if s.cells]
        self._projections = list(state.projections)
        self._build_synapses(state)
        self._build_recording(state)
        schedule, kmax = self._schedule(state.dt)
        poisson = self._poisson(state.dt)
        blocks = _window_blocks()
        self.layout = engine.Layout(
            groups=tuple(self.groups),
            n_array=self.n_array,
            array_kmax=kmax,
            n_poisson=sum(held(p) for p in self.poisson),
            poisson_terms=es.poisson_terms(
                float(np.max(poisson.rate, initial=0.0)) * state.dt * 1e-3
            ),
            synapses=self.syn_layout,
            chunk=0,  # below: it depends on the layout
            steps_per_sync=_steps_per_sync(),
            interval=_delivery_interval(self.syn_layout, self.plastic_layout, blocks),
            window_blocks=blocks,
            spikes_per_batch=_spikes_per_batch(self.syn_layout),
            region_analysis=_region_analysis(self.groups),
            skip_empty_rows=self.syn_empty_rows,
            spikes_all=self.rec_index["spikes"] == list(range(self.n_spiking)),
            plastic=self.plastic_layout,
        )
        self.layout = self.layout._replace(chunk=self._chunk(state))
        self.params = engine.Params(
            dt=jnp.asarray(state.dt, self.dtype),
            groups=self._group_params(),
            schedule=schedule,
            poisson=poisson,
            synapses=self.syn_table,
            currents=self._currents(state.dt),
            recording=engine.Recording(
                *[jnp.asarray(self.rec_index[v], jnp.int32) for v in (*_SIGNALS, "spikes")]
            ),
            key=jax.random.key_data(jax.random.key(int(state.rng_seed) % (2**32))),
            plastic=self.plastic_table,
        )

    @staticmethod
    def _offsets(pops):
        offsets, start = {}, 0
        for p in pops:
            offsets[id(p)] = start
            start += held(p)
        return offsets

    # -- parameters ------------------------------------------------------------------
    def trial_group_params(self, overrides):
        """:meth:`_group_params` for each trial's `overrides`, stacked (trials first). A
        parameter is one value per trial where it is uniform in every trial, as an
        ordinary run with that trial's values would have it (the results are bit-equal)."""
        trials = [self._group_params(o, compress=False) for o in overrides]

        def stack(shared, *leaves):
            xs = [np.asarray(x) for x in leaves]
            if shared and all(_uniform_as_one(x).shape[0] == 1 for x in xs):
                xs = [x[:1] for x in xs]
            return jnp.stack(xs)

        return tuple(jax.tree.map(partial(stack, self._sharable(key)), *groups)
                     for key, groups in zip(self.members, zip(*trials)))

    @staticmethod
    def _sharable(key):
        """Whether a group's parameters may be one value when uniform (not for the
        models of engine.ADAPTIVE)."""
        return key[0] not in engine.ADAPTIVE

    def _group_params(self, overrides=None, compress=True):
        """Engine parameters of every group; `overrides` {id(pop): {name: values}}.

        With `compress`, a parameter equal in all cells of a group is one value (shape
        (1,), broadcast by the engine; not for engine.ADAPTIVE models): the step then reads
        a few per-cell arrays instead of a dozen (W1, 10^4 LeakyIntegrator cells without
        input: 60 -> 28 us per step)."""
        overrides = overrides or {}
        out = []
        for key, members in self.members.items():
            shared = compress and self._sharable(key)
            parts = [
                p.celltype.engine_parameters(
                    {k: np.broadcast_to(overrides.get(id(p), {}).get(k, v), (held(p),))
                     for k, v in p._parameters.items()},
                    self.dt,
                )
                for p in members
            ]
            out.append(jax.tree.map(partial(self._group_leaf, shared), *parts))
        return tuple(out)

    def _group_leaf(self, shared, *parts):
        values = np.concatenate(parts)
        return jnp.asarray(_uniform_as_one(values) if shared else values,
                           jnp.int32 if np.issubdtype(values.dtype, np.integer)
                           else self.dtype)

    def _schedule(self, dt):
        steps, cells = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        dropped = 0
        for p in self.arrays:
            seqs = np.broadcast_to(np.asarray(p._parameters["spike_times"], dtype=object),
                                   (held(p),))
            for i, seq in enumerate(seqs):
                times = np.asarray(getattr(seq, "value", seq), dtype=float)
                if times.size == 0:
                    continue
                # A spike during (t_{k-1}, t_k] carries t_k; on-grid times stay put.
                k = np.ceil(times / dt - 1e-6).astype(np.int64)
                dropped += int((k < 1).sum())
                k = k[k >= 1]
                steps.append(k)
                cells.append(np.full(k.size, self.spike_offset[id(p)] + i, np.int64))
        if dropped:
            _warnings.warn(f"{dropped} spike(s) at t <= 0 ms cannot be emitted and were dropped")
        steps, cells = np.concatenate(steps), np.concatenate(cells)
        order = np.argsort(steps, kind="stable")
        steps, cells = steps[order], cells[order]
        kmax = int(np.bincount(steps).max()) if steps.size else 0
        size = _pow2(max(steps.size, 1))
        table = es.ScheduleTable(
            step=jnp.asarray(np.pad(_clip_step(steps), (0, size - steps.size),
                                    constant_values=NEVER), jnp.int32),
            cell=jnp.asarray(np.pad(cells, (0, size - cells.size)), jnp.int32),
        )
        return table, _pow2(kmax) if kmax else 0

    def _poisson(self, dt, overrides=None):
        """The random sources (SpikeSourcePoisson, SpikeSourceGamma, ...) in one table;
        `overrides` {id(pop): {name: values}} replace parameters (batched trials)."""
        overrides = overrides or {}

        def values(p):
            return {k: np.broadcast_to(overrides.get(id(p), {}).get(k, v), (held(p),))
                    for k, v in p._parameters.items()}

        def gather(name):
            return np.concatenate(
                [values(p)[name] for p in self.poisson] or [np.zeros(0)]
            ).astype(float)

        parts = [p.celltype.engine_source(values(p), dt) for p in self.poisson]
        rate, shape, dead, hazard = (np.concatenate(x) for x in zip(*parts)) if parts \
            else (np.zeros(0),) * 4
        start, duration = gather("start"), gather("duration")
        # Plain Poisson sources need no phase: their step stays the stateless one.
        plain = all(type(p.celltype) is SpikeSourcePoisson for p in self.poisson)
        return es.PoissonParams(
            rate=jnp.asarray(rate, self.dtype),
            start=jnp.asarray(_clip_step(np.rint(start / dt)), jnp.int32),
            stop=jnp.asarray(_clip_step(np.rint(np.minimum((start + duration) / dt, 2.0**31))),
                             jnp.int32),
            shape=None if plain else jnp.asarray(shape, jnp.int32),
            dead=None if plain else jnp.asarray(dead, jnp.int32),
            hazard=None if plain else jnp.asarray(hazard, self.dtype),
        )

    def _currents(self, dt):
        kinds = {"step": [], "ac": [], "noisy": []}
        for s in self.sources:
            kinds[s.kind].append(s)
        self.source_order = kinds["step"] + kinds["ac"] + kinds["noisy"]
        tables = [s.steps(dt) for s in kinds["step"]]
        width = max([t[0].size for t in tables] + [1])
        times = np.full((len(tables), width), NEVER, np.int64)
        amps = np.zeros((len(tables), width))
        for i, (t, a) in enumerate(tables):
            times[i, : t.size], amps[i, : a.size] = _clip_step(t), a

        def col(group, name, f=float):
            return np.array([f(s._native[name]) for s in kinds[group]], dtype=float)

        def steps(group, name):
            return jnp.asarray(_clip_step(np.rint(col(group, name) / dt)), jnp.int32)

        f = lambda x: jnp.asarray(x, self.dtype)  # noqa: E731
        noisy_period = np.array(
            [max(1, int(np.rint((s._native["dt"] or dt) / dt))) for s in kinds["noisy"]], np.int32
        )
        source_idx, target = [], []
        for i, s in enumerate(self.source_order):
            cells = np.asarray([int(c) for c in s.cells], dtype=np.int64)
            for p in self.neurons:
                sel = (cells >= p.first_id) & (cells <= p.last_id)
                pos = local_positions(p, cells[sel] - int(p.first_id))
                pos = pos[pos >= 0]  # cells of other ranks: injected there
                target.append(self.cell_offset[id(p)] + pos)
                source_idx.append(np.full(pos.size, i, np.int64))
        cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
        return ec.CurrentTables(
            steps=ec.StepCurrents(times=jnp.asarray(times, jnp.int32), amps=f(amps)),
            ac=ec.ACCurrents(
                amplitude=f(col("ac", "amplitude")), offset=f(col("ac", "offset")),
                frequency=f(col("ac", "frequency")), phase=f(col("ac", "phase")),
                start=steps("ac", "start"), stop=steps("ac", "stop"),
            ),
            noisy=ec.NoisyCurrents(
                mean=f(col("noisy", "mean")), stdev=f(col("noisy", "stdev")),
                start=steps("noisy", "start"), stop=steps("noisy", "stop"),
                period=jnp.asarray(noisy_period, jnp.int32),
            ),
            source=jnp.asarray(cat(source_idx), jnp.int32),
            target=jnp.asarray(cat(target), jnp.int32),
        )

    # -- synapses --------------------------------------------------------------------
    def _build_synapses(self, state):
        # The table depends only on the projections and the index spaces: reuse the previous
        # one when neither changed (a neuron parameter change then costs O(cells)).
        self._syn_key = (
            tuple((id(p), p.version) for p in state.projections),
            tuple(self.cell_offset.items()), tuple(self.spike_offset.items()), self.n_cells,
        )
        old = state.network
        if old is not None and getattr(old, "_syn_key", None) == self._syn_key:
            for name in ("syn_layout", "syn_table", "syn_empty_rows",
                         "plastic_layout", "plastic_table", "plastic_slices", "plastic_pos",
                         "inh_reached"):
                setattr(self, name, getattr(old, name))
            return
        static = [p for p in state.projections if len(p) and not p._plastic]
        plastic = [p for p in state.projections if len(p) and p._plastic]
        self._steps = self._delay_steps(static + plastic, state.dt)
        pre, target, delay, weight = self._connections(static)
        # cells reached on the inhibitory row: None where there is no such row, or no
        # group could leave its inhibitory current out (silence_inh), so none is asked
        eligible = any(g.model in engine.SILENT_INH_MODELS for g in self.groups)
        self.inh_reached = np.zeros(self.n_cells, bool) if self.n_rows > 1 and eligible \
            else None
        self._reach_inh(target)
        # Presynaptic cells held by other ranks (emulated partition) never spike here.
        here = pre < self.n_spiking
        if not here.all():
            pre, target, delay, weight = pre[here], target[here], delay[here], weight[here]
        counts = bincount(pre, minlength=self.n_spiking)
        row_ptr = np.concatenate([[0], np.cumsum(counts)])
        # event delivery leaves out the spikes of cells without synapses, if there are any
        self.syn_empty_rows = bool(pre.size) and bool((counts == 0).any())
        max_delay = max([int(delay.max(initial=1))]
                        + [int(self._steps[id(p)].max(initial=1)) for p in plastic])
        ring = max(max_delay, 1) + 1
        self.syn_layout = esyn.SynapseLayout(
            n_pre=self.n_spiking,
            n_target=self.n_rows * self.n_cells,
            n_syn=int(pre.size),
            ring=ring,
            max_fanout=int(counts.max(initial=0)),
            mode="event",
            min_delay=int(delay.min()) if delay.size else 1,
        )
        del here  # the mask (10^8 synapses: 100 MB)
        # in the table's order (as synapse_order() gives it): the offsets, and the weights
        # unless they are all one value (min and max: _uniform_as_one's comparison made
        # copies of 10^8 broadcast weights, peak 2 -> 3 GiB in W3 at 10^6 cells)
        weight = np.asarray(weight)
        uniform = weight.size == 0 or weight.min() == weight.max()
        varied = [] if uniform else [weight]
        offsets = partial(esyn.SynapseTable.offsets, layout=self.syn_layout)
        try:
            esyn.check_ring(self.syn_layout)  # before sorting
            if delay.size and self.syn_layout.min_delay == int(delay.max()):
                # one delay for all (W3): the targets are sorted and become the offsets in
                # place, without a table of offsets in the connections' order (10^8
                # synapses: 400 MB)
                offset, *varied = sorted_by(pre, self.n_spiking, target, *varied)
                offset = offsets(offset, delay[:1], out=offset)
            else:
                offset, *varied = sorted_by(pre, self.n_spiking,
                                            offsets(target, delay), *varied)
        except ValueError as err:  # a ring too large for int32 indices (check_ring)
            raise errors.InvalidParameterValueError(f"pynn_leaky: {err}") from None
        del pre, target, delay  # (joined copies if several projections)
        self.syn_table = esyn.SynapseTable.of_offsets(
            row_ptr, offset, varied[0] if varied else weight[:1], dtype=self.dtype,
            given=True)  # new arrays: used in place where JAX can
        self._build_plastic(plastic, state)
        del self._steps  # 8 bytes per synapse, needed no more

    def _reach_inh(self, target):
        """Mark the cells that synapses with these targets reach on the inhibitory row."""
        if self.inh_reached is not None and target.size:
            n = self.n_cells
            self.inh_reached[target[(target >= n) & (target < 2 * n)] - n] = True

    def _silent(self, st):
        """Per group: whether its inhibitory current (a model of engine.SILENT_INH_MODELS)
        is zero in ``st`` and reached by no synapse, so that it stays zero."""
        flags, start = [], 0
        for g, values in zip(self.layout.groups, st.groups):
            cells = slice(start, start + g.n)
            start += g.n
            flags.append(g.model in engine.SILENT_INH_MODELS
                         and (self.inh_reached is None or not self.inh_reached[cells].any())
                         and not np.any(np.asarray(values.isyn_inh)))
        return flags

    def silence_inh(self, st):
        """Let the step leave out the inhibitory currents that stay zero from ``st`` on
        (engine.GroupLayout.silent_inh)."""
        self.layout = self.layout._replace(groups=tuple(
            g._replace(silent_inh=bool(f)) for g, f in zip(self.layout.groups, self._silent(st))))

    def silence_holds(self, st):
        """Whether the groups marked silent by :meth:`silence_inh` are still so in ``st``."""
        return all(f or not g.silent_inh for g, f in zip(self.layout.groups, self._silent(st)))

    @staticmethod
    def _delay_steps(projections, dt):
        """Each projection's delays in whole steps ({id: steps}): the nearest step, at
        least one. Off-grid delays are rounded as NEST rounds them, with one warning."""
        out, n_off, example = {}, 0, None
        for prj in projections:
            steps, off = delay_steps(prj._delay, dt)
            out[id(prj)] = steps
            if off.any():
                if example is None:
                    i = int(np.flatnonzero(off)[0])
                    example = (float(prj._delay[i]), int(steps[i]), prj.label)
                n_off += int(off.sum())
        if n_off:
            d, k, label = example
            _warnings.warn(
                f"{n_off} synaptic delay(s) are not multiples of the time step dt = {dt} ms and "
                f"are simulated on the grid, rounded to the nearest step (at least one): e.g. "
                f"{d!r} ms in Projection '{label}' acts as {k} step(s) = {round(k * dt, 12)!r} ms. "
                "get('delay') still returns the delays as given")
        return out

    def _connections(self, projections):
        """(pre, target, delay steps, weight) of the projections' connections, concatenated.

        A presynaptic cell held by another rank (emulated partition) is given the index
        n_spiking, one past the last spike source: such synapses are never reached."""
        index = self._index_dtype()
        pre, target, delay, weight = [], [], [], []
        for prj in projections:
            pre.append(self._sources(prj))
            post = global_index(prj.post, prj._post, self.cell_offset).astype(index,
                                                                              copy=False)
            row = _receptor_row(prj)
            target.append(post + row * self.n_cells if row else post)
            delay.append(self._steps[id(prj)])
            weight.append(prj._weight)

        def cat(xs, dtype):  # no copy of a single projection's array (read only here)
            x = xs[0] if len(xs) == 1 else np.concatenate(xs) if xs else np.zeros(0)
            return np.asarray(x).astype(dtype, copy=False)

        # delay steps as delay_steps gave them (int64 only beyond int32: refused later)
        steps = np.result_type(*delay) if delay else np.int32
        return cat(pre, index), cat(target, index), cat(delay, steps), cat(weight, float)

    def _index_dtype(self):
        """int32 where the index spaces allow (the projections' own arrays, uncopied)."""
        big = max(self.n_spiking + 1, self.n_rows * self.n_cells) >= 2**31
        return np.int64 if big else np.int32

    def _sources(self, prj):
        """The presynaptic (spiking) index of each connection of ``prj``; n_spiking for a
        cell held by another rank (see :meth:`_connections`)."""
        source = global_index(prj.pre, prj._pre, self.spike_offset).astype(
            self._index_dtype(), copy=False)
        return source if source.min(initial=0) >= 0 \
            else np.where(source >= 0, source, self.n_spiking)

    def synapse_order(self, state):
        """Table position i of the static synapses holds connection ``order[i]`` of the
        static projections concatenated (projection order; in an emulated partition, order
        among the connections from cells held here). Computed again on each call (for
        differentiable()), not held: 4 bytes per synapse."""
        static = [p for p in state.projections if len(p) and not p._plastic]
        pre = [self._sources(p) for p in static]
        pre = np.concatenate(pre) if pre else np.zeros(0, np.int64)
        return stable_order(pre[pre < self.n_spiking], self.n_spiking)

    # -- plastic synapses ------------------------------------------------------------
    _PLASTIC_DEFAULTS = dict(U=0.5, tau_rec=100.0, tau_fac=0.0, tau_psc=1.0, tau_plus=20.0,
                             A_plus=0.0, A_minus=0.0, mu_plus=0.0, mu_minus=0.0, w_min=0.0,
                             w_max=1.0, p=1.0)

    def _build_plastic(self, projections, state):
        self.plastic_slices = {}
        if not projections:
            self.plastic_layout = self.plastic_table = self.plastic_pos = None
            return
        pre, target, delay, _ = self._connections(projections)
        self._reach_inh(target)
        n = pre.size
        cols = {k: np.full(n, v) for k, v in self._PLASTIC_DEFAULTS.items()}
        kind, sign = np.zeros(n, np.int64), np.ones(n)
        tau_minus = np.full(self.n_cells, np.nan)
        start = 0
        for prj in projections:
            sl = slice(start, start + len(prj))
            self.plastic_slices[id(prj)] = (prj.version, sl)
            start = sl.stop
            code = ep.KIND_NAMES.index(prj._kind)
            kind[sl] = code
            conductance = _populations_of(prj.post)[0].celltype.conductance_based
            if prj.receptor_type == "inhibitory" and not conductance:
                sign[sl] = -1.0
            x = prj._extra
            if prj._kind == "tsodyks":
                cols["U"][sl], cols["tau_rec"][sl] = x["U"], x["tau_rec"]
                cols["tau_fac"][sl] = x["tau_facil"]
                cols["tau_psc"][sl] = _post_values(prj, f"tau_syn_{'E' if prj.receptor_type == 'excitatory' else 'I'}")  # noqa: E501
                same = np.isclose(cols["tau_psc"][sl], cols["tau_rec"][sl], rtol=1e-12, atol=0)
                if same.any():
                    raise errors.InvalidParameterValueError(
                        f"tau_rec = {float(cols['tau_rec'][sl][same][0])!r} ms equals the "
                        f"postsynaptic tau_syn in Projection '{prj.label}': the "
                        "Tsodyks-Markram solution (as NEST's) needs tau_rec != tau_syn")
            elif prj._kind == "stdp":
                for name in ("tau_plus", "A_plus", "A_minus", "w_min", "w_max"):
                    cols[name][sl] = x[name]
                mu = prj.synapse_type.weight_dependence.exponents(x)
                cols["mu_plus"][sl], cols["mu_minus"][sl] = mu
                post = global_index(prj.post, prj._post, self.cell_offset)
                clash = ~np.isnan(tau_minus[post]) & (tau_minus[post] != x["tau_minus"])
                if clash.any():
                    raise errors.InvalidParameterValueError(
                        f"tau_minus = {float(x['tau_minus'][clash][0])!r} ms in Projection "
                        f"'{prj.label}' differs from the tau_minus of another STDP projection "
                        f"onto the same cell ({float(tau_minus[post][clash][0])!r} ms): the "
                        "postsynaptic trace belongs to the cell (as in NEST), give one value")
                tau_minus[post] = x["tau_minus"]
            else:
                cols["p"][sl] = x["p"]
        order = stable_order(pre, self.n_spiking)
        self.plastic_pos = np.empty(n, np.int64)
        self.plastic_pos[order] = np.arange(n)
        # synapses from other ranks' cells (index n_spiking) sort last, outside every row
        counts = bincount(pre, minlength=self.n_spiking)[: self.n_spiking]
        kinds = tuple(sorted(set(kind.tolist())))
        # STDP synapses by postsynaptic cell (table positions), for the spilled history
        table_kind, table_post = kind[order], target[order] % max(self.n_cells, 1)
        stdp_pos = np.flatnonzero(table_kind == ep.STDP)
        by_post = stable_order(table_post[stdp_pos], self.n_cells)
        fanin = np.bincount(table_post[stdp_pos], minlength=self.n_cells)
        self.plastic_layout = ep.PlasticLayout(
            n_pre=self.n_spiking, n_cells=self.n_cells, n_target=self.n_rows * self.n_cells,
            n_syn=int(n), max_fanout=int(counts.max(initial=0)), kinds=kinds,
            history=max(int(state.stdp_history), self.syn_layout.ring)
            if ep.STDP in kinds else 0,
            max_fanin=int(fanin.max(initial=0)),
        )
        f = lambda a: jnp.asarray(a[order], self.dtype)  # noqa: E731
        self.plastic_table = ep.PlasticTable(
            row_ptr=jnp.asarray(np.concatenate([[0], np.cumsum(counts)]), jnp.int32),
            target=jnp.asarray(target[order], jnp.int32),
            delay=jnp.asarray(delay[order], jnp.int32),
            kind=jnp.asarray(kind[order], jnp.int32),
            sign=f(sign),
            **{k: f(v) for k, v in cols.items()},
            tau_minus=jnp.asarray(np.nan_to_num(tau_minus, nan=20.0), self.dtype),
            post_ptr=jnp.asarray(np.concatenate([[0], np.cumsum(fanin)]), jnp.int32),
            post_syn=jnp.asarray(stdp_pos[by_post], jnp.int32),
        )

    _PLASTIC_VARIABLES = ("weight", "u", "x", "y", "kplus", "last")

    def plastic_values(self, st, prj):
        """Current values of a plastic projection's synapses (projection order), or None
        if this network was built from another version of it."""
        entry = self.plastic_slices.get(id(prj)) if self.plastic_slices else None
        if entry is None or entry[0] != prj.version or st.plastic is None:
            return None
        pos = self.plastic_pos[entry[1]]
        return {v: np.asarray(getattr(st.plastic, v))[pos] for v in self._PLASTIC_VARIABLES}

    def _initial_plastic(self):
        """Per-synapse starting values: the projections' current ones, else initial."""
        if self.plastic_layout is None:
            return None
        parts = {v: [] for v in self._PLASTIC_VARIABLES}
        start = {"u": 0.0, "x": 1.0, "y": 0.0, "kplus": 0.0, "last": 0}
        for prj in self._projections:
            if id(prj) not in self.plastic_slices:
                continue
            live = prj._live if prj._live is not None and \
                prj._live["weight"].size == len(prj) else None
            for v in self._PLASTIC_VARIABLES:
                if live is not None:
                    parts[v].append(live[v])
                elif v == "weight":
                    parts[v].append(prj._weight)
                else:
                    parts[v].append(np.full(len(prj), start[v]))
        order = np.argsort(self.plastic_pos)
        return {v: np.concatenate(parts[v])[order] for v in self._PLASTIC_VARIABLES}

    # -- recording -------------------------------------------------------------------
    def _build_recording(self, state):
        self.rec_index = {v: [] for v in (*_SIGNALS, "spikes")}
        self.rec_map = []  # (recorder, variable, column slice, ids, engine field)
        for p in self.neurons + self.arrays + self.poisson:
            for variable, ids in p.recorder.recorded.items():
                offsets = self.spike_offset if variable.name == "spikes" else self.cell_offset
                if not ids:
                    continue
                ids = np.sort(np.fromiter((int(i) for i in ids), np.int64))
                field = _field(p.celltype, variable.name)
                cols = self.rec_index[field]
                start = len(cols)
                cols.extend((offsets[id(p)]
                             + local_positions(p, ids - int(p.first_id))).tolist())
                self.rec_map.append((p.recorder, variable.name, slice(start, len(cols)), ids,
                                     field))

    def _chunk(self, state):
        # Per-step arrays held for a whole chunk, in values of 8 bytes: recorded values,
        # recorded spikes (bits when packed, else int32 counts), current sources' values
        # and the random sources' draws (uniforms, or event counts of plain Poisson sources).
        # 64 MB per chunk; two chunks are in flight in `advance` (about 128 MB at most).
        n_spikes = len(self.rec_index["spikes"])
        spikes = n_spikes / 64 if engine.packs_spikes(self.layout) else n_spikes / 2
        width = (sum(len(v) for k, v in self.rec_index.items() if k != "spikes") + spikes
                 + len(self.sources) + sum(held(p) for p in self.poisson))
        return int(np.clip(8_000_000 // max(width, 1), 16, state.chunk_steps))

    # -- state -----------------------------------------------------------------------
    def initial_state(self):
        values = {v: self._initial(v) for v in _FIELDS}
        ring = np.zeros((self.syn_layout.ring, self.syn_layout.n_target))
        return self._state_from_arrays(values, ring, np.zeros(self.n_spiking, np.int32),
                                       self._initial_phase())

    def _initial_phase(self):
        return np.array(es.init_phase(self.layout.n_poisson))

    def _initial(self, variable):
        # Fields that are not PyNN initial values (refractory count, ...) start at 0.
        parts = []
        for p in self.neurons:
            name = _pynn_name(p.celltype, variable)
            parts.append(np.broadcast_to(p.initial_values[name].evaluate(simplify=False),
                                         (p.size,))[p._mask_local]
                         if name in p.initial_values else np.zeros(held(p)))
        out = np.concatenate(parts) if parts else np.zeros(0)
        return out.astype(np.int32) if variable == "refrac" else out.astype(float)

    def _state_from_arrays(self, values, ring, pending, source_phase, plastic=None):
        """An engine state; plastic synapses start from `plastic` (a dict of
        engine.plastic.PlasticState fields) or from their projections' values."""
        if self.plastic_layout is not None:
            plastic = {**self._initial_plastic(), **(plastic or {})}
        return engine.init_state(self.layout, self.params, values, ring, pending, source_phase,
                                 plastic)

    def cell_arrays(self, st):
        """Every cell-state field (_FIELDS) over all cells; 0 where a model lacks the field."""
        return {
            v: np.concatenate([np.asarray(getattr(g, v, np.zeros(len(g.v), int)))
                               for g in st.groups]) if st.groups else np.zeros(0)
            for v in _FIELDS
        }

    def carry_state(self, old, old_state, step):
        """State of `old` (at `step`) mapped onto this network's cells, ring and spikes."""
        values = {v: self._initial(v) for v in _FIELDS}
        old_values = old.cell_arrays(old_state)
        old_ring = np.asarray(old_state.ring).reshape(old.syn_layout.ring, old.n_rows,
                                                      old.n_cells)
        ring = np.zeros((self.syn_layout.ring, self.n_rows, self.n_cells))
        due = step + 1 + np.arange(old.syn_layout.ring - 1)  # slots still to be read
        for p in self.neurons:
            if id(p) not in old.cell_offset:
                continue
            a, b, n = old.cell_offset[id(p)], self.cell_offset[id(p)], held(p)
            for v in _FIELDS:
                values[v][b:b + n] = old_values[v][a:a + n]
            rows = min(self.n_rows, old.n_rows)
            ring[due % self.syn_layout.ring, :rows, b:b + n] = \
                old_ring[due % old.syn_layout.ring, :rows, a:a + n]
        old_pending = np.asarray(old_state.pending)
        pending = np.zeros(self.n_spiking, np.int32)
        for p in self.spikers:
            if id(p) in old.spike_offset:
                a, b, n = old.spike_offset[id(p)], self.spike_offset[id(p)], held(p)
                pending[b:b + n] = old_pending[a:a + n]
        old_phase, phase = np.asarray(old_state.source_phase), self._initial_phase()
        for p in self.poisson:
            if id(p) in old.poisson_offset:
                a, b, n = old.poisson_offset[id(p)], self.poisson_offset[id(p)], held(p)
                phase[b:b + n] = old_phase[a:a + n]
        return (values, ring.reshape(self.syn_layout.ring, -1), pending, phase,
                self._carry_history(old, old_state))

    def _carry_history(self, old, old_state):
        """The postsynaptic spike history of STDP, mapped onto this network's cells."""
        new_h = self.plastic_layout.history if self.plastic_layout else 0
        old_h = old.plastic_layout.history if old.plastic_layout else 0
        if not new_h or new_h != old_h:
            return None
        src = {f: np.asarray(getattr(old_state.plastic, f))
               for f in ("hist_step", "hist_k", "n_post")}
        out = {"hist_step": np.zeros((self.n_cells, new_h), np.int32),
               "hist_k": np.zeros((self.n_cells, new_h)),
               "n_post": np.zeros(self.n_cells, np.int32)}
        for p in self.neurons:
            if id(p) in old.cell_offset:
                a, b, n = old.cell_offset[id(p)], self.cell_offset[id(p)], held(p)
                for f in out:
                    out[f][b:b + n] = src[f][a:a + n]
        return out

    def apply_pending(self, st):
        """Values given to initialize() while running replace the current state."""
        if not any(p._pending_state for p in self.neurons):
            return st
        values = self.cell_arrays(st)
        for p in self.neurons:
            a = self.cell_offset[id(p)]
            for v, arr in p._pending_state.items():
                values[_field(p.celltype, v)][a:a + held(p)] = arr
            p._pending_state = {}
        plastic = None if st.plastic is None else {
            f: np.asarray(v) for f, v in st.plastic._asdict().items()}
        return self._state_from_arrays(values, np.asarray(st.ring), np.asarray(st.pending),
                                       np.asarray(st.source_phase), plastic)

    # -- running ---------------------------------------------------------------------
    def start_recording(self, state, current=None):
        """Open recording windows; the first sample of a window is the current state
        (``current``: its :meth:`cell_arrays`, if already at hand)."""
        for recorder, name, cols, ids, field in self.rec_map:
            if name == "spikes" or recorder._has_sample(name, ids, state.step):
                continue
            recorder._start_window(state.step)
            if (state.step - recorder._first_step) % recorder.sampling_steps:
                continue  # between samples: the next sample comes from the run
            if current is None:
                current = self.cell_arrays(state.engine_state)
            idx = np.asarray(self.rec_index[field][cols], np.int64)
            recorder._add_samples(name, ids, state.step, current[field][idx][None, :])

    def advance(self, state, n_steps):
        layout, chunk = self.layout, self.layout.chunk
        progress = Progress(state.progress, n_steps, state.dt)

        def launch(st, k0, n):  # asynchronous: returns at once, the chunk runs meanwhile
            return (k0, n) + tuple(engine.run_chunk(layout, self.params, st, jnp.int32(k0),
                                                    jnp.int32(n)))

        done, ahead, programs = 0, None, engine.chunk_programs()
        while done < n_steps:
            k0, n, new_state, outs = ahead or launch(state.engine_state, state.step,
                                                     min(chunk, n_steps - done))
            # The next chunk starts from this one's (future) state before this one's
            # outputs are handled: the host's work on them overlaps the engine's.
            ahead = launch(new_state, k0 + n, min(chunk, n_steps - done - n)) \
                if done + n < n_steps else None
            if not done and engine.chunk_programs() != programs:
                # the compiler's or program loader's working memory (the first time only:
                # later compiles would need it again)
                _memory.release(once="compiled")
            outs = jax.device_get(outs)
            bad = int(new_state.first_bad)
            # Commit the chunk only once it has completed (interrupts leave a consistent state).
            self._dispatch(outs, k0, n, state)
            start, state.engine_state = state.engine_state, new_state
            state.step = k0 + n
            done += n
            progress.update(done)
            if bad >= 0:
                bad = engine.exact_first_bad(layout, self.params, start, jnp.int32(k0),
                                             jnp.int32(n), bad)
                state.engine_state = new_state._replace(first_bad=jnp.int32(bad))
                self._raise_non_finite(new_state, bad, state.dt)

    def _dispatch(self, outs, k0, n, state, sources=True):
        steps = k0 + 1 + np.arange(n)
        events = None
        for recorder, name, cols, ids, field in self.rec_map:
            if name == "spikes":
                if events is None:
                    events = self._spike_events(outs.spikes[:n])
                rows, c, reps = events(cols)
                recorder._add_spikes(np.repeat(ids[c], reps), np.repeat(steps[rows], reps))
                continue
            s = recorder.sampling_steps
            keep = (steps - recorder._first_step) % s == 0
            if keep.any():
                values = getattr(outs, field)[:n, cols]
                # a copy either way (a view would hold the whole chunk's array)
                values = np.array(values) if keep.all() else values[keep]
                recorder._add_samples(name, ids, int(steps[keep][0]), np.asarray(values, float))
        for i, source in enumerate(self.source_order if sources else ()):
            if source.recording:
                trace = source.__dict__.setdefault("_trace", [])
                trace.append(np.asarray(outs.currents[:n, i], float))

    def _spike_events(self, spikes):
        """The recorded spikes of a chunk, found once: a function giving, for a recorder's
        column slice, its (rows, columns within the slice, counts), rows in time order.

        The events are grouped by column slice with one stable sort, so that many
        recorders cost O(spikes log spikes), not O(recorders x spikes)."""
        rows, c, reps = engine.spike_events(spikes, len(self.rec_index["spikes"]))
        starts = np.array(sorted({cols.start for _, name, cols, _, _ in self.rec_map
                                  if name == "spikes"}), np.int64)
        group = np.searchsorted(starts, c, side="right") - 1
        order = np.argsort(group, kind="stable")  # time order kept within a group
        rows, c, reps, group = rows[order], c[order], reps[order], group[order]

        def of(cols):
            g = np.searchsorted(starts, cols.start)
            lo, hi = np.searchsorted(group, [g, g + 1])
            keep = c[lo:hi] < cols.stop
            return rows[lo:hi][keep], c[lo:hi][keep] - cols.start, reps[lo:hi][keep]

        return of

    def _raise_non_finite(self, st, bad_step, dt):
        values = self.cell_arrays(st)
        for v in _SIGNALS:
            bad = np.flatnonzero(~np.isfinite(values[v]))
            if bad.size:
                break
        cell = int(bad[0]) if bad.size else 0
        for p in self.neurons:
            a = self.cell_offset[id(p)]
            if a <= cell < a + held(p):
                params = ", ".join(f"{k} = {np.broadcast_to(v, (held(p),))[cell - a]!r}"
                                   for k, v in p._parameters.items())
                index = int(np.flatnonzero(p._mask_local)[cell - a])
                raise NumericalError(
                    f"non-finite state in population '{p.label}': {v} of cell {index} "
                    f"(ID {int(p.first_id) + index}) is {values[v][cell]} at t = "
                    f"{bad_step * dt:g} ms (method '{p.celltype.method}', dt = {dt} ms; {params}). "
                    "Data recorded so far is kept; reset() to start again"
                )
        raise NumericalError(f"non-finite state at t = {bad_step * dt:g} ms")


def _field(celltype, name):
    """The engine field of a PyNN variable (PointNeuron: 'AMPA.isyn' -> 'syn0')."""
    f = getattr(celltype, "engine_variable", None)
    return f(name) if f else name


def _pynn_name(celltype, field):
    f = getattr(celltype, "pynn_variable", None)
    return f(field) if f else field


def _ring_rows(neurons, projections):
    """Rows of the delay ring buffer: a PointNeuron's R synapse types; else excitatory and
    inhibitory, or the excitatory row alone when no projection is inhibitory (the engine
    then gives the cells no inhibitory input: half the ring to clear and read every step,
    W3 10-15 % faster; a later inhibitory projection rebuilds the network with two)."""
    multi = [len(p.celltype.receptor_types) for p in neurons
             if getattr(p.celltype, "multisynapse", False)]
    if multi:
        return max([2] + multi)
    return 1 + any(_receptor_row(prj) > 0 for prj in projections)


def _receptor_row(prj):
    """The ring-buffer row of a projection's receptor type (0/1: excitatory/inhibitory)."""
    celltype = _populations_of(prj.post)[0].celltype
    if getattr(celltype, "multisynapse", False):
        return list(celltype.receptor_types).index(prj.receptor_type)
    return 0 if prj.receptor_type == "excitatory" else 1


def _populations_of(cell_set):
    return [pop for pop, _, _ in population_parts(cell_set, np.arange(cell_set.size))]


def _post_values(prj, name):
    """A parameter of each connection's postsynaptic cell."""
    out = np.empty(len(prj))
    for pop, where, idx in population_parts(prj.post, prj._post):
        if name not in pop._parameters:
            raise errors.ConnectionError(
                f"{type(prj.synapse_type).__name__} needs a postsynaptic {name} (exponential "
                f"synaptic currents), which {type(pop.celltype).__name__} does not have")
        out[where] = np.broadcast_to(pop._parameters[name], (held(pop),))[
            local_positions(pop, idx)]
    return out


def current(state):
    """The engine network of `state`, (re)built first if the host network changed."""
    if state.changed or state.network is None:
        state.network = build(state, state.network)
        state.changed = False
        _memory.release(once="built")  # the first build's temporary arrays
    return state.network


def build(state, old):
    """Build (or rebuild) the engine network, carrying over the current state if any."""
    for prj in state.projections:
        prj._pull()  # plastic synapses keep what they learnt
        prj._flush()
    net = Network(state)
    if state.engine_state is None:
        st = net.initial_state()
    elif old is not None:
        st = net._state_from_arrays(*net.carry_state(old, state.engine_state, state.step))
    else:  # pragma: no cover - engine state without a network cannot happen
        st = net.initial_state()
    st = net.apply_pending(st)
    net.silence_inh(st)
    if state.devices is not None and len(state.devices) > 1:
        m = engine.sharding.mesh(state.devices)
        net.params = engine.sharding.shard_params(net.params, m)
        st = engine.sharding.shard_state(st, m)
    state.engine_state = st
    return net


def current_source_trace(state, source):
    """(times, amplitudes) of a recorded current source: one sample per step from t = 0."""
    parts = list(source.__dict__.get("_trace", []))
    values = np.concatenate(parts) if parts else np.zeros(0)
    n = state.step + 1
    out = np.zeros(n)
    out[: min(values.size, n)] = values[:n]
    if values.size < n and state.network is not None and source in state.network.source_order:
        net = state.network
        last = engine.current_values(net.params, state.step)
        out[-1] = float(last[net.source_order.index(source)])
    return np.arange(n) * state.dt, out

