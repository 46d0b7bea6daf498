"""A whole network: layout (static), parameters and state (pytrees), and the step loop.

Index spaces
------------
* cells: all neurons (LeakyIntegrator, IF_curr_exp, ...), group after group (``groups``;
  one group per cell model and method, see MODELS);
* spiking: array sources, Poisson sources, then the cells of spiking groups in group
  order; the presynaptic index of a synapse;
* targets: ``receptor * n_cells + cell`` (receptor 0 excitatory, 1 inhibitory; a
  network with receptor 0 alone, ``n_target == n_cells``, gives the cells of models with
  two receptors no inhibitory input).

One call of :func:`run_chunk` advances ``n_active <= chunk`` steps in one compiled
``lax.while_loop``, so runs of any length reuse one program.
"""

import warnings
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import PartitionSpec

from . import (
    _aeif,
    _currents,
    _hh,
    _iaf,
    _iaf_alpha,
    _iaf_cond,
    _iaf_delta,
    _izhikevich,
    _leaky,
    _multisynapse,
    _plastic,
    _sharding,
    _sources,
    _synapses,
)


class _Model(NamedTuple):
    """A cell model: prepare (once per chunk), step, init, and whether it spikes."""

    prepare: object
    step: object  # (prepared, state, i_inj, exc, inh, key, method, noise) -> (state, spikes)
    # spikes: (n,) bool or int32 counts (several per step are possible), None if not spiking
    init: object
    state: type
    spiking: bool
    recordable: tuple  # the state fields that are recordable signals (floats)
    receptors: int = 0  # R > 0: step gets all R receptor rows (R, n) as `exc`, None as `inh`


def _leaky_step(prop, state, *args):
    return _leaky.step(prop, state, *args), None


def _constant_for_grad(step):
    """NEST's adaptive integration is a while loop, which has no reverse-mode derivative:
    such cells see their inputs as constants under jax.grad (their state passes no
    gradient), so that the rest of a network that contains them stays differentiable."""

    def wrapped(prepared, state, i_inj, exc, inh, *rest):
        prepared, state, i_inj, exc, inh = lax.stop_gradient((prepared, state, i_inj, exc, inh))
        return step(prepared, state, i_inj, exc, inh, *rest)

    wrapped.adaptive = True
    return wrapped


_SIGNALS = ("v", "isyn_exc", "isyn_inh")
_adaptive = _constant_for_grad
MODELS = {
    "leaky": _Model(_leaky.prepare, _leaky_step, _leaky.init, _leaky.LeakyState, False,
                    _SIGNALS),
    "iaf": _Model(_iaf.prepare, _iaf.step, _iaf.init, _iaf.IafState, True, _SIGNALS),
    "iaf_alpha": _Model(_iaf_alpha.prepare, _iaf_alpha.step, _iaf_alpha.init,
                        _iaf_alpha.IafAlphaState, True, _iaf_alpha.RECORDABLE),
    "iaf_delta": _Model(_iaf_delta.prepare, _iaf_delta.step, _iaf_delta.init,
                        _iaf_delta.IafDeltaState, True, _iaf_delta.RECORDABLE),
    "izhikevich": _Model(_izhikevich.prepare, _izhikevich.step, _izhikevich.init,
                         _izhikevich.IzhikevichState, True, _izhikevich.RECORDABLE),
    # integrated with NEST's adaptive scheme (engine.gsl)
    "iaf_cond_exp": _Model(_iaf_cond.prepare, _adaptive(_iaf_cond.step_exp),
                           _iaf_cond.init_exp, _iaf_cond.IafCondExpState, True,
                           _iaf_cond.RECORDABLE),
    "iaf_cond_alpha": _Model(_iaf_cond.prepare, _adaptive(_iaf_cond.step_alpha),
                             _iaf_cond.init_alpha, _iaf_cond.IafCondAlphaState, True,
                             _iaf_cond.RECORDABLE),
    "iaf_cond_exp_sfa_rr": _Model(_iaf_cond.prepare_sfa_rr, _adaptive(_iaf_cond.step_sfa_rr),
                                  _iaf_cond.init_sfa_rr, _iaf_cond.SfaRrState, True,
                                  _iaf_cond.SFA_RR_RECORDABLE),
    "aeif_cond_exp": _Model(_aeif.prepare, _adaptive(_aeif.step_exp), _aeif.init_exp,
                            _aeif.AeifExpState, True, _aeif.RECORDABLE),
    "aeif_cond_alpha": _Model(_aeif.prepare, _adaptive(_aeif.step_alpha), _aeif.init_alpha,
                              _aeif.AeifAlphaState, True, _aeif.RECORDABLE),
    "hh_cond_exp_traub": _Model(_hh.prepare, _adaptive(_hh.step), _hh.init, _hh.HHState,
                                True, _hh.RECORDABLE),
}
MODELS.update({  # PointNeuron compositions with R synapse types
    name: m._replace(step=_adaptive(m.step)) if name.startswith("aeif") else m
    for name, m in _multisynapse.models(_Model).items()
})

ADAPTIVE = frozenset(name for name, m in MODELS.items() if getattr(m.step, "adaptive", False))
"""Models integrated with NEST's adaptive scheme. Every other model also takes a parameter
equal in all cells of a group as one value (shape (1,), broadcast): the step then reads
fewer per-cell arrays. The adaptive ones keep per-cell arrays, which XLA evaluates exactly
as verified against NEST (broadcast operands change the last bits, which their
exponential terms amplify)."""

RECORDABLE = tuple(dict.fromkeys(f for m in MODELS.values() for f in m.recordable))
"""Every recordable signal of any model; a model lacking one records NaN for its cells."""
FIELDS = tuple(dict.fromkeys(f for m in MODELS.values() for f in m.state._fields))
"""Every per-cell state field of any model (carried across rebuilds by name)."""


SILENT_INH_MODELS = frozenset({"leaky", "iaf"})
"""Models whose inhibitory synaptic current is the state field ``isyn_inh`` alone: where
it is zero and no synapse reaches it, it stays zero (see ``GroupLayout.silent_inh``)."""


class GroupLayout(NamedTuple):
    n: int
    method: str
    has_noise: bool
    model: str = "leaky"  # a key of MODELS
    # The group's isyn_inh is zero in every cell and no synapse reaches it (a model of
    # SILENT_INH_MODELS), so it stays zero: the step neither reads nor rewrites it (W3,
    # 10^5 cells: one of 5 passes over the cells per step less, and one input less for
    # the v update). The caller guarantees it.
    silent_inh: bool = False

    @property
    def spiking(self):
        return MODELS[self.model].spiking


class Layout(NamedTuple):
    """Everything static about a network: sizes and options. Hashable."""

    groups: tuple  # of GroupLayout, LeakyIntegrator cells
    n_array: int
    array_kmax: int
    n_poisson: int
    poisson_terms: int
    synapses: _synapses.SynapseLayout
    chunk: int
    plastic: _plastic.PlasticLayout = None  # None: no plastic synapses
    spikes_all: bool = False  # the recorded spikes are those of every spiking index, in order
    # Steps per check of the chunk loop's condition. On a GPU each check of a dynamic
    # loop condition waits for the device; blocks of this many steps (a loop of static
    # trip count) make the waits that much rarer. 1: one plain loop (CPU).
    steps_per_sync: int = 1
    # Steps whose spikes are delivered together (see _synapses): at most the synapses'
    # minimum delay, event mode without plastic synapses only; fewer, larger deliveries
    # (each costs several dependent kernels, which a GPU pays in latency). 1: every step.
    interval: int = 1
    # Compile with XLA's region analysis in copy insertion: XLA then updates the cell
    # states in place instead of copying every state array in every step (CPU: W3 at
    # 10^5 cells 39 % faster, W1 20 %). Needs a jaxlib that knows the option (else plain).
    # It also selects how the STDP history is written (_plastic.append_post, in_place).
    region_analysis: bool = False
    # Some spiking index has no static synapses (e.g. a spiking output layer): each
    # step's spikes are then masked before the static delivery (_step, with_synapses).
    skip_empty_rows: bool = False
    # The finite check of v. False: groups of ABSORBING models are checked once, after
    # the chunk's last step (a pass over their cells less per step: W3, 10^5 cells, 1 of
    # 5), and a non-finite v found there is reported at that step (see exact_first_bad);
    # other groups every step. True: every group every step, the first step exactly.
    check_every_step: bool = False
    # With interval D > 1: the chunk loop runs whole windows of D steps (from a step k
    # with k % D == 0) as blocks, a loop of D - 1 steps that store their spikes and then
    # the step that delivers the window, without a per-step condition; the steps before
    # the first and after the last whole window run one at a time. The same results; on a
    # GPU each conditional is a kernel launch and a dependency, so the batched delivery
    # pays only without them.
    window_blocks: bool = False
    # Spiking cells whose synapses one event delivery scatters together (see
    # _synapses.spikes_per_batch; 0: its CPU choice from the fan-out). The same results.
    spikes_per_batch: int = 0

    @property
    def n_cells(self):
        return sum(g.n for g in self.groups)

    @property
    def n_spiking(self):
        return self.n_array + self.n_poisson + sum(g.n for g in self.groups if g.spiking)


Recording = NamedTuple("Recording", [(f, jax.Array) for f in (*RECORDABLE, "spikes")])
Recording.__doc__ = """Indices of the recorded cells: each variable's samples are ``var[index]``.

One (n_rec_X,) int32 array of cell indices per name of RECORDABLE, then ``spikes``
(n_rec_spikes,) int32 spiking indices.
"""


class Params(NamedTuple):
    dt: jax.Array  # () ms
    groups: tuple  # of the groups' model parameters (_leaky.LeakyParams, _iaf.IafParams)
    schedule: _sources.ScheduleTable
    poisson: _sources.PoissonParams
    synapses: _synapses.SynapseTable
    currents: _currents.CurrentTables
    recording: Recording
    key: jax.Array  # PRNG key data, (2,) uint32
    plastic: _plastic.PlasticTable = None


class State(NamedTuple):
    groups: tuple  # of the groups' model states (_leaky.LeakyState, _iaf.IafState)
    ring: jax.Array  # (L * n_target,) synaptic input due in the next steps
    pending: jax.Array  # (n_spiking,) int32 spikes emitted at the current step, not yet delivered
    first_bad: jax.Array  # () int32, first step with non-finite state, -1 if none
    source_phase: jax.Array  # (n_poisson,) int32 phases of the random sources (_sources)
    plastic: _plastic.PlasticState = None  # weights and traces of plastic synapses


Outputs = NamedTuple(
    "Outputs", [(f, jax.Array) for f in (*RECORDABLE, "spikes", "currents")]
)
Outputs.__doc__ = """Per step of a chunk: the recorded values after the step.

One (chunk, n_rec_X) array per name of RECORDABLE, then ``spikes`` (chunk, n_rec_spikes)
int32 counts and ``currents`` (chunk, n_current_sources) nA, the value held over the step.
From :func:`run_chunk`, ``spikes`` is bit-packed when no source can emit two spikes in one
step: (chunk, ceil(n_rec_spikes / 8)) uint8, bit ``i % 8`` of byte ``i // 8`` (NumPy's
``unpackbits(..., bitorder="little")``); see :func:`spike_counts`.
"""


def spike_counts(spikes, n: int):
    """(steps, n) spike counts from the ``spikes`` of :class:`Outputs` (host-side NumPy)."""
    import numpy as np

    spikes = np.asarray(spikes)
    if spikes.dtype != np.uint8:
        return spikes
    return np.unpackbits(spikes, axis=-1, count=n, bitorder="little")


def spike_events(spikes, n: int):
    """The non-zero entries of :func:`spike_counts` as ``(rows, cols, counts)``, in row-major
    order, as ``np.nonzero`` gives them (host-side NumPy).

    Bit-packed spikes are searched byte by byte and only the non-zero bytes unpacked:
    spikes are sparse, and a full unpack and search of a (steps, n) array costs more
    than the step loop of a small network.
    """
    import numpy as np

    spikes = np.asarray(spikes)
    if spikes.dtype != np.uint8:
        rows, cols = np.nonzero(spikes)
        return rows, cols, spikes[rows, cols]
    width = spikes.shape[-1]
    flat = np.ascontiguousarray(spikes).reshape(-1)
    flat = np.concatenate([flat, np.zeros(-flat.size % 8, np.uint8)])
    word = np.flatnonzero(flat.view(np.uint64))  # 8 bytes at a time
    at = (word[:, None] * 8 + np.arange(8)).ravel()
    at = at[flat[at] != 0]  # the non-zero bytes, in order
    bits = np.unpackbits(flat[at][:, None], axis=1, bitorder="little")
    hit, bit = np.nonzero(bits)  # bits of one byte come in increasing column order
    rows, cols = np.divmod(at[hit], width)
    cols = cols * 8 + bit
    keep = cols < n
    return rows[keep], cols[keep], np.ones(int(np.count_nonzero(keep)), np.uint8)


# Independent random streams, folded into the user's key.
_POISSON, _NOISE, _CURRENTS, _TRANSMIT = 1, 2, 3, 4


def init_state(layout: Layout, params: Params, cells=None, ring=None, pending=None,
               source_phase=None, plastic=None) -> State:
    """A network state; by default each model's ``init`` (v = 0, no synaptic input).

    ``cells`` maps names of FIELDS to (n_cells,) arrays (all cells, group after group; a
    group takes the fields its model has); ``ring`` and ``pending`` restore synaptic input
    in flight, ``source_phase`` the random sources' phases; ``plastic`` maps names of
    :class:`_plastic.PlasticState` fields to values (``weight`` is required when the layout
    has plastic synapses).
    """
    dtype = params.dt.dtype
    s = layout.synapses
    groups, start = [], 0
    for g in layout.groups:
        model = MODELS[g.model]
        st = model.init(g.n, dtype)
        if cells is not None:
            st = st._replace(**{
                f: jnp.asarray(cells[f][start : start + g.n], getattr(st, f).dtype)
                for f in st._fields if f in cells
            })
        groups.append(st)
        start += g.n
    return State(
        groups=tuple(groups),
        ring=jnp.zeros((s.ring * s.n_target,), dtype) if ring is None
        else jnp.asarray(ring, dtype).reshape(-1),
        pending=jnp.zeros((layout.n_spiking,), jnp.int32) if pending is None
        else jnp.asarray(pending, jnp.int32),
        first_bad=jnp.asarray(-1, jnp.int32),
        source_phase=_sources.init_phase(layout.n_poisson) if source_phase is None
        else jnp.asarray(source_phase, jnp.int32),
        plastic=None if layout.plastic is None
        else _plastic.init_state(layout.plastic, dtype=dtype, **plastic),
    )


def _prepare(layout: Layout, params: Params):
    props = tuple(
        MODELS[g.model].prepare(p, params.dt, g.method)
        for g, p in zip(layout.groups, params.groups)
    )
    cdf = None if params.poisson.shape is None else _sources.poisson_cdf(
        params.poisson.rate, params.dt, layout.poisson_terms)
    syn = layout.synapses
    return props, cdf, _synapses.prepare(params.synapses, syn)


def _source_draws(layout: Layout, params: Params, k0, n_steps: int):
    """The random sources' draws (n_steps, n_poisson) for the steps emitted by a chunk
    starting at k0 (k0 + 1, ...): spike counts when all are plain Poisson sources, else
    uniforms (see :mod:`._sources`)."""
    key = jax.random.fold_in(jax.random.wrap_key_data(params.key), _POISSON)
    if params.poisson.shape is None:
        # poisson_terms < 64: rate dt < 24, and P(a count > 255) is below 1e-100
        dtype = jnp.uint8 if layout.poisson_terms < 64 else jnp.int32
        return _sources.block_counts(key, params.poisson.rate, params.dt, k0 + 1, n_steps,
                                     dtype)
    return _sources.poisson_uniforms(key, k0 + 1, n_steps, layout.n_poisson)


def _step(layout: Layout, params: Params, prepared, state: State, k, u, post=True,
          window=None, deliver=None):
    """Advance the whole network from step k to step k + 1; return (state, values, window).

    ``u`` (n_poisson,) are the random sources' draws for step k + 1; ``values``
    (n_current_sources,) nA are the current sources' values held over the step.
    ``window`` (interval, n_spiking), or None for interval 1: row ``e % interval`` holds
    the spikes emitted at step e, for the steps e < k of the current interval (rows of
    later steps still hold the last interval's, already delivered; see
    :func:`_start_window`). The step adds ``state.pending`` (step k) as row
    ``k % interval`` and delivers the window when ``k % interval == interval - 1``.
    ``deliver`` (static): whether ``k % interval == interval - 1``, if known when
    tracing (a step of a whole-window block; then the delivery needs no condition), else
    None.
    ``first_bad`` is left to the caller (:func:`_bad_cells`). ``post=False`` leaves the cells'
    spikes of step k + 1 out of the plastic synapses' postsynaptic history (their effect
    on the weights is applied): the caller then adds them with :func:`_append_post`
    before the next step.
    """
    props, cdf, pre = prepared
    key = jax.random.wrap_key_data(params.key)
    n_cells, k1 = layout.n_cells, k + 1
    syn = layout.synapses

    # Writes first (clear the slot read last step, deliver the spikes emitted at k), then
    # read the input arriving at k + 1: this order keeps the ring buffer update in place.
    ring = _synapses.clear_slot(state.ring, k, syn)
    # Spikes of cells without static synapses are left out here, one step's row at a time
    # (a mask along the cells): masked inside the delivery, over a window or the trials
    # folded into one network, each spike's cell index was recomputed from its flat
    # position while packing the bits (16 batched trials of 20 cells: 2 x slower).
    pending = _synapses.with_synapses(state.pending, params.synapses.row_ptr) \
        if layout.skip_empty_rows else state.pending
    if window is None:
        ring = _synapses.deliver(params.synapses, ring, pending, k, syn, pre,
                                 layout.spikes_per_batch)
    else:
        # The spikes of step k join the window here, just before the conditional reads it
        # (written after it, XLA copied the window twice per step). Rows are not cleared
        # after a delivery: each is overwritten before the next one.
        D = window.shape[0]
        window = put_row(window, pending, k % D)
        delivered = partial(_synapses.deliver, params.synapses, counts=window,
                            k=k - (D - 1), layout=syn, prepared=pre,
                            batch=layout.spikes_per_batch)
        if deliver is None:
            ring = lax.cond(k % D == D - 1, delivered, lambda r: r, ring)
        elif deliver:
            ring = delivered(ring)
    plastic = state.plastic
    if layout.plastic is not None:
        transmit_key = jax.random.fold_in(jax.random.fold_in(key, _TRANSMIT), k)
        ring, plastic = _plastic.deliver(params.plastic, plastic, ring, state.pending, k,
                                         params.dt, transmit_key, layout.plastic, syn.ring)
    arrivals = _synapses.read_slot(ring, k1, syn)

    # Spikes emitted at k + 1 (they carry the time t_{k+1}); delivered next step.
    random, source_phase = _sources.random_counts(params.poisson, cdf, u, k1,
                                                  state.source_phase)
    scheduled = _sources.scheduled_counts(params.schedule, k1, layout.n_array,
                                          layout.array_kmax)
    emitted = [
        scheduled > 0 if layout.array_kmax <= 1 else scheduled,
        random,
    ]
    values = current_values(params, k)
    i_inj = _currents.injected(params.currents, values, n_cells)
    noise_key = jax.random.fold_in(jax.random.fold_in(key, _NOISE), k)
    new_groups, cell_spikes, start = [], [], 0
    rows = arrivals.reshape(-1, n_cells) if n_cells else None  # (receptor rows, n_cells)
    no_inh = jnp.zeros((), arrivals.dtype)  # a network with receptor 0 alone
    for gi, (g, prop, s) in enumerate(zip(layout.groups, props, state.groups)):
        sl = slice(start, start + g.n)
        receptors = MODELS[g.model].receptors
        silent = g.silent_inh and g.model in SILENT_INH_MODELS
        new, spikes = MODELS[g.model].step(
            prop,
            s._replace(isyn_inh=no_inh) if silent else s,
            i_inj[sl],
            rows[:receptors, sl] if receptors else rows[0, sl],
            None if receptors else rows[1, sl] if rows.shape[0] > 1 and not silent
            else no_inh,
            jax.random.fold_in(noise_key, gi),
            g.method,
            g.has_noise,
        )
        if silent:  # zero, unchanged: the loop carries it through untouched
            new = new._replace(isyn_inh=s.isyn_inh)
        new_groups.append(new)
        if spikes is not None:
            emitted.append(spikes)
        cell_spikes.append(jnp.zeros(g.n, bool) if spikes is None else spikes > 0)
        start += g.n
    # Bit-packed spike recording relies on this: a source that can emit several spikes
    # in one step returns int counts and must make _one_spike_per_step False.
    single = all(e.dtype == jnp.bool_ or e.shape[0] == 0 for e in emitted)
    assert single or not _one_spike_per_step(layout), (
        f"_one_spike_per_step is True but some spikes are counts: {[e.dtype for e in emitted]}")
    counts = jnp.concatenate([e.astype(jnp.int32) for e in emitted])
    if layout.plastic is not None:
        spiked = jnp.concatenate(cell_spikes) if cell_spikes else jnp.zeros(0, bool)
        record = _plastic.record_post if post else _plastic.drop_oldest
        plastic = record(params.plastic, plastic, spiked, *([k1] if post else []), params.dt,
                         layout.plastic)
    new_state = State(groups=tuple(new_groups), ring=ring, pending=counts,
                      first_bad=state.first_bad, source_phase=source_phase, plastic=plastic)
    return new_state, values, window


def _put_row(buffer, row, i):
    return lax.dynamic_update_index_in_dim(buffer, row, i, 0)


put_row = _synapses.shared_index(_put_row, lambda buffer, row, i: lax.dynamic_update_slice(
    buffer, row[:, None], (jnp.int32(0), i) + (jnp.int32(0),) * (row.ndim - 1)))
"""``buffer`` (n, ...) with row ``i`` replaced by ``row``; under ``jax.vmap`` over trials
sharing the step ``i``, one plain slice update of the (trials, n, ...) buffer (see
:func:`_synapses.shared_index`: the generic rule's bounds checks cost 6 scalar kernels
per step, which 16 batched trials of 200 cells felt; event-mode loop only, not
differentiable)."""


def _start_window(layout: Layout, state: State):
    """The window of undelivered spikes at the start of a chunk (None for interval 1):
    empty, as the spikes of earlier steps are in the ring and those of the current step
    (``state.pending``) join it in the chunk's first step."""
    D = layout.interval
    if D == 1:
        return None
    syn = layout.synapses
    if syn.mode != "event" or layout.plastic is not None or D > syn.min_delay:
        raise ValueError(f"interval = {D} needs event-mode static synapses with delays of "
                         f"at least {D} steps (min_delay = {syn.min_delay}, mode = "
                         f"{syn.mode!r}, plastic synapses: {layout.plastic is not None})")
    return jnp.zeros((D,) + state.pending.shape, state.pending.dtype)


def _flush_window(layout: Layout, params: Params, prepared, state: State, window, k):
    """Deliver the window's spikes of the steps before k (early: each is due after step
    k, as the delays are at least the interval), leaving ``state.pending`` (step k, not in
    the window) undelivered as in a State between chunks."""
    if window is None:
        return state
    D = window.shape[0]
    before_k = jnp.arange(D)[:, None] < k % D  # later rows: step k, or delivered already
    window = jnp.where(before_k, window, 0)
    ring = _synapses.deliver(params.synapses, state.ring, window, k - k % D,
                             layout.synapses, prepared[2],  # masked as they joined
                             layout.spikes_per_batch)
    return state._replace(ring=ring)


def _append_post(layout: Layout, params: Params, state: State, k, when=True) -> State:
    """Add the cells' spikes of step ``k`` (``state.pending``, state at step k) to the
    plastic synapses' postsynaptic history, if ``when``; see ``_step(..., post=False)``."""
    if layout.plastic is None:
        return state
    parts, start = [], layout.n_array + layout.n_poisson
    for g in layout.groups:  # pending: array sources, Poisson sources, spiking cells
        if g.spiking:
            parts.append(state.pending[start : start + g.n] > 0)
            start += g.n
        else:
            parts.append(jnp.zeros(g.n, bool))
    spiked = (jnp.concatenate(parts) if parts else jnp.zeros(0, bool)) & when
    plastic = _plastic.append_post(params.plastic, state.plastic, spiked, k, params.dt,
                                   layout.plastic, in_place=_region_analysis_applies(layout))
    return state._replace(plastic=plastic)


_ONE_SPIKE_MODELS = frozenset({"iaf", "iaf_alpha", "iaf_delta", "izhikevich"} | {
    f"lif_exp_multi{r}" for r in range(1, _multisynapse.R_MAX + 1)})  # spikes: (n,) bool


def _one_spike_per_step(layout: Layout) -> bool:
    """Static: no spiking index can emit two spikes in one step (then the recorded spikes
    of :func:`run_chunk` are bit-packed, 1 bit each instead of an int32)."""
    return layout.n_poisson == 0 and layout.array_kmax <= 1 and all(
        g.model in _ONE_SPIKE_MODELS for g in layout.groups if g.spiking)


packs_spikes = _one_spike_per_step


ABSORBING = frozenset({"leaky"})
"""Models in which a non-finite v stays non-finite (no threshold or reset can make it
finite again): checking v once at the end of a chunk finds every cell that became
non-finite in it (see ``Layout.check_every_step``)."""


def _bad_cells(bad, state: State, k):
    """Per group, each cell's first step with non-finite v (-1 if none), given ``state``
    at step ``k``; reduced over the cells by :func:`_first_bad`. A group whose entry of
    ``bad`` is None is not checked."""
    return tuple(None if b is None else jnp.where((b < 0) & ~jnp.isfinite(s.v), k, b)
                 for b, s in zip(bad, state.groups))


def _checked_at_end(layout: Layout):
    """Per group: whether its finite check runs only after a chunk's last step (see
    ``Layout.check_every_step``)."""
    return tuple(not layout.check_every_step and g.model in ABSORBING for g in layout.groups)


def _start_bad(layout: Layout, state: State, every_step=True):
    """The finite check's per-cell first bad steps at the start of a loop: -1 for the
    groups checked every step, None for those checked only at the end (``every_step``
    False: as the layout says)."""
    at_end = _checked_at_end(layout) if not every_step else (False,) * len(state.groups)
    return tuple(None if end else jnp.full(s.v.shape, -1, jnp.int32)
                 for end, s in zip(at_end, state.groups))


def _first_bad(state: State, bad) -> State:
    """``state`` with ``first_bad`` set from :func:`_bad_cells` unless already set."""
    none = jnp.iinfo(jnp.int32).max
    first = jnp.min(jnp.asarray([jnp.min(jnp.where(b >= 0, b, none), initial=none)
                                 for b in bad if b is not None] + [none]))
    found = jnp.where(first < none, first, -1)
    return state._replace(
        first_bad=jnp.where(state.first_bad >= 0, state.first_bad, found))


def current_values(params: Params, k):
    """Value (nA) of every current source at step k (held over (t_k, t_k + dt])."""
    key = jax.random.fold_in(jax.random.wrap_key_data(params.key), _CURRENTS)
    return _currents.source_values(params.currents, k, params.dt, key)


def _gather(groups, field, index, dtype):
    """``field`` over all cells (NaN for groups whose model lacks it), at ``index``."""
    if index.shape[0] == 0:  # static: nothing recorded, nothing gathered
        return jnp.zeros((0,), dtype)
    parts = [
        getattr(s, field).astype(dtype) if field in s._fields
        else jnp.full(s.v.shape, jnp.nan, dtype)
        for s in groups
    ]
    return jnp.concatenate(parts)[index]


def _record(rec: Recording, state: State, pack=False, spikes_all=False):
    """The recorded signals and spikes of ``state`` (a dict of the Outputs fields but
    ``currents``); ``pack``: spikes bit-packed (see :class:`Outputs`).

    ``spikes_all`` (static, with ``pack``): every spiking index is recorded, in order. The
    bytes then come from the bit words that the event delivery computes from the same
    spikes (XLA computes them once for both)."""
    dtype = state.ring.dtype
    out = {f: _gather(state.groups, f, getattr(rec, f), dtype) for f in RECORDABLE}
    spikes = state.pending[rec.spikes]
    if pack:
        # spikes_all: the words the event delivery computes from the same spikes
        words = _synapses.spike_words(state.pending if spikes_all else spikes)
        n = spikes.shape[0]
        spikes = lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[: -(-n // 8)]
    out["spikes"] = spikes
    return out


def _run_chunk(layout: Layout, params: Params, state: State, k0, n_active):
    """Advance ``n_active`` (<= layout.chunk) steps from step ``k0``.

    Returns the new state and per-step :class:`Outputs` with ``layout.chunk`` rows;
    rows at and beyond ``n_active`` are zeros. The loop has a dynamic trip count, so
    runs of any length reuse one compiled program and no step is wasted.
    """
    prepared = _prepare(layout, params)
    draws = _source_draws(layout, params, k0, layout.chunk)
    pack = _one_spike_per_step(layout)
    # Recorded values and the finite check read the state at the *start* of an
    # iteration (the loop carry, already in memory): taken from the step's results, they
    # would recompute the cell update in every consumer. So row r of ``rows`` holds the
    # state after r steps (row 0: the chunk's start, dropped), and the state after the
    # last step is recorded after the loop.
    record = partial(_record, pack=pack, spikes_all=pack and layout.spikes_all)
    shapes = jax.eval_shape(lambda st: record(params.recording, st), state)
    rows = {f: jnp.zeros((layout.chunk + 1,) + x.shape, x.dtype) for f, x in shapes.items()}
    values = jax.eval_shape(current_values, params, k0)
    currents = jnp.zeros((layout.chunk,) + values.shape, values.dtype)

    def put(rows, st, j, bad):
        new = record(params.recording, st)
        rows = {f: put_row(rows[f], new[f], j) for f in rows}
        return rows, _bad_cells(bad, st, k0 + j)

    def step(carry, deliver=None):
        j, st, rows, cur, bad, window = carry
        rows, bad = put(rows, st, j, bad)
        # The postsynaptic history gets the cells' spikes of the last step here, before
        # this step's delivery reads it, not at the end of the last step: appended after
        # the delivery (on which the spikes do not depend), it was copied every step.
        st = _append_post(layout, params, st, k0 + j, j > 0)
        st, values, window = _step(layout, params, prepared, st, k0 + j, draws[j],
                                   post=False, window=window, deliver=deliver)
        cur = put_row(cur, values, j)
        return j + 1, st, rows, cur, bad, window

    # The finite check keeps, per cell, the first step with a non-finite v (elementwise,
    # one small kernel per step) and reduces over the cells once per chunk; groups of
    # ABSORBING models only after the last step, unless layout.check_every_step.
    bad = _start_bad(layout, state, every_step=False)
    carry = (jnp.asarray(0, jnp.int32), state, rows, currents, bad,
             _start_window(layout, state))
    D = layout.interval
    if layout.window_blocks and D > 1:
        # up to D - 1 single steps to the first window boundary, then whole windows
        carry = lax.while_loop(lambda c: (c[0] < n_active) & ((k0 + c[0]) % D != 0),
                               step, carry)

        def window_block(c):
            # A loop, not D unrolled steps: unrolled, XLA fused each step's cell update
            # into the next step's recording, which kept the ring alive (CPU: a copy of
            # the whole ring per step, 25 x slower).
            c = lax.fori_loop(0, D - 1, lambda _, c: step(c, deliver=False), c)
            return step(c, deliver=True)

        carry = lax.while_loop(lambda c: c[0] + D <= n_active, window_block, carry)
    block = layout.steps_per_sync
    if block > 1:
        carry = lax.while_loop(
            lambda c: c[0] + block <= n_active,
            lambda c: lax.fori_loop(0, block, lambda _, c: step(c), c), carry)
    _, state, rows, currents, bad, window = lax.while_loop(
        lambda c: c[0] < n_active, step, carry)
    state = _flush_window(layout, params, prepared, state, window, k0 + n_active)
    state = _append_post(layout, params, state, k0 + n_active, n_active > 0)
    # groups checked at the end: a non-finite v now became so at some step of the chunk
    bad = tuple(jnp.full(s.v.shape, -1, jnp.int32) if b is None else b
                for b, s in zip(bad, state.groups))
    rows, bad = put(rows, state, n_active, bad)
    state = _first_bad(state, bad)
    return state, Outputs(**{f: r[1:] for f, r in rows.items()}, currents=currents)


# XLA debug option (one per backend) of region analysis in copy insertion.
_REGION_ANALYSIS = {"cpu": "xla_cpu_copy_insertion_use_region_analysis",
                    "gpu": "xla_gpu_copy_insertion_use_region_analysis"}
_options_known = [True]  # False once XLA has refused the option (another jaxlib)


def _jit(fun, region_analysis: bool, **kw):
    """``jax.jit(fun, **kw)``, with region analysis in copy insertion if asked for and
    the default backend has the option (``compiler_options`` is passed only then)."""
    name = _REGION_ANALYSIS.get(jax.default_backend()) if region_analysis else None
    return jax.jit(fun, **kw, **({"compiler_options": {name: True}} if name else {}))


def _region_analysis_applies(layout: Layout) -> bool:
    """Whether the program being traced will be compiled with region analysis: asked for
    by ``layout``, known to this backend and not refused (so far) by this jaxlib. The
    program traced before a refusal keeps its trace in :func:`_compiled`'s fallback (JAX
    reuses it), so it keeps the in-place forms: correct, only slower without the option."""
    return (layout.region_analysis and _options_known[0]
            and jax.default_backend() in _REGION_ANALYSIS)


def _compiled(jit, layout: Layout, *args):
    """Call ``jit(options)(*args)`` with the compile options of ``layout``; without them,
    with one warning, when this jaxlib's XLA does not know them."""
    if layout.region_analysis and _options_known[0]:
        try:
            return jit(True)(*args)
        except jax.errors.JaxRuntimeError as err:
            if "compile option" not in str(err).lower():  # "No such compile option: ..."
                raise
            _options_known[0] = False
            warnings.warn(f"pynn_leaky: this jaxlib ({jax.lib.__version__}) refused the "
                          f"compile option of region analysis ({err}); compiling without it "
                          "(on CPUs every step then copies the cell states)",
                          RuntimeWarning, stacklevel=3)
    return jit(False)(*args)


@lru_cache(maxsize=2)
def _chunk_jit(region_analysis: bool):
    return _jit(_run_chunk, region_analysis, static_argnums=0)


def run_chunk(layout: Layout, params: Params, state: State, k0, n_active):
    """Compiled :func:`_run_chunk` (once per layout; the arrays may change freely)."""
    return _compiled(_chunk_jit, layout, layout, params, state, k0, n_active)


def chunk_programs() -> int:
    """The number of chunk programs compiled (or loaded) so far in this process."""
    return sum(_chunk_jit(o)._cache_size() for o in (False, True))


# The same as for a jitted function (tests check that repeated runs reuse the programs).
run_chunk._cache_size = chunk_programs


def exact_first_bad(layout: Layout, params: Params, state: State, k0, n_active,
                    reported: int) -> int:
    """The first step with a non-finite v in the chunk that :func:`run_chunk` ran from
    ``state`` (step ``k0``), given the ``first_bad`` it ``reported`` (>= 0). Where that may
    be the chunk's last step standing for an earlier one (``Layout.check_every_step``),
    the chunk runs again with every group checked every step (a second program, compiled
    when first needed: a non-finite state is an error)."""
    if not any(_checked_at_end(layout)):
        return reported
    exact = layout._replace(check_every_step=True)
    return int(run_chunk(exact, params, state, k0, n_active)[0].first_bad)


@lru_cache(maxsize=32)
def _batched(layout: Layout, treedef, axes: tuple, devices: tuple | None):
    in_axes = jax.tree.unflatten(treedef, axes)
    run = jax.vmap(partial(_run_chunk, layout), in_axes=(in_axes, 0, None, None))
    if devices is not None:
        # Each device runs its share of the trials; nothing is exchanged between them.
        flags = jax.tree.unflatten(treedef, tuple(a is not None for a in axes))
        trials = PartitionSpec(_sharding.TRIALS)
        run = jax.shard_map(run, mesh=_sharding.trials_mesh(devices),
                            in_specs=(_sharding.trial_specs(flags), trials, PartitionSpec(),
                                      PartitionSpec()),
                            out_specs=trials, check_vma=False)
    return lru_cache(maxsize=2)(lambda region_analysis: _jit(run, region_analysis))


def run_chunk_batched(layout: Layout, params: Params, batched, state: State, k0, n_active,
                      devices=None):
    """:func:`run_chunk` for B independent trials at once (one vectorised computation).

    ``batched`` is a pytree like ``params`` of booleans: True where the leaf has a leading
    trial axis (e.g. ``key`` for different seeds, a group's ``tau`` for a parameter scan).
    ``state`` has a leading trial axis on every leaf; so do the returned state and outputs.
    ``devices`` (a sequence of N > 1 devices, or None): the trials are split over them, B
    a multiple of N (see :func:`sharding.place_trials` to place the inputs once).
    """
    leaves, treedef = jax.tree.flatten(batched)
    axes = tuple(0 if b else None for b in leaves)
    devices = tuple(devices) if devices is not None and len(devices) > 1 else None
    return _compiled(_batched(layout, treedef, axes, devices), layout, params, state, k0,
                     n_active)


def simulate(layout: Layout, params: Params, state: State, k0, n_steps: int):
    """Functional entry point: advance exactly ``n_steps`` (static) steps.

    Pure and differentiable with ``layout.synapses.mode == "dense"``: ``jax.grad`` of a
    loss on the outputs with respect to ``params`` works (weights, tau, R, ...).
    """
    prepared = _prepare(layout, params)
    draws = _source_draws(layout, params, k0, n_steps)

    def body(carry, xs):
        st, bad, window = carry
        j, u = xs
        st, values, window = _step(layout, params, prepared, st, k0 + j, u, window=window)
        bad = _bad_cells(bad, st, k0 + j + 1)
        return (st, bad, window), Outputs(**_record(params.recording, st), currents=values)

    bad = _start_bad(layout, state)
    (state, bad, window), outputs = lax.scan(
        body, (state, bad, _start_window(layout, state)),
        (jnp.arange(n_steps, dtype=jnp.int32), draws))
    state = _flush_window(layout, params, prepared, state, window, k0 + n_steps)
    return _first_bad(state, bad), outputs
