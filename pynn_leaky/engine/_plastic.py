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
  ``history`` spike steps and the trace value after each.
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
    overflow: jax.Array  # () int32 first step where a needed history entry was lost, -1


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
        overflow=jnp.asarray(-1, jnp.int32),
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


def _stdp(t, st, syn, post, k, dt, layout):
    """New weight magnitude normalised to [0, 1] (before the spike's own trace update)."""
    d = t.delay[syn]
    last = st.last[syn]
    lo, hi = t.w_min[syn], t.w_max[syn]
    span = hi - lo
    norm = (t.sign[syn] * st.weight[syn] - lo) / jnp.where(span == 0.0, 1.0, span)
    a_plus, a_minus = t.A_plus[syn], t.A_minus[syn]
    mu_p, mu_m = t.mu_plus[syn], t.mu_minus[syn]
    kplus, tau_plus = st.kplus[syn], t.tau_plus[syn]
    tau_minus = t.tau_minus[post]
    H = layout.history
    n = st.n_post[post]
    steps, traces = st.hist_step[post], st.hist_k[post]  # (..., H)
    kept = (jnp.arange(H) < jnp.minimum(n, H)[..., None])
    # Entries are visited oldest first, and only those since the window opened, so the
    # loop runs (postsynaptic spikes per presynaptic interval) turns, not H.
    n_win = jnp.sum(kept & (steps > (last - d)[..., None]), axis=-1)
    n_late = jnp.sum(kept & (steps >= (k - d)[..., None]), axis=-1)
    lost = (n > H) & (n_win >= H)  # older entries of the window were overwritten
    first = n - n_win

    def entry(i):
        j = (i % H)[..., None]
        return (jnp.take_along_axis(steps, j, -1)[..., 0],
                jnp.take_along_axis(traces, j, -1)[..., 0])

    def potentiate(carry):
        i, norm = carry
        s, _ = entry(first + i)
        # postsynaptic spikes since the last presynaptic one (seen d later), up to t - d
        pot = (i < n_win) & (s <= k - d)
        kp = kplus * jnp.exp((last - (s + d)) * dt / tau_plus)
        up = norm + a_plus * jnp.power(jnp.maximum(1.0 - norm, 0.0), mu_p) * kp
        return i + 1, jnp.where(pot, jnp.minimum(up, 1.0), norm)

    _, norm = lax.while_loop(lambda c: c[0] < jnp.max(n_win, initial=0), potentiate,
                             (jnp.asarray(0, n.dtype), norm))
    # depression by the trace of the newest postsynaptic spike strictly before t - d
    newest = n - n_late - 1
    s, ks = entry(jnp.maximum(newest, 0))
    kd = jnp.where((newest >= 0) & (newest >= n - H),
                   ks * jnp.exp((s - (k - d)) * dt / tau_minus), 0.0)
    down = norm - a_minus * jnp.power(jnp.maximum(norm, 0.0), mu_m) * kd
    norm = jnp.maximum(down, 0.0)
    weight = t.sign[syn] * (lo + span * norm)
    new_kplus = kplus * jnp.exp((last - k) * dt / tau_plus) + 1.0
    return weight, new_kplus, lost


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
        buf, st = carry
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
        lost = jnp.zeros(syn.shape, bool)
        if STDP in kinds:
            post = table.target[syn] % layout.n_cells
            w_new, kplus, lost = _stdp(table, st, syn, post, k, dt, layout)
            is_stdp = kind == STDP
            lost = lost & is_stdp & valid
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
        updates = {"last": jnp.full(syn.shape, k, jnp.int32)}
        for name, (mask, v) in new.items():
            updates[name] = jnp.where(mask, v, getattr(st, name)[syn])
        st = st._replace(
            **{name: getattr(st, name).at[idx.ravel()].set(v.ravel(), mode="drop")
               for name, v in updates.items()},
            overflow=jnp.where((st.overflow < 0) & jnp.any(lost), k, st.overflow),
        )
        return buf, st

    return spiking_batches(counts, table.row_ptr, layout.n_pre, layout.max_fanout, batch,
                           (buffer, state))


def record_post(table: PlasticTable, state: PlasticState, spiked, k1, dt,
                layout: PlasticLayout):
    """Append the postsynaptic spikes of step k1 (``spiked``, (n_cells,) bool) to the
    history, with the trace after each: ``K = K_prev exp(-(k1 - s_prev) dt / tau_minus) + 1``."""
    if STDP not in layout.kinds:
        return state
    H = layout.history
    cells = jnp.arange(layout.n_cells)
    n = state.n_post
    prev = (n - 1) % H
    prev_k = jnp.where(n > 0, state.hist_k[cells, prev], 0.0)
    prev_s = state.hist_step[cells, prev]
    k_new = prev_k * jnp.exp((prev_s - k1) * dt / table.tau_minus) + 1.0
    slot = n % H
    hist_step = state.hist_step.at[cells, slot].set(
        jnp.where(spiked, k1, state.hist_step[cells, slot]))
    hist_k = state.hist_k.at[cells, slot].set(jnp.where(spiked, k_new, state.hist_k[cells, slot]))
    return state._replace(hist_step=hist_step, hist_k=hist_k,
                          n_post=n + spiked.astype(jnp.int32))
