"""Plain Poisson sources drawn by events per block of steps (engine._sources.block_counts).

The spike counts of a step must be independent Poisson(rate dt) numbers whatever the
rate, the block boundaries and the way a run is split. Tolerances are 5 standard errors
of each estimate, computed from the sample sizes written next to them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import pynn_leaky as sim
from pynn_leaky.engine import _sources

DT = 0.1
BLOCK = _sources.BLOCK


def _counts(rate, first_step, n_steps, seed=3, dtype=jnp.int32):
    key = jax.random.key(seed)
    return np.asarray(_sources.block_counts(key, jnp.asarray(rate, jnp.float64),
                                            jnp.float64(DT), first_step, n_steps, dtype))


@pytest.mark.parametrize("rate", [2.0, 20.0, 2000.0, 50000.0])
def test_counts_per_step_are_poisson(rate):
    """Mean and variance of the per-step count equal lam = rate dt (200 sources x 20 000
    steps); for lam >= 0.2 the whole distribution (chi-square against Poisson(lam))."""
    n, steps = 200, 20000
    c = _counts(np.full(n, rate), 1, steps)
    lam = rate * DT * 1e-3
    m = c.size
    assert abs(c.mean() - lam) < 5 * np.sqrt(lam / m)
    # var of the sample variance of Poisson counts: (lam + 2 lam^2) / m (fourth cumulant)
    assert abs(c.var() - lam) < 5 * np.sqrt((lam + 2 * lam**2) / m)
    if lam >= 0.2:
        ks = np.arange(int(lam + 6 * np.sqrt(lam) + 2))
        observed = np.array([np.count_nonzero(c == k) for k in ks[:-1]]
                            + [np.count_nonzero(c >= ks[-1])])
        pmf = stats.poisson.pmf(ks[:-1], lam)
        expected = m * np.append(pmf, 1 - pmf.sum())
        keep = expected > 20
        chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
        assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-6


def test_counts_of_different_steps_are_independent():
    """Correlation of the counts of steps 1 and 255 apart and across a block boundary
    (2000 sources x 4 blocks at 400 Hz): |r| < 5 / sqrt(samples)."""
    n, steps = 2000, 4 * BLOCK
    c = _counts(np.full(n, 400.0), 1, steps).astype(float)
    for lag in (1, BLOCK - 1, BLOCK):
        x, y = c[:-lag].ravel(), c[lag:].ravel()
        r = np.corrcoef(x, y)[0, 1]
        assert abs(r) < 5 / np.sqrt(x.size), lag
    # totals of consecutive blocks
    totals = c.reshape(4, BLOCK, n).sum(axis=1)
    r = np.corrcoef(totals[:-1].ravel(), totals[1:].ravel())[0, 1]
    assert abs(r) < 5 / np.sqrt(3 * n)


def test_split_anywhere_draws_the_same_counts():
    rate = np.linspace(0.0, 3000.0, 50)
    whole = _counts(rate, 1, 1000)
    for cut in (1, 137, BLOCK, BLOCK + 1, 999):
        parts = np.concatenate([_counts(rate, 1, cut), _counts(rate, 1 + cut, 1000 - cut)])
        np.testing.assert_array_equal(parts, whole)
    assert whole[:, 0].sum() == 0  # rate 0


def test_small_counts_dtype_agrees_with_int32():
    rate = np.full(100, 500.0)
    np.testing.assert_array_equal(_counts(rate, 11, 700, dtype=jnp.uint8),
                                  _counts(rate, 11, 700))


def test_rate_changed_within_a_block_draws_afresh():
    """Run 10 ms at 200 Hz, set 600 Hz, run 15.6 ms (both inside the first block): the
    counts after the change follow the new rate and are uncorrelated with the counts
    before it (3000 sources)."""
    n = 3000
    sim.setup(timestep=DT, rng_seed=5, progress=False)
    try:
        src = sim.Population(n, sim.SpikeSourcePoisson(rate=200.0))
        src.record("spikes")
        sim.run(10.0)
        src.set(rate=600.0)
        sim.run(15.6)
        trains = src.get_data().segments[0].spiketrains
        order = np.argsort([st.annotations["source_index"] for st in trains])
        times = [trains[i].rescale("ms").magnitude for i in order]
    finally:
        sim.end()
    before = np.array([np.count_nonzero(t <= 10.0 + 1e-9) for t in times], float)
    after = np.array([np.count_nonzero(t > 10.0 + 1e-9) for t in times], float)
    mean_after = 600.0 * 15.6e-3
    assert abs(after.mean() - mean_after) < 5 * np.sqrt(mean_after / n)
    assert abs(before.mean() - 2.0) < 5 * np.sqrt(2.0 / n)
    r = np.corrcoef(before, after)[0, 1]
    assert abs(r) < 5 / np.sqrt(n)


def test_event_counts_invert_the_poisson_cdf():
    """The count of a block is the smallest j with P(X <= j) >= u, against scipy's
    Poisson quantile function, below and above the vectorised first pass (FIRST)."""
    u = np.random.default_rng(1).random(20000)
    for lam in [0.0, 0.3, 5.0, 8.5, 20.0, 300.0, 5000.0]:
        got = np.asarray(_sources._poisson_inverse(jnp.asarray(u), jnp.full(u.shape, lam)))
        want = stats.poisson.ppf(u, lam) if lam > 0 else np.zeros(u.shape)
        np.testing.assert_array_equal(got, want)


def test_each_source_draws_from_its_own_stream():
    """Changing one source's rate leaves the other sources' counts alone; float32 rates
    (precision='float32') use the same random numbers as float64 ones."""
    a = _counts([500.0, 500.0, 40.0], 1, 2000)
    b = _counts([500.0, 900.0, 40.0], 1, 2000)
    np.testing.assert_array_equal(a[:, [0, 2]], b[:, [0, 2]])
    assert not np.array_equal(a[:, 1], b[:, 1])
    key = jax.random.key(3)
    f32 = _sources.block_counts(key, jnp.asarray([3300.0, 20.0], jnp.float32),
                                jnp.float32(DT), 1, 2000, jnp.int32)
    np.testing.assert_array_equal(np.asarray(f32), _counts([3300.0, 20.0], 1, 2000))


def test_the_hash_is_jaxs_threefry():
    """_sources._threefry, written out for speed, gives the words of JAX's own
    threefry2x32 primitive, also for broadcast keys and counters."""
    from jax.extend.random import threefry2x32_p

    rng = np.random.default_rng(7)
    words = [rng.integers(0, 2**32, (50, 40), dtype=np.uint64).astype(np.uint32)
             for _ in range(4)]
    words[0][0, :3] = [0, 2**32 - 1, 0x1BD11BDA]  # edge values of the key schedule
    expected = threefry2x32_p.bind(*(jnp.asarray(w).ravel() for w in words))
    got = jax.jit(_sources._threefry)(*words)
    for e, g in zip(expected, got):
        assert np.array_equal(np.asarray(g).ravel(), np.asarray(e))
    k0, k1 = np.uint32(123), np.uint32(4567)  # one key, a row and a column of counters
    got = jax.jit(_sources._threefry)(k0, k1, words[2][:, :1], words[3][:1, :])
    full = [np.broadcast_to(x, (50, 40)) for x in (k0, k1, words[2][:, :1], words[3][:1, :])]
    expected = threefry2x32_p.bind(*(jnp.asarray(np.ascontiguousarray(w)).ravel()
                                     for w in full))
    for e, g in zip(expected, got):
        assert np.array_equal(np.asarray(g).ravel(), np.asarray(e))


def test_source_keys_are_the_same_with_or_without_the_primitive(monkeypatch):
    """The per-source keys come from JAX's primitive where it exists, else from the
    elementwise form: the same words, so the spikes do not depend on the JAX version."""
    key = jax.random.key(11)
    rate = jnp.asarray(np.linspace(0.0, 3300.0, 37))
    keys = jax.random.split(key, 3)  # and under vmap over keys (batched trials)
    runs = []
    assert _sources._threefry_p is not None  # this JAX has it: both forms are compared
    for primitive in (_sources._threefry_p, None):
        monkeypatch.setattr(_sources, "_threefry_p", primitive)
        runs.append((jax.jit(_sources._source_keys)(key, rate),
                     jax.vmap(_sources._source_keys, in_axes=(0, None))(keys, rate)))
    (one_p, batched_p), (one_e, batched_e) = runs
    for a, b, c, d in zip(one_p, one_e, batched_p, batched_e):
        assert a.shape == (37,) and a.dtype == jnp.uint32 and c.shape == (3, 37)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_array_equal(np.asarray(c), np.asarray(d))
    assert not np.array_equal(np.asarray(batched_p[0][0]), np.asarray(batched_p[0][1]))


def test_block_counts_are_the_same_with_or_without_the_primitive(monkeypatch):
    """The count uniforms of block_counts are hashed by the primitive where it exists
    (_threefry_once), the events' steps elementwise: the same spikes without it."""
    key = jax.random.key(5)
    rate = jnp.asarray(np.linspace(0.0, 2000.0, 23))  # high rates: more than FIRST events
    runs = []
    for primitive in (_sources._threefry_p, None):
        monkeypatch.setattr(_sources, "_threefry_p", primitive)
        runs.append(np.asarray(_sources.block_counts(key, rate, 0.1, 301, 700, jnp.int32)))
    assert runs[0].shape == (700, 23) and runs[0].sum() > 0
    np.testing.assert_array_equal(runs[0], runs[1])
