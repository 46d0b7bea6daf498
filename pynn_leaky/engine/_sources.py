"""Spike sources: scheduled spikes (SpikeSourceArray) and random processes.

A source "emits at step k" when its spike carries the time t_k = k * dt, i.e. it
happened during (t_{k-1}, t_k] (NEST's convention). Emissions are integer counts, so
two spikes of one source in one step are both delivered.

When all random sources are plain Poisson sources (SpikeSourcePoisson), their spikes
are drawn by events, not by steps (:func:`block_counts`): time is cut into blocks of
``BLOCK`` steps, counted from step 0, and each source draws its number of events in a
block, Poisson(rate * BLOCK dt), then each event's step, uniform over the block. That is
exactly a Poisson process binned into steps (independent Poisson(rate dt) counts), for
about (1 + the largest count) random numbers per source and block instead of one per
source and step. A source's draws depend only on the key, its index, the block's index
and its own rate, so a run split anywhere draws the same spikes; a changed rate draws the
rest of the block afresh (independently: the rate is folded into the source's key).

Otherwise every random source draws one uniform number per step (drawn a chunk at a
time, see :func:`poisson_uniforms`) and carries an integer ``phase``:

* Poisson (SpikeSourcePoisson): the spike count of a step is Poisson(rate dt); no phase.
* gamma of integer shape a (SpikeSourceGamma): a spike every a-th event of a Poisson
  process of rate beta (an Erlang renewal process, ISIs Gamma(a, beta)). The events of a
  step are Poisson(beta dt) whatever the past, so the binned counts are exact:
  ``phase`` (0 .. a-1) counts the events since the last spike.
* Poisson with dead time (SpikeSourcePoissonRefractory, NEST's ppd_sup_generator): after
  a spike, ``phase = D`` steps without spikes; then a spike with probability ``hazard``
  in each step (ISI = D + a geometric number of steps >= 1).

A random source starts stationary: at its first active step (``phase == -1``) the phase
is drawn from the process's equilibrium distribution with the same uniform number (the
remainder of the uniform, rescaled, is again uniform and decides the step), so the mean
rate is the same in every step from ``start`` on.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax


class ScheduleTable(NamedTuple):
    """All scheduled spikes of all array sources, sorted by step.

    Padding entries carry ``step = NEVER`` and are never emitted.
    """

    step: jax.Array  # (M,) int32, ascending
    cell: jax.Array  # (M,) int32, index within the array-source block


NEVER = 2**31 - 1


def scheduled_counts(table: ScheduleTable, k, n: int, kmax: int):
    """Spike counts (n,) int32 of the array sources at step ``k``.

    ``kmax`` (static) is the largest number of spikes scheduled in any one step, so the
    work per step is O(kmax + log M) whatever the length of the schedule.
    """
    if n == 0 or kmax == 0:
        return jnp.zeros((n,), jnp.int32)
    m = table.step.shape[0]
    lo = jnp.searchsorted(table.step, k, side="left")
    idx = jnp.minimum(lo + jnp.arange(kmax), m - 1)
    hit = (lo + jnp.arange(kmax) < m) & (table.step[idx] == k)
    return jnp.zeros((n,), jnp.int32).at[table.cell[idx]].add(hit.astype(jnp.int32))


class PoissonParams(NamedTuple):
    """The random sources. Without ``shape`` (None) all are plain Poisson sources."""

    rate: jax.Array  # (n,) Hz, rate of the Poisson events (beta for gamma, 0 for dead time)
    start: jax.Array  # (n,) int32, first step that can emit is start + 1
    stop: jax.Array  # (n,) int32, last step that can emit
    shape: jax.Array | None = None  # (n,) int32, events per spike (1 Poisson, a gamma)
    dead: jax.Array | None = None  # (n,) int32, dead steps after a spike; -1: no dead time
    hazard: jax.Array | None = None  # (n,) spike probability per free step (dead time)


def poisson_cdf(rate, dt, terms: int):
    """Cumulative probabilities P(X <= j), j < terms, of the spike count in one step."""
    # Always float64: float32 rounding near 1 would turn 6e-8 of all draws into bursts.
    lam = rate.astype(jnp.float64) * dt * 1e-3
    j = jnp.arange(terms, dtype=jnp.float64)
    # log P(X = j) = j log(lam) - lam - log(j!)
    logp = j * jnp.log(jnp.where(lam > 0, lam, 1.0))[:, None] - lam[:, None]
    logp = logp - jax.scipy.special.gammaln(j + 1.0)
    pmf = jnp.where(lam[:, None] > 0, jnp.exp(logp), (j == 0).astype(jnp.float64))
    # The last entry is 1 exactly: the (tiny) tail folds into the largest count, so a
    # rounding deficit of the sum (float32) cannot produce impossible counts.
    return jnp.cumsum(pmf, axis=1).at[:, -1].set(1.0)  # (n, terms)


def poisson_uniforms(key, first_step, n_steps: int, n: int):
    """The uniforms (n_steps, n) of steps first_step, first_step + 1, ...

    Each step's numbers come from the key folded with the step, so a run split anywhere
    draws the same numbers; drawing a whole chunk at once is much cheaper than per step.
    """
    steps = first_step + jnp.arange(n_steps)
    return jax.vmap(
        lambda k: jax.random.uniform(jax.random.fold_in(key, k), (n,), jnp.float64)
    )(steps)


BLOCK = 256
"""Steps per block of :func:`block_counts` (a constant: the spikes must not depend on how
runs are cut into chunks)."""


try:
    from jax.extend.random import threefry2x32_p as _threefry_p
except ImportError:  # a JAX without it: the elementwise form below (the same words)
    _threefry_p = None

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _words(*arrays):
    """``arrays`` as uint32, broadcast together (the operands of a threefry hash)."""
    return jnp.broadcast_arrays(*(jnp.asarray(a).astype(jnp.uint32) for a in arrays))


def _threefry(k0, k1, x0, x1):
    """Threefry-2x32, 20 rounds (Salmon et al. 2011, "Parallel random numbers: as easy as
    1, 2, 3"; JAX's counter-based hash: the words of ``jax.extend.random.threefry2x32_p``,
    see ``tests/test_poisson_blocks.py``) of the counters (x0, x1) under the keys (k0, k1),
    all broadcast together. Written out as elementwise operations, XLA:CPU fuses the 20
    rounds into one pass; the primitive's lowering is a loop over 5 groups of 4 rounds
    whose carried arrays are copied at every turn (5 x slower on CPU). One call hashes any
    number of (key, counter) pairs; vmapping jax.random over per-source keys instead
    compiles several times slower."""
    k0, k1, x0, x1 = _words(k0, k1, x0, x1)
    keys = (k0, k1, k0 ^ k1 ^ jnp.uint32(_PARITY))
    x0, x1 = x0 + keys[0], x1 + keys[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = ((x1 << jnp.uint32(r)) | (x1 >> jnp.uint32(32 - r))) ^ x0
        x0 = x0 + keys[(i + 1) % 3]
        x1 = x1 + keys[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


def _uniform(words):
    """Uniforms in [0, 1) (float64, 52 random bits) from the two words of :func:`_threefry`."""
    hi, lo = words
    bits = (hi.astype(jnp.uint64) << 20) | (lo.astype(jnp.uint64) >> 12)
    return bits.astype(jnp.float64) * 2.0**-52


def _source_keys(key, rate):
    """One key (two uint32 words) per source, from its index and its rate: a source's
    spikes do not depend on the other sources' rates, and a changed rate gives independent
    numbers. The rate is hashed in float32, so that both precisions draw the same spikes."""
    k = jax.random.key_data(key)
    bits = lax.bitcast_convert_type(rate.astype(jnp.float32), jnp.uint32)
    # the keys are one pair per source and chunk: see _threefry_once
    return _threefry_once(k[..., 0], k[..., 1], jnp.arange(rate.shape[0], dtype=jnp.uint32),
                          bits)


def _threefry_once(k0, k1, x0, x1):
    """:func:`_threefry` through JAX's primitive (the same words) where JAX has it: its
    loop's result is computed once, where XLA fuses the elementwise form again into every
    consumer (the source keys had about 10 copies of the 20 rounds, a fifth of W1's
    program: memory held by the loaded program). For words that are few, or read by
    several consumers; the loop is 5 x slower per word."""
    if _threefry_p is None:
        return _threefry(k0, k1, x0, x1)
    return tuple(_threefry_p.bind(*_words(k0, k1, x0, x1)))


FIRST = 8
"""Events per source and block handled in one vectorised pass; sources with more (rare
below a few hundred Hz) continue in a loop."""


def _poisson_inverse(u, lam):
    """The smallest j with P(X <= j) >= u, X ~ Poisson(lam), for each element.

    P(X <= j) for j <= FIRST in one pass; beyond, the terms are summed in log space (no
    underflow of exp(-lam) at large lam) until every count is found, as many times as
    the largest count exceeds FIRST.
    """
    log_lam = jnp.log(jnp.where(lam > 0, lam, 1.0))
    # P(X <= j) as a running sum, one elementwise pass (a cumsum over a stacked axis was
    # a reduce-window kernel 4 x as costly as the rest of the draws)
    logp = -lam
    total = jnp.exp(logp)
    count = (u > total).astype(jnp.int32)
    for j in range(1, FIRST + 1):
        logp = logp + log_lam - math.log(j)
        total = total + jnp.exp(logp)
        count = count + (u > total).astype(jnp.int32)
    cap = lam + 40.0 * jnp.sqrt(lam) + 100.0  # beyond any tail a float64 uniform reaches

    def body(c):
        j, logp, total, go = c
        j = j + go.astype(jnp.int32)
        logp = jnp.where(go, logp + log_lam - jnp.log(j.astype(lam.dtype)), logp)
        total = jnp.where(go, total + jnp.exp(logp), total)
        return j, logp, total, go & (u > total) & (j < cap)

    go = (count > FIRST) & (lam > 0)  # u > P(X <= FIRST): go on from j = FIRST
    start = (jnp.where(go, FIRST, count), logp, total, go)
    return lax.while_loop(lambda c: jnp.any(c[3]), body, start)[0]


def block_counts(key, rate, dt, first_step, n_steps: int, dtype):
    """Spike counts (n_steps, n) of plain Poisson sources in steps first_step,
    first_step + 1, ... (see the module's docstring); ``dtype`` holds any one count.

    Source i's numbers for block b are uniforms from its key and the counter (b, j): j = 0
    gives its number of events, j = e + 1 the step of its event e."""
    n = rate.shape[0]
    lam = rate.astype(jnp.float64) * dt * 1e-3 * BLOCK  # mean events per block
    s0, s1 = _source_keys(key, rate)
    g0 = first_step - 1  # steps g + 1 with g // BLOCK == b form block b
    b0 = g0 // BLOCK
    n_blocks = (n_steps + 2 * BLOCK - 2) // BLOCK  # static: enough for any alignment
    blocks = (b0 + jnp.arange(n_blocks)).astype(jnp.uint32)[:, None]  # (n_blocks, 1)
    at_block = jnp.arange(n_blocks)[:, None]
    cells = jnp.arange(n)[None, :]

    def uniforms(j, hasher=_threefry):  # (n_blocks, n, ...) for the counters (block, j)
        extra = (None,) * (jnp.ndim(j))
        return _uniform(hasher(s0[(None, slice(None)) + extra], s1[(None, slice(None)) + extra],
                               blocks[(slice(None), slice(None)) + extra], j))

    def to_step(u):
        return jnp.minimum((u * BLOCK).astype(jnp.int32), BLOCK - 1)

    # Each source's count (its uniform is read twice, by the first pass and the loop of
    # _poisson_inverse: hashed once), then the steps of its first FIRST events in one pass.
    u0 = uniforms(jnp.uint32(0), _threefry_once)  # (n_blocks, n)
    events = _poisson_inverse(u0.ravel(), jnp.tile(lam, n_blocks)).reshape(n_blocks, n)
    u = uniforms(jnp.arange(1, FIRST + 1, dtype=jnp.uint32))  # (n_blocks, n, FIRST)
    first = jnp.arange(FIRST) < events[..., None]
    counts = jnp.zeros((n_blocks, BLOCK, n), dtype).at[
        at_block[..., None], to_step(u), cells[..., None]].add(first.astype(dtype))

    def place(c):  # event e >= FIRST of the sources that have one (rare at usual rates)
        e, counts = c
        step = to_step(uniforms(e + 1))
        return e + 1, counts.at[at_block, step, cells].add((e < events).astype(dtype))

    counts = lax.while_loop(lambda c: c[0] < jnp.max(events, initial=0), place,
                            (jnp.asarray(FIRST, jnp.uint32), counts))[1]
    counts = counts.reshape(n_blocks * BLOCK, n)
    return lax.dynamic_slice_in_dim(counts, g0 - b0 * BLOCK, n_steps)


def init_phase(n: int):
    """Phases (n,) int32 of random sources that have not started yet."""
    return jnp.full((n,), -1, jnp.int32)


def random_counts(params: PoissonParams, cdf, u, k, phase):
    """Spike counts (n,) int32 of the random sources at step ``k``, and their new phase.

    Plain Poisson sources (``params.shape`` None): ``u`` (n,) are the step's event
    counts from :func:`block_counts`. Otherwise ``u`` are the step's uniforms in [0, 1)
    and ``cdf`` the Poisson CDF of ``rate`` (:func:`poisson_cdf`).
    """
    active = (k > params.start) & (k <= params.stop)
    if params.shape is None:
        return jnp.where(active, u.astype(jnp.int32), 0), phase
    fresh = phase < 0
    shape, dead, hazard = params.shape, params.dead, params.hazard.astype(u.dtype)
    has_dead = dead >= 0

    # Erlang: the equilibrium phase is uniform over 0 .. shape-1.
    scaled = u * shape
    drawn = jnp.minimum(jnp.floor(scaled).astype(jnp.int32), shape - 1)
    start_g = fresh & (shape > 1)
    u_g = jnp.where(start_g, scaled - drawn, u)
    events = jnp.sum(u_g[:, None] > cdf[:, :-1], axis=1).astype(jnp.int32)
    total = jnp.where(fresh, drawn, phase) + events
    spikes_g, phase_g = total // shape, total % shape

    # Dead time: in equilibrium each of the D refractory phases has the probability of a
    # spike per step, r = hazard / (1 + D hazard); the free phase has the rest.
    r = hazard / (1.0 + jnp.maximum(dead, 0) * hazard)
    f = jnp.maximum(dead, 0) * r
    start_refractory = fresh & (u < f)
    left = jnp.minimum(1 + jnp.floor(u / jnp.where(r > 0, r, 1.0)).astype(jnp.int32), dead)
    phase_d = jnp.where(fresh, jnp.where(start_refractory, left, 0), phase)
    u_d = jnp.where(fresh & ~start_refractory, (u - f) / (1.0 - f), u)
    fire = (phase_d == 0) & (u_d < hazard)
    new_d = jnp.where(fire, dead, jnp.maximum(phase_d - 1, 0))

    spikes = jnp.where(has_dead, fire.astype(jnp.int32), spikes_g)
    new = jnp.where(has_dead, new_d, phase_g)
    return jnp.where(active, spikes, 0), jnp.where(active, new, phase)


def poisson_terms(max_lambda: float) -> int:
    """Number of CDF terms so that the truncated tail is below 1e-12 (static)."""
    lam = max(max_lambda, 1e-12)
    p, cdf, j = math.exp(-lam), 0.0, 0
    while True:
        cdf += p
        j += 1
        if 1.0 - cdf < 1e-12 or j >= 64:
            return j
        p *= lam / j
