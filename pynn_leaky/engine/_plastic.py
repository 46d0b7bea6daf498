"""Plastic synapses: short-term plasticity, pair-based STDP and stochastic transmission.

Plastic synapses live in their own CSR table (sorted by presynaptic spiking index) next
to the static one, and write into the same delay ring buffer. Their variables (weight,
Tsodyks-Markram resources, STDP traces) are part of the network state and change only
when a presynaptic spike is delivered, as in NEST: a spike emitted at step k goes
through the synapse's update, which yields the weight it carries, and arrives at
step k + delay.

Kinds (``PlasticTable.kind``):

* ``TSODYKS`` — Tsodyks, Uziel & Markram (2000), solved exactly between spikes (NEST's
  ``tsodyks_synapse``): resources x (recovered), y (active, decaying with the
  postsynaptic current's ``tau_psc``), z = 1 - x - y (inactive), release probability u.
  The weight carried is ``weight * u * x`` evaluated at the spike.
* ``STDP`` — pair-based STDP with every pre/post pair (NEST's ``stdp_synapse`` with the
  whole delay dendritic): at a presynaptic spike at t, first potentiation by each
  postsynaptic spike at s with ``t_last - d < s <= t - d`` (in order, with the
  presynaptic trace ``Kplus``), then depression by the postsynaptic trace at ``t - d``
  (spikes strictly before). Weights are normalised to ``n = (w - w_min) / (w_max - w_min)``:
  ``n += A_plus (1 - n)**mu_plus K`` clipped at 1, ``n -= A_minus n**mu_minus K`` clipped
  at 0 (NEST's formulas for ``w_min = 0``, with its ``lambda = A_plus``,
  ``alpha = A_minus / A_plus``). The postsynaptic side keeps, per cell, the last
  ``history`` (>= the delay ring length) spike steps and the trace value after each.
  When a cell spikes with its history full, the entry it drops is first applied, as
  potentiation, to each incoming synapse that has not seen it yet (in NEST it would wait
  for the synapse's next presynaptic spike): the weights at every presynaptic spike,
  hence the dynamics, are the same, with memory bounded by ``history``; only a weight
  read between two presynaptic spikes of such a synapse already includes it.
* ``STOCHASTIC`` — each spike is transmitted with probability ``p`` (NEST's
  ``bernoulli_synapse``; a count of c simultaneous spikes transmits Binomial(c, p)).

Several spikes of one presynaptic cell at one step (Poisson sources) go through the
update once and carry ``count`` times the weight, as NEST's multiplicity does.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ._synapses import spiking_batches

TSODYKS, STDP, STOCHASTIC = 0, 1, 2
KIND_NAMES = ("tsodyks", "stdp", "stochastic")


class PlasticLayout(NamedTuple):
    """Static sizes (hashable, part of the compile key)."""

    n_pre: int
    n_cells: int
    n_target: int
    n_syn: int
    max_fanout: int
    kinds: tuple  # the kinds present, e.g. (STDP,)
    history: int  # postsynaptic spikes kept per cell (0 without STDP)
    max_fanin: int = 0  # most STDP synapses onto one cell


class PlasticTable(NamedTuple):
    """Per-synapse constants, sorted by presynaptic index (all arrays (S,))."""

    row_ptr: jax.Array  # (n_pre + 1,) int32
    target: jax.Array  # int32, receptor * n_cells + cell
    delay: jax.Array  # int32 steps
    kind: jax.Array  # int32
    sign: jax.Array  # +1, or -1 for inhibitory current synapses (weights <= 0)
    U: jax.Array
    tau_rec: jax.Array  # ms
    tau_fac: jax.Array  # ms, 0 = no facilitation
    tau_psc: jax.Array  # ms, the postsynaptic current's time constant
    tau_plus: jax.Array  # ms
    A_plus: jax.Array
    A_minus: jax.Array
    mu_plus: jax.Array
    mu_minus: jax.Array
    w_min: jax.Array  # magnitudes
    w_max: jax.Array
    p: jax.Array
    tau_minus: jax.Array  # (n_cells,) ms, per postsynaptic cell (as in NEST)
    post_ptr: jax.Array  # (n_cells + 1,) int32: STDP synapses onto cell c are
    post_syn: jax.Array  # post_syn[post_ptr[c]:post_ptr[c + 1]] (table positions)


class PlasticState(NamedTuple):
    weight: jax.Array  # (S,) signed, as in the Projection
    u: jax.Array  # (S,) Tsodyks-Markram
    x: jax.Array
    y: jax.Array
    kplus: jax.Array  # (S,) presynaptic STDP trace after the last spike
    last: jax.Array  # (S,) int32 step of the last presynaptic spike (0 at the start)
    hist_step: jax.Array  # (n_cells, H) int32 postsynaptic spike steps, ring order
    hist_k: jax.Array  # (n_cells, H) postsynaptic trace just after each of them
    n_post: jax.Array  # (n_cells,) int32 postsynaptic spikes so far


_SYNAPTIC = ("weight", "u", "x", "y", "kplus", "last")  # per-synapse PlasticState fields


def init_state(layout: PlasticLayout, weight, dtype, u=None, x=None, y=None, kplus=None,
               last=None, hist_step=None, hist_k=None, n_post=None):
    """A plastic state: the given values, or the start of a simulation."""
    s, h = layout.n_syn, layout.history

    def arr(v, shape, dt, fill):
        return jnp.full(shape, fill, dt) if v is None else jnp.asarray(v, dt).reshape(shape)

    return PlasticState(
        weight=jnp.asarray(weight, dtype),
        u=arr(u, (s,), dtype, 0.0), x=arr(x, (s,), dtype, 1.0), y=arr(y, (s,), dtype, 0.0),
        kplus=arr(kplus, (s,), dtype, 0.0), last=arr(last, (s,), jnp.int32, 0),
        hist_step=arr(hist_step, (layout.n_cells, h), jnp.int32, 0),
        hist_k=arr(hist_k, (layout.n_cells, h), dtype, 0.0),
        n_post=arr(n_post, (layout.n_cells,), jnp.int32, 0),
    )


def _tsodyks(t, st, syn, h):
    """Propagate (u, x, y) over h ms since the last spike, then apply this spike."""
    tau_fac, tau_psc, tau_rec = t.tau_fac[syn], t.tau_psc[syn], t.tau_rec[syn]
    p_uu = jnp.where(tau_fac == 0.0, 0.0, jnp.exp(-h / jnp.where(tau_fac == 0.0, 1.0, tau_fac)))
    p_yy = jnp.exp(-h / tau_psc)
    p_zz = jnp.exp(-h / tau_rec)
    p_xy = ((p_zz - 1.0) * tau_rec - (p_yy - 1.0) * tau_psc) / (tau_psc - tau_rec)
    u, x, y = st.u[syn], st.x[syn], st.y[syn]
    z = 1.0 - x - y
    u = u * p_uu
    x = x + p_xy * y + (1.0 - p_zz) * z
    y = y * p_yy
    u = u + t.U[syn] * (1.0 - u)
    released = u * x
    return u, x - released, y + released, released


def _normalised(t, st, syn):
    lo, span = t.w_min[syn], t.w_max[syn] - t.w_min[syn]
    span = jnp.where(span == 0.0, 1.0, span)
    return (t.sign[syn] * st.weight[syn] - lo) / span, lo, span


def _potentiate(t, kplus, last, syn, norm, s, apply, dt):
    """Potentiation of the synapses ``syn`` by a postsynaptic spike at step ``s``, seen at
    s + d, with the presynaptic trace ``kplus`` decayed from the last presynaptic spike
    at step ``last``.

    The caller gathers ``kplus`` and ``last``. Read inside the potentiation loop from
    the per-synapse arrays, which the delivery then updates in place, they came out
    already updated with XLA's region analysis (tests/test_compile_options.py)."""
    kp = kplus * jnp.exp((last - (s + t.delay[syn])) * dt / t.tau_plus[syn])
    up = norm + t.A_plus[syn] * jnp.power(jnp.maximum(1.0 - norm, 0.0), t.mu_plus[syn]) * kp
    return jnp.where(apply, jnp.minimum(up, 1.0), norm)


def _stdp(t, st, syn, valid, post, k, dt, layout):
    """The weight of a presynaptic spike at step k, and the new presynaptic trace
    (``valid``: which lanes of ``syn`` are real synapses)."""
    d = t.delay[syn]
    last, kplus = st.last[syn], st.kplus[syn]
    norm, lo, span = _normalised(t, st, syn)
    H = layout.history
    n = st.n_post[post]
    kept = jnp.minimum(n, H)
    oldest = n - kept  # the history holds postsynaptic spikes oldest .. n - 1 (absolute)

    def entry(i):
        """Step and trace of the cell's i-th postsynaptic spike (absolute index)."""
        j = i % H
        return st.hist_step[post, j], st.hist_k[post, j]

    def count_after(x):
        """How many kept spikes have step > x (a binary search: the history is sorted)."""
        left, right = jnp.zeros_like(n), kept
        for _ in range(max(H, 1).bit_length()):
            mid = (left + right) // 2
            go = (mid < right) & (entry(oldest + mid)[0] <= x)
            left, right = jnp.where(go, mid + 1, left), jnp.where(go, right, mid)
        return kept - left

    # Entries are visited oldest first, and only those since the window opened, so the
    # loop runs (postsynaptic spikes per presynaptic interval) turns, not H.
    n_win = jnp.where(valid, count_after(last - d), 0)  # lanes off the rows: none
    n_late = count_after(k - d - 1)
    first = n - n_win

    def potentiate(carry):
        i, norm = carry
        s, _ = entry(first + i)
        # postsynaptic spikes since the last presynaptic one (seen d later), up to t - d
        return i + 1, _potentiate(t, kplus, last, syn, norm, s, (i < n_win) & (s <= k - d),
                                  dt)

    _, norm = lax.while_loop(lambda c: c[0] < jnp.max(n_win, initial=0), potentiate,
                             (jnp.asarray(0, n.dtype), norm))
    # depression by the trace of the newest postsynaptic spike strictly before t - d
    newest = n - n_late - 1
    s, ks = entry(jnp.maximum(newest, 0))
    kd = jnp.where((newest >= 0) & (newest >= n - H),
                   ks * jnp.exp((s - (k - d)) * dt / t.tau_minus[post]), 0.0)
    down = norm - t.A_minus[syn] * jnp.power(jnp.maximum(norm, 0.0), t.mu_minus[syn]) * kd
    norm = jnp.maximum(down, 0.0)
    weight = t.sign[syn] * (lo + span * norm)
    new_kplus = kplus * jnp.exp((last - k) * dt / t.tau_plus[syn]) + 1.0
    return weight, new_kplus


def deliver(table: PlasticTable, state: PlasticState, buffer, counts, k, dt, key,
            layout: PlasticLayout, ring: int):
    """Deliver the spikes emitted at step k through the plastic synapses.

    Returns the ring buffer with their weights added and the updated plastic state.
    """
    if layout.n_syn == 0:
        return buffer, state
    kinds = layout.kinds
    n_syn = layout.n_syn

    def batch(carry, pre, cnt, valid, syn):
        buf, synaptic = carry
        # Only the per-synapse variables go round the loop; the postsynaptic history is
        # read-only here and stays outside it (else XLA copies it every step).
        st = state._replace(**synaptic)
        idx = jnp.where(valid, syn, n_syn)  # out of range: dropped on write
        kind = table.kind[syn]
        cnt = jnp.broadcast_to(cnt[:, None], syn.shape)
        c = cnt.astype(buf.dtype)
        w = st.weight[syn]
        carried = w * c
        new = {}
        if TSODYKS in kinds:
            h = (k - st.last[syn]) * dt
            u, x, y, released = _tsodyks(table, st, syn, h)
            is_tm = kind == TSODYKS
            carried = jnp.where(is_tm, w * released * c, carried)
            for name, v in (("u", u), ("x", x), ("y", y)):
                new[name] = (is_tm, v)
        if STDP in kinds:
            post = table.target[syn] % layout.n_cells
            w_new, kplus = _stdp(table, st, syn, valid, post, k, dt, layout)
            is_stdp = kind == STDP
            carried = jnp.where(is_stdp, w_new * c, carried)
            new["weight"] = (is_stdp, w_new)
            new["kplus"] = (is_stdp, kplus)
        if STOCHASTIC in kinds:
            keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(syn.ravel())
            n_ok = jax.vmap(jax.random.binomial)(
                keys, cnt.ravel().astype(buf.dtype), table.p[syn].ravel()
            ).reshape(syn.shape)
            carried = jnp.where(kind == STOCHASTIC, w * n_ok.astype(buf.dtype), carried)
        carried = jnp.where(valid, carried, 0.0)
        slot = (k + table.delay[syn]) % ring
        buf = buf.at[(slot * layout.n_target + table.target[syn]).ravel()].add(carried.ravel())
        # (where, not a constant: the write then depends on the reads of `last` above
        # and is done in place, not on a copy)
        updates = {"last": jnp.where(valid, k, st.last[syn])}
        for name, (mask, v) in new.items():
            updates[name] = jnp.where(mask, v, getattr(st, name)[syn])
        synaptic = {**synaptic, **{
            name: getattr(st, name).at[idx.ravel()].set(v.ravel(), mode="drop")
            for name, v in updates.items()}}
        return buf, synaptic

    synaptic = {name: getattr(state, name) for name in _SYNAPTIC}
    buffer, synaptic = spiking_batches(counts, table.row_ptr, layout.max_fanout, batch,
                                       (buffer, synaptic))
    return buffer, state._replace(**synaptic)


def record_post(table: PlasticTable, state: PlasticState, spiked, k1, dt,
                layout: PlasticLayout):
    """Append the postsynaptic spikes of step k1 (``spiked``, (n_cells,) bool) to the
    history, with the trace after each: ``K = K_prev exp(-(k1 - s_prev) dt / tau_minus) + 1``.

    A cell whose history is full drops its oldest entry; its incoming STDP synapses that
    have not paired with it yet are potentiated by it now (see the module docstring).
    """
    state = drop_oldest(table, state, spiked, dt, layout)
    return append_post(table, state, spiked, k1, dt, layout)


def drop_oldest(table: PlasticTable, state: PlasticState, spiked, dt, layout: PlasticLayout):
    """The weights' part of :func:`record_post`: each cell that spikes (``spiked``) with a
    full history potentiates its incoming STDP synapses that have not paired yet with the
    oldest entry, which :func:`append_post` then overwrites."""
    if STDP not in layout.kinds or layout.max_fanin == 0:
        return state
    H = layout.history
    n = state.n_post
    dropped = state.hist_step[jnp.arange(layout.n_cells), n % H]
    spill = (spiked & (n >= H)).astype(jnp.int32)
    n_syn = layout.n_syn

    def apply_dropped(synaptic, cell, cnt, valid, lane):
        syn = table.post_syn[lane]
        # Only the weights change; `kplus` and `last` go round the loop unchanged all
        # the same, so that a single value of each is live (XLA copied `last` otherwise).
        st = state._replace(**synaptic)
        weight = synaptic["weight"]
        s = dropped[cell][:, None]
        norm, lo, span = _normalised(table, st, syn)
        last = st.last[syn]
        need = valid & (s > last - table.delay[syn])
        norm = _potentiate(table, st.kplus[syn], last, syn, norm, s, need, dt)
        w = table.sign[syn] * (lo + span * norm)
        idx = jnp.where(need, syn, n_syn)
        return {**synaptic, "weight": weight.at[idx.ravel()].set(w.ravel(), mode="drop")}

    synaptic = {name: getattr(state, name) for name in ("weight", "kplus", "last")}
    return state._replace(**spiking_batches(
        spill, table.post_ptr, layout.max_fanin, apply_dropped, synaptic))


def append_post(table: PlasticTable, state: PlasticState, spiked, k1, dt,
                layout: PlasticLayout, in_place=False):
    """The history's part of :func:`record_post` (after :func:`drop_oldest`).

    ``in_place`` (static): the program is compiled with region analysis
    (``Layout.region_analysis``). Then only the spiking cells' entries are written, and
    XLA updates the history in place (W5: 1.70 -> 1.44 s); without region analysis that
    form is copied every step, and writing one entry of every cell is faster (1.70 s
    against 1.89 s)."""
    if STDP not in layout.kinds:
        return state
    H = layout.history
    cells = jnp.arange(layout.n_cells)
    n = state.n_post
    slot, prev = n % H, (n - 1) % H

    def trace_after(prev_s):  # the trace just after a spike at k1
        prev_k = jnp.where(n > 0, state.hist_k[cells, prev], 0.0)
        return prev_k * jnp.exp((prev_s - k1) * dt / table.tau_minus) + 1.0

    if in_place:
        # Both reads come first; the cells that did not spike write past the end
        # (dropped), so the writes read nothing of the old arrays.
        k_new = trace_after(state.hist_step[cells, prev])
        row = jnp.where(spiked, cells, layout.n_cells)
        hist_step = state.hist_step.at[row, slot].set(k1, mode="drop")
        hist_k = state.hist_k.at[row, slot].set(k_new, mode="drop")
    else:
        hist_step = state.hist_step.at[cells, slot].set(
            jnp.where(spiked, k1, state.hist_step[cells, slot]))
        # The previous entry is read after the write when it is another slot (H > 1):
        # every read of the old array then precedes the write, which XLA does in place
        # (reading the old array for hist_k below made it copy the history every step).
        k_new = trace_after((hist_step if H > 1 else state.hist_step)[cells, prev])
        hist_k = state.hist_k.at[cells, slot].set(
            jnp.where(spiked, k_new, state.hist_k[cells, slot]))
    return state._replace(hist_step=hist_step, hist_k=hist_k,
                          n_post=n + spiked.astype(jnp.int32))
