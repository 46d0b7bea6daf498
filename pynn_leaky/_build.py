"""Host network -> engine pytrees, and the chunked run loop that feeds the recorders.

Built lazily at the first run() after a change. Connectivity tables are cached per
projection version, so changing a neuron parameter between runs costs O(cells), not
O(synapses), and keeps the compiled program (same layout and shapes).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
from pyNN import common

from . import engine
from .engine import currents as ec
from .engine import sources as es
from .engine import synapses as esyn
from .simulator import NumericalError, Progress
from .standardmodels.cells import (
    SpikeSourceArray,
    SpikeSourcePoisson,
    is_neuron,
    is_spiking_neuron,
)

NEVER = es.NEVER
_SIGNALS = engine.RECORDABLE
_FIELDS = engine.FIELDS  # every per-cell state field of any model


def _group_key(pop):
    return (pop.celltype.engine_model, pop.celltype.method)


def _pow2(n):
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def _clip_step(x):
    return np.clip(x, 0, NEVER - 1).astype(np.int32)


def population_parts(cell_set, local):
    """Split indices within a Population/PopulationView/Assembly by population.

    Returns a list of (population, positions in `local`, indices in that population).
    """
    local = np.asarray(local, dtype=np.int64)
    if isinstance(cell_set, common.Assembly):
        bounds = np.cumsum([0] + [p.size for p in cell_set.populations])
        owner = np.searchsorted(bounds, local, side="right") - 1
        parts = []
        for k, member in enumerate(cell_set.populations):
            where = np.flatnonzero(owner == k)
            for pop, sub, idx in population_parts(member, local[where] - bounds[k]):
                parts.append((pop, where[sub], idx))
        return parts
    everything = np.arange(local.size)
    if isinstance(cell_set, common.PopulationView):
        idx = np.asarray(cell_set.index_in_grandparent(local), dtype=np.int64)
        return [(cell_set.grandparent, everything, idx)]
    return [(cell_set, everything, local)]


def global_index(cell_set, local, offsets):
    """Indices within `cell_set` to indices in an engine index space (`offsets` per pop)."""
    out = np.empty(np.shape(local), np.int64)
    for pop, where, idx in population_parts(cell_set, local):
        out[where] = offsets[id(pop)] + idx
    return out


class Network:
    """The engine's view of the host network, plus the maps back to PyNN objects."""

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
        self.poisson = [p for p in pops if isinstance(p.celltype, SpikeSourcePoisson)]
        self.spiking_neurons = [p for p in self.neurons if is_spiking_neuron(p.celltype)]
        self.spikers = self.arrays + self.poisson + self.spiking_neurons
        self.cell_offset = self._offsets(self.neurons)
        self.spike_offset = self._offsets(self.spikers)
        self.n_cells = sum(p.size for p in self.neurons)
        self.n_array = sum(p.size for p in self.arrays)
        self.n_spiking = sum(p.size for p in self.spikers)
        self.groups = [
            engine.GroupLayout(
                n=sum(p.size for p in self.members[k]),
                method=k[1],
                has_noise=any(np.any(np.asarray(p._parameters.get("noise", 0.0)) != 0)
                              for p in self.members[k]),
                model=k[0],
            )
            for k in keys
        ]
        self.sources = [s for s in state.current_sources if s.cells]
        self._build_synapses(state)
        self._build_recording(state)
        schedule, kmax = self._schedule(state.dt)
        poisson = self._poisson(state.dt)
        self.layout = engine.Layout(
            groups=tuple(self.groups),
            n_array=self.n_array,
            array_kmax=kmax,
            n_poisson=sum(p.size for p in self.poisson),
            poisson_terms=es.poisson_terms(
                float(np.max(poisson.rate, initial=0.0)) * state.dt * 1e-3
            ),
            synapses=self.syn_layout,
            chunk=self._chunk(state),
        )
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
        )

    @staticmethod
    def _offsets(pops):
        offsets, start = {}, 0
        for p in pops:
            offsets[id(p)] = start
            start += p.size
        return offsets

    # -- parameters ------------------------------------------------------------------
    def _group_params(self, overrides=None):
        """Engine parameters of every group; `overrides` {id(pop): {name: values}}."""
        overrides = overrides or {}
        out = []
        for members in self.members.values():
            parts = [
                p.celltype.engine_parameters(
                    {k: np.broadcast_to(overrides.get(id(p), {}).get(k, v), (p.size,))
                     for k, v in p._parameters.items()},
                    self.dt,
                )
                for p in members
            ]
            out.append(jax.tree.map(
                lambda *xs: jnp.asarray(
                    np.concatenate(xs),
                    jnp.int32 if np.issubdtype(np.asarray(xs[0]).dtype, np.integer)
                    else self.dtype,
                ),
                *parts,
            ))
        return tuple(out)

    def _schedule(self, dt):
        steps, cells = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        dropped = 0
        for p in self.arrays:
            seqs = np.broadcast_to(np.asarray(p._parameters["spike_times"], dtype=object),
                                   (p.size,))
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
            warnings.warn(f"{dropped} spike(s) at t <= 0 ms cannot be emitted and were dropped",
                          stacklevel=5)
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

    def _poisson(self, dt):
        def gather(name):
            return np.concatenate(
                [np.broadcast_to(p._parameters[name], (p.size,)) for p in self.poisson]
                or [np.zeros(0)]
            ).astype(float)

        start, duration = gather("start"), gather("duration")
        return es.PoissonParams(
            rate=jnp.asarray(gather("rate"), self.dtype),
            start=jnp.asarray(_clip_step(np.rint(start / dt)), jnp.int32),
            stop=jnp.asarray(_clip_step(np.rint(np.minimum((start + duration) / dt, 2.0**31))),
                             jnp.int32),
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
                target.append(self.cell_offset[id(p)] + cells[sel] - int(p.first_id))
                source_idx.append(np.full(sel.sum(), i, np.int64))
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
            self.syn_layout, self.syn_table = old.syn_layout, old.syn_table
            self.syn_order = old.syn_order
            return
        pre, target, delay, weight = [], [], [], []
        for prj in state.projections:
            if len(prj) == 0:
                continue
            pre.append(global_index(prj.pre, prj._pre, self.spike_offset))
            receptor = 0 if prj.receptor_type == "excitatory" else 1
            post = global_index(prj.post, prj._post, self.cell_offset)
            target.append(receptor * self.n_cells + post)
            delay.append(prj._delay_steps)
            weight.append(prj._weight)
        cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
        pre, target = cat(pre, np.int64), cat(target, np.int64)
        delay, weight = cat(delay, np.int64), cat(weight, float)
        order = np.argsort(pre, kind="stable")
        self.syn_order = order  # table position i holds connection order[i] (projection order)
        counts = np.bincount(pre, minlength=self.n_spiking)
        row_ptr = np.concatenate([[0], np.cumsum(counts)])
        ring = int(max(delay.max(initial=1), 1)) + 1
        self.syn_layout = esyn.SynapseLayout(
            n_pre=self.n_spiking,
            n_target=2 * self.n_cells,
            n_syn=int(pre.size),
            ring=ring,
            max_fanout=int(counts.max(initial=0)),
            mode="event",
        )
        self.syn_table = esyn.SynapseTable(
            row_ptr=jnp.asarray(row_ptr, jnp.int32),
            target=jnp.asarray(target[order], jnp.int32),
            delay=jnp.asarray(delay[order], jnp.int32),
            weight=jnp.asarray(weight[order], self.dtype),
        )

    # -- recording -------------------------------------------------------------------
    def _build_recording(self, state):
        self.rec_index = {v: [] for v in (*_SIGNALS, "spikes")}
        self.rec_map = []  # (recorder, variable, column slice, ids)
        for p in self.neurons + self.arrays + self.poisson:
            for variable, ids in p.recorder.recorded.items():
                offsets = self.spike_offset if variable.name == "spikes" else self.cell_offset
                if not ids:
                    continue
                ids = np.sort(np.fromiter((int(i) for i in ids), np.int64))
                cols = self.rec_index[variable.name]
                start = len(cols)
                cols.extend((offsets[id(p)] + ids - int(p.first_id)).tolist())
                self.rec_map.append((p.recorder, variable.name, slice(start, len(cols)), ids))

    def _chunk(self, state):
        # Per-step arrays held for a whole chunk: recorded values and Poisson uniforms.
        width = (sum(len(v) for v in self.rec_index.values()) + len(self.sources)
                 + sum(p.size for p in self.poisson))
        return int(np.clip(8_000_000 // max(width, 1), 16, state.chunk_steps))

    # -- state -----------------------------------------------------------------------
    def initial_state(self):
        values = {v: self._initial(v) for v in _FIELDS}
        ring = np.zeros((self.syn_layout.ring, self.syn_layout.n_target))
        return self._state_from_arrays(values, ring, np.zeros(self.n_spiking, np.int32))

    def _initial(self, variable):
        # Fields that are not PyNN initial values (refractory count, ...) start at 0.
        parts = [np.broadcast_to(p.initial_values[variable].evaluate(simplify=False), (p.size,))
                 if variable in p.initial_values else np.zeros(p.size)
                 for p in self.neurons]
        out = np.concatenate(parts) if parts else np.zeros(0)
        return out.astype(np.int32) if variable == "refrac" else out.astype(float)

    def _state_from_arrays(self, values, ring, pending):
        return engine.init_state(self.layout, self.params, values, ring, pending)

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
        old_ring = np.asarray(old_state.ring).reshape(old.syn_layout.ring, 2, old.n_cells)
        ring = np.zeros((self.syn_layout.ring, 2, self.n_cells))
        due = step + 1 + np.arange(old.syn_layout.ring - 1)  # slots still to be read
        for p in self.neurons:
            if id(p) not in old.cell_offset:
                continue
            a, b = old.cell_offset[id(p)], self.cell_offset[id(p)]
            for v in _FIELDS:
                values[v][b:b + p.size] = old_values[v][a:a + p.size]
            ring[due % self.syn_layout.ring, :, b:b + p.size] = \
                old_ring[due % old.syn_layout.ring, :, a:a + p.size]
        old_pending = np.asarray(old_state.pending)
        pending = np.zeros(self.n_spiking, np.int32)
        for p in self.spikers:
            if id(p) in old.spike_offset:
                a, b = old.spike_offset[id(p)], self.spike_offset[id(p)]
                pending[b:b + p.size] = old_pending[a:a + p.size]
        return values, ring.reshape(self.syn_layout.ring, -1), pending

    def apply_pending(self, st):
        """Values given to initialize() while running replace the current state."""
        if not any(p._pending_state for p in self.neurons):
            return st
        values = self.cell_arrays(st)
        for p in self.neurons:
            for v, arr in p._pending_state.items():
                values[v][self.cell_offset[id(p)]:self.cell_offset[id(p)] + p.size] = arr
            p._pending_state = {}
        return self._state_from_arrays(values, np.asarray(st.ring), np.asarray(st.pending))

    # -- running ---------------------------------------------------------------------
    def start_recording(self, state):
        """Open recording windows; the first sample of a window is the current state."""
        current = None
        for recorder, name, cols, ids in self.rec_map:
            if name == "spikes" or recorder._has_sample(name, ids, state.step):
                continue
            recorder._start_window(state.step)
            if (state.step - recorder._first_step) % recorder.sampling_steps:
                continue  # between samples: the next sample comes from the run
            if current is None:
                current = self.cell_arrays(state.engine_state)
            idx = np.asarray(self.rec_index[name][cols], np.int64)
            recorder._add_samples(name, ids, state.step, current[name][idx][None, :])

    def advance(self, state, n_steps):
        layout, chunk = self.layout, self.layout.chunk
        progress = Progress(state.progress, n_steps, state.dt)
        done = 0
        while done < n_steps:
            n = min(chunk, n_steps - done)
            k0 = state.step
            new_state, outs = engine.run_chunk(layout, self.params, state.engine_state,
                                               jnp.int32(k0), jnp.int32(n))
            outs = jax.device_get(outs)
            bad = int(new_state.first_bad)
            # Commit the chunk only once it has completed (interrupts leave a consistent state).
            self._dispatch(outs, k0, n, state)
            state.engine_state = new_state
            state.step = k0 + n
            done += n
            progress.update(done)
            if bad >= 0:
                self._raise_non_finite(new_state, bad, state.dt)

    def _dispatch(self, outs, k0, n, state, sources=True):
        steps = k0 + 1 + np.arange(n)
        spikes = None
        for recorder, name, cols, ids in self.rec_map:
            if name == "spikes":
                if spikes is None:
                    spikes = engine.spike_counts(outs.spikes[:n], len(self.rec_index["spikes"]))
                counts = spikes[:, cols]
                rows, c = np.nonzero(counts)
                reps = counts[rows, c]
                recorder._add_spikes(np.repeat(ids[c], reps), np.repeat(steps[rows], reps))
                continue
            s = recorder.sampling_steps
            keep = (steps - recorder._first_step) % s == 0
            if keep.any():
                values = getattr(outs, name)[:n, cols][keep]
                recorder._add_samples(name, ids, int(steps[keep][0]), np.asarray(values, float))
        for i, source in enumerate(self.source_order if sources else ()):
            if source.recording:
                trace = source.__dict__.setdefault("_trace", [])
                trace.append(np.asarray(outs.currents[:n, i], float))

    def _raise_non_finite(self, st, bad_step, dt):
        values = self.cell_arrays(st)
        for v in _SIGNALS:
            bad = np.flatnonzero(~np.isfinite(values[v]))
            if bad.size:
                break
        cell = int(bad[0]) if bad.size else 0
        for p in self.neurons:
            a = self.cell_offset[id(p)]
            if a <= cell < a + p.size:
                params = ", ".join(f"{k} = {np.broadcast_to(v, (p.size,))[cell - a]!r}"
                                   for k, v in p._parameters.items())
                raise NumericalError(
                    f"non-finite state in population '{p.label}': {v} of cell {cell - a} "
                    f"(ID {int(p.first_id) + cell - a}) is {values[v][cell]} at t = "
                    f"{bad_step * dt:g} ms (method '{p.celltype.method}', dt = {dt} ms; {params}). "
                    "Data recorded so far is kept; reset() to start again"
                )
        raise NumericalError(f"non-finite state at t = {bad_step * dt:g} ms")


def build(state, old):
    """Build (or rebuild) the engine network, carrying over the current state if any."""
    for prj in state.projections:
        prj._flush()
    net = Network(state)
    if state.engine_state is None:
        st = net.initial_state()
    elif old is not None:
        st = net._state_from_arrays(*net.carry_state(old, state.engine_state, state.step))
    else:  # pragma: no cover - engine state without a network cannot happen
        st = net.initial_state()
    st = net.apply_pending(st)
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

