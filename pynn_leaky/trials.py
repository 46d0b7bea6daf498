"""Batched trials: B independent runs of one network as one vectorised computation.

``run_trials(duration, rng_seeds=[...], parameters={...})`` starts every trial from the
simulator's current state, runs them together (``jax.vmap`` over the engine), and returns
one Neo Block per recorded population with one Segment per trial. The simulator itself
(time, state, recorded data) is left untouched. A trial with seed ``s`` gives exactly what
an ordinary ``run(duration)`` after ``setup(rng_seed=s)`` gives.
"""

import contextlib
import math

import jax
import jax.numpy as jnp
import neo
import numpy as np
from pyNN import errors

from . import _build, control, engine, simulator
from .engine import sources as es
from .standardmodels.cells import SpikeSourceArray


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def run_trials(duration, trials=None, rng_seeds=None, parameters=None, devices=None):
    """Run B trials of `duration` ms from the current state; return {population: Block}.

    Parameters
    ----------
    duration : float
        Length of each trial (ms), >= 0.
    trials : int, optional
        Number of trials; with no `rng_seeds` the seeds are ``rng_seed + i``.
    rng_seeds : sequence of int, optional
        One seed per trial (all random processes: Poisson sources, noise).
    parameters : dict, optional
        ``{population: {name: values}}`` with one value (scalar or per-cell array) per
        trial for each named parameter, e.g. ``{cells: {"tau": [10, 20, 30]}}``.
    devices : int, sequence of jax devices, or None
        Split the trials over these devices (an int N: the first N devices of JAX's
        default platform, as in ``setup``). None: the devices of ``setup(devices=...)``,
        else one device. Results do not depend on it.
    """
    state = simulator.state
    if not state.initialized:
        raise RuntimeError("pynn_leaky: call setup() before run_trials()")
    if state.emulated:
        raise NotImplementedError(
            "pynn_leaky: run_trials() is not available in an emulated partition "
            f"(num_processes = {state.num_processes}, rank = {state.mpi_rank}); use run()")
    if not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration >= 0):
        raise errors.InvalidParameterValueError(
            f"duration = {duration!r} is not allowed: it must be a finite number >= 0 (ms)"
        )
    if rng_seeds is None:
        if not (isinstance(trials, int) and trials >= 1):
            raise errors.InvalidParameterValueError(
                f"trials = {trials!r} is not allowed: give an integer >= 1 or rng_seeds"
            )
        rng_seeds = [state.rng_seed + i for i in range(trials)]
    seeds = [int(s) for s in rng_seeds]
    n_trials = len(seeds)
    if trials is not None and trials != n_trials:
        raise errors.InvalidParameterValueError(
            f"trials = {trials!r} does not match the {n_trials} rng_seeds given"
        )
    parameters = parameters or {}
    # Several devices: the trials are split over them, padded to a multiple of their
    # number with copies of the last trial (computed, then dropped).
    chosen = state.devices if devices is None else control.device_list(devices)
    devices = tuple(chosen[:n_trials]) if chosen and len(chosen) > 1 and n_trials > 1 \
        else None
    padded = n_trials if devices is None else -(-n_trials // len(devices)) * len(devices)
    overrides = [{} for _ in range(n_trials)]
    for pop, values in parameters.items():
        root = getattr(pop, "grandparent", pop)
        if isinstance(root.celltype, SpikeSourceArray):
            raise NotImplementedError(
                f"parameters[{pop.label!r}]: per-trial spike_times of a SpikeSourceArray are "
                "not supported by run_trials; run the trials one by one")
        for name, per_trial in values.items():
            if name not in pop.celltype.get_parameter_names():
                raise errors.NonExistentParameterError(
                    name, type(pop.celltype).__name__, pop.celltype.get_parameter_names())
            if len(per_trial) != n_trials:
                raise errors.InvalidDimensionsError(
                    f"parameters[{pop.label!r}][{name!r}] has {len(per_trial)} values: "
                    f"give one per trial ({n_trials})"
                )
            for b, value in enumerate(per_trial):
                root = getattr(pop, "grandparent", pop)
                full = np.array(np.broadcast_to(root._parameters[name], (root.size,)), float)
                where = pop.index_in_grandparent(np.arange(pop.size)) if root is not pop \
                    else slice(None)
                full[where] = value
                overrides[b].setdefault(id(root), {})[name] = full

    net = _build.current(state)
    overrides += [overrides[-1]] * (padded - n_trials)
    seeds_run = seeds + [seeds[-1]] * (padded - n_trials)
    groups = net.trial_group_params(overrides) if parameters else net.params.groups
    # Random sources (rate, start, ...) given per trial: one source table per trial.
    sources = any(id(getattr(p, "grandparent", p)) in {id(q) for q in net.poisson}
                  for p in parameters)
    poisson = _stack([net._poisson(state.dt, o) for o in overrides]) if sources \
        else net.params.poisson
    params = net.params._replace(
        groups=groups,
        poisson=poisson,
        key=jnp.stack([jax.random.key_data(jax.random.key(s % 2**32)) for s in seeds_run]),
    )
    batched = jax.tree.map(lambda _: False, net.params)._replace(
        groups=jax.tree.map(lambda _: bool(parameters), net.params.groups),
        poisson=jax.tree.map(lambda _: sources, net.params.poisson),
        key=True,
    )
    # (Event-driven delivery folds the trials into one network under vmap: see
    # engine.synapses.)
    syn = net.layout.synapses
    # Noise switched on in some trial needs the noisy step (a static choice); only the
    # leaky integrator (alone or inside IF_curr_exp) has a noise parameter.
    # check_every_step: a trial's first non-finite step is reported exactly, without
    # running the chunk again
    layout = net.layout._replace(synapses=syn, check_every_step=True, poisson_terms=max(
        net.layout.poisson_terms,
        es.poisson_terms(float(np.max(params.poisson.rate, initial=0.0)) * state.dt * 1e-3),
    ), groups=tuple(
        g._replace(has_noise=g.has_noise or bool(np.any(np.asarray(
            getattr(getattr(p, "leaky", p), "noise", 0.0)) != 0)))
        for g, p in zip(net.layout.groups, params.groups)
    ))
    st = jax.tree.map(lambda x: jnp.broadcast_to(x, (padded,) + x.shape),
                      state.engine_state)
    if devices is not None:  # placed once for all chunks
        mesh = engine.sharding.trials_mesh(devices)
        params = engine.sharding.place_trials(params, batched, mesh)
        st = engine.sharding.place_trials(st, jax.tree.map(lambda _: True, st), mesh)
    n_steps = int(np.rint(duration / state.dt))
    recorded = _TrialRecorders(net, state, n_trials)
    k, end, ahead = state.step, state.step + n_steps, None
    while k < end:
        n = min(layout.chunk, end - k)
        st, outs = engine.run_chunk_batched(layout, params, batched, st, np.int32(k),
                                            np.int32(n), devices)
        if ahead is not None:  # the previous chunk's outputs, handled while this one runs
            recorded.add(*ahead[:2], jax.device_get(ahead[2]))
        ahead = (k, n, outs)
        k += n
    if ahead is not None:
        recorded.add(*ahead[:2], jax.device_get(ahead[2]))
    bad = np.asarray(st.first_bad)[:n_trials]
    if (bad >= 0).any():
        b = int(np.flatnonzero(bad >= 0)[0])
        raise simulator.NumericalError(
            f"trial {b} (rng_seed {seeds[b]}) became non-finite at t = {bad[b] * state.dt:g} ms"
        )
    return recorded.blocks(seeds, parameters, end)


class _TrialRecorders:
    """Each trial's recorded data, handed to the recorders chunk by chunk as the chunks'
    outputs arrive (while the next chunk runs), then made into one Segment per trial.

    A trial's data live in the recorders' own buffers only for the time of one call
    (:meth:`_as`); the recorders are left as they were, whatever happens."""

    def __init__(self, net, state, n_trials):
        self.net, self.state = net, state
        self.recorders = list({id(r): r for r, *_ in net.rec_map}.values())
        current = net.cell_arrays(state.engine_state)  # every trial's first sample
        self.trials = [None] * n_trials
        for b in range(n_trials):
            with self._as(b):
                for r in self.recorders:
                    r._clear_buffers()
                net.start_recording(state, current)

    _FIELDS = ("_signals", "_spikes", "_first_step", "_recording_start_time")

    def _buffers(self, values=None):
        """The recorders' buffers; with ``values`` (as returned before), set them."""
        if values is None:
            return [[getattr(r, f) for f in self._FIELDS] for r in self.recorders]
        for r, vs in zip(self.recorders, values):
            for f, v in zip(self._FIELDS, vs):
                setattr(r, f, v)

    @contextlib.contextmanager
    def _as(self, b):
        """The recorders hold trial b's buffers within (kept when the block ends)."""
        saved, start = self._buffers(), self.state.step
        try:
            if self.trials[b] is not None:
                self._buffers(self.trials[b])
            yield
            self.trials[b] = self._buffers()
        finally:
            self.state.step = start
            self._buffers(saved)

    def add(self, k0, n, outs):
        """Hand each trial its rows of a chunk's outputs (host arrays, trials first)."""
        for b in range(len(self.trials)):
            with self._as(b):
                self.net._dispatch(jax.tree.map(lambda x, b=b: x[b], outs), k0, n,
                                   self.state, sources=False)

    def blocks(self, seeds, parameters, end):
        """{population: Block} with one Segment per trial, ending at step ``end``."""
        blocks = {r.population: neo.Block(name=r.population.label) for r in self.recorders}
        for b, seed in enumerate(seeds):
            with self._as(b):
                self.state.step = end  # segments end at the trial's end
                for r in self.recorders:
                    seg = r._get_current_segment()
                    seg.name = f"trial{b:03d}"
                    seg.annotate(trial=b, rng_seed=seed, **{
                        f"{pop.label}.{name}": np.asarray(values[b]).tolist()
                        for pop, d in parameters.items() for name, values in d.items()
                    })
                    seg.block = blocks[r.population]
                    blocks[r.population].segments.append(seg)
        for r in self.recorders:
            blocks[r.population].annotate(**r.metadata)
        return blocks
