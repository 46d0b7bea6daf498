"""Spike sources: scheduled spikes (SpikeSourceArray) and Poisson processes.

A source "emits at step k" when its spike carries the time t_k = k * dt, i.e. it
happened during (t_{k-1}, t_k] (NEST's convention). Emissions are integer counts, so
two spikes of one source in one step are both delivered.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


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
    rate: jax.Array  # (n,) Hz
    start: jax.Array  # (n,) int32, first step that can emit is start + 1
    stop: jax.Array  # (n,) int32, last step that can emit


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


def poisson_counts(params: PoissonParams, cdf, u, k):
    """Spike counts (n,) int32 at step ``k`` by inverting the Poisson CDF with uniforms u."""
    count = jnp.sum(u[:, None] > cdf[:, :-1], axis=1).astype(jnp.int32)
    active = (k > params.start) & (k <= params.stop)
    return jnp.where(active, count, 0)


def poisson_terms(max_lambda: float) -> int:
    """Number of CDF terms so that the truncated tail is below 1e-12 (static)."""
    import math

    lam = max(max_lambda, 1e-12)
    p, cdf, j = math.exp(-lam), 0.0, 0
    while True:
        cdf += p
        j += 1
        if 1.0 - cdf < 1e-12 or j >= 64:
            return j
        p *= lam / j
