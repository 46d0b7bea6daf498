"""SpikeSourceGamma and SpikeSourcePoissonRefractory: statistics, windows, reproducibility.

NEST draws these processes from another random generator, so they cannot be compared
with pyNN.nest spike for spike; they are compared with the processes' distributions
instead. Tolerances are 5 standard errors of the estimate (a false alarm about once in
3 million runs), computed from the sample sizes written next to them.
"""

import numpy as np
import pytest
from pyNN import errors
from scipy import stats

import pynn_leaky as sim
from pynn_leaky import engine

DT = 0.1


@pytest.fixture(autouse=True)
def simulator():
    sim.setup(timestep=DT, rng_seed=7, progress=False)
    yield sim
    sim.end()


def _trains(pop, segment=0):
    return [np.asarray(s.magnitude) for s in pop.get_data().segments[segment].spiketrains]


def _isis(trains):
    return np.concatenate([np.diff(t) for t in trains])


@pytest.mark.parametrize("alpha, beta", [(1, 60.0), (3, 150.0), (6, 200.0)])
def test_gamma_intervals_follow_the_gamma_distribution(alpha, beta):
    """ISIs ~ Gamma(alpha, rate beta): mean alpha / beta, CV 1 / sqrt(alpha), and the whole
    distribution (Kolmogorov-Smirnov against the gamma CDF; binning the spike times to the
    0.1 ms grid moves the CDF by < 0.002 at these intervals)."""
    n, t = 200, 3000.0
    pop = sim.Population(n, sim.SpikeSourceGamma(alpha=alpha, beta=beta))
    pop.record("spikes")
    sim.run(t)
    isi = _isis(_trains(pop))
    mean, cv = alpha / beta * 1000.0, 1 / np.sqrt(alpha)
    m = isi.size  # about n * t / mean: 18000 .. 40000
    assert abs(isi.mean() - mean) < 5 * mean * cv / np.sqrt(m)
    # standard error of the sample CV of a gamma sample, by the delta method
    se_cv = cv * np.sqrt((1 + 2 * cv**2 - cv**2) / (2 * m)) * np.sqrt(1 + 3 * cv**2)
    assert abs(isi.std() / isi.mean() - cv) < 5 * se_cv + 0.002
    ks = stats.kstest(isi, stats.gamma(alpha, scale=1000.0 / beta).cdf).statistic
    assert ks < 5 / np.sqrt(m) + 0.002


def test_gamma_rate_is_stationary_from_start():
    """The process starts in equilibrium: the count in the first 10 ms after start is
    already rate * 10 ms (a process started at a spike would give fewer)."""
    n = 4000
    pop = sim.Population(n, sim.SpikeSourceGamma(alpha=8, beta=800.0, start=20.0))
    pop.record("spikes")
    sim.run(40.0)
    trains = _trains(pop)
    first = np.array([np.sum((tr > 20.0) & (tr <= 30.0)) for tr in trains])
    # rate 100 Hz: 1 spike per 10 ms per cell; count variance <= mean for alpha > 1
    assert abs(first.mean() - 1.0) < 5 * np.sqrt(1.0 / n)
    assert min((tr.min() for tr in trains if tr.size), default=np.inf) > 20.0


def test_poisson_refractory_statistics_and_dead_time():
    """ISI = D + G steps, D = tau_refrac / dt, G geometric with p = dt / (1000/rate - D dt):
    minimum (D + 1) dt, mean 1000 / rate exactly, P(ISI = (D + 1) dt) = p."""
    n, t, rate, ref = 200, 3000.0, 40.0, 5.0
    pop = sim.Population(n, sim.SpikeSourcePoissonRefractory(rate=rate, tau_refrac=ref))
    pop.record("spikes")
    sim.run(t)
    trains = _trains(pop)
    isi = _isis(trains)
    d = round(ref / DT)
    p = DT / (1000.0 / rate - d * DT)
    steps = np.rint(isi / DT).astype(int)
    assert steps.min() == d + 1  # refractoriness respected, never one step more than needed
    m = isi.size  # about 24000
    sd = DT * np.sqrt(1 - p) / p
    assert abs(isi.mean() - 1000.0 / rate) < 5 * sd / np.sqrt(m)
    assert abs(isi.std() - sd) < 5 * sd / np.sqrt(m) * 1.5
    assert abs(np.mean(steps == d + 1) - p) < 5 * np.sqrt(p * (1 - p) / m)
    counts = np.array([tr.size for tr in trains])  # stationary from t = 0
    assert abs(counts.mean() - rate * t / 1000.0) < 5 * np.sqrt(rate * t / 1000.0 / n)


@pytest.mark.parametrize("celltype", [
    sim.SpikeSourceGamma(alpha=2, beta=400.0, start=12.0, duration=30.0),
    sim.SpikeSourcePoissonRefractory(rate=200.0, tau_refrac=1.0, start=12.0, duration=30.0),
])
def test_start_and_duration_are_honoured(celltype):
    pop = sim.Population(300, celltype)
    pop.record("spikes")
    sim.run(100.0)
    times = np.concatenate(_trains(pop))
    assert times.min() > 12.0 and times.max() <= 42.0 + 1e-9
    # 200 Hz over 30 ms: 6 spikes per cell on average (5 SE of the mean count)
    assert abs(times.size / 300 - 6.0) < 5 * np.sqrt(6.0 / 300)


def _gamma_and_ppd(seed):
    sim.setup(timestep=DT, rng_seed=seed, progress=False)
    g = sim.Population(5, sim.SpikeSourceGamma(alpha=3, beta=300.0))
    r = sim.Population(5, sim.SpikeSourcePoissonRefractory(rate=100.0, tau_refrac=2.0))
    g.record("spikes")
    r.record("spikes")
    return g, r


def test_reproducible_from_the_seed_different_across_cells_and_seeds():
    runs = []
    for seed in (3, 3, 4):
        g, r = _gamma_and_ppd(seed)
        sim.run(30.0)
        sim.run(70.0)  # split runs equal one run of the same length
        runs.append(_trains(g) + _trains(r))
        sim.end()
    g, r = _gamma_and_ppd(3)
    sim.run(100.0)
    whole = _trains(g) + _trains(r)
    for a, b, c in zip(runs[0], runs[1], whole, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert all(t.size > 0 for t in whole) and sum(t.size for t in whole) > 50
    assert len({tuple(t) for t in whole}) == len(whole)  # every cell its own stream
    assert any(not np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_reset_repeats_and_runs_do_not_recompile():
    g, r = _gamma_and_ppd(5)
    sim.run(20.0)
    before = engine.run_chunk._cache_size()
    sim.reset()
    g.set(alpha=5)  # (beta is the rate of the Poisson table: it may change its length)
    r.set(rate=150.0, tau_refrac=1.0)
    sim.run(20.0)
    sim.reset()
    g.set(alpha=3)
    r.set(rate=100.0, tau_refrac=2.0)
    sim.run(20.0)
    assert engine.run_chunk._cache_size() == before
    for a, b in zip(_trains(g, 0) + _trains(r, 0), _trains(g, 2) + _trains(r, 2), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, message", [
    (lambda: sim.SpikeSourceGamma(alpha=0), r"alpha = 0\.0 .* whole number >= 1"),
    (lambda: sim.SpikeSourceGamma(alpha=2.5), r"alpha = 2\.5 .* whole number >= 1"),
    (lambda: sim.SpikeSourceGamma(beta=-1.0), r"beta = -1\.0 .* >= 0"),
    (lambda: sim.SpikeSourceGamma(start=-1.0), r"start = -1\.0 .* >= 0"),
    (lambda: sim.SpikeSourcePoissonRefractory(rate=-5.0), r"rate = -5\.0 .* >= 0"),
    (lambda: sim.SpikeSourcePoissonRefractory(tau_refrac=np.nan), r"tau_refrac = nan"),
    (lambda: sim.SpikeSourcePoissonRefractory(rate=500.0, tau_refrac=2.0),
     r"rate = 500\.0 Hz .* tau_refrac = 2\.0 ms: rate must be < 1000 / tau_refrac \(= 500\.0"),
])
def test_bad_values_name_value_and_range(make, message):
    with pytest.raises(errors.InvalidParameterValueError, match=message):
        sim.Population(2, make())


def test_dead_time_too_long_for_the_grid_is_refused_at_run():
    """rate * tau_refrac < 1000 holds (NEST accepts it), but the dead time of 10 steps plus
    at least one free step is longer than 1000 / rate: no process on the grid has that
    rate. Values set one at a time are checked together at run()."""
    pop = sim.Population(2, sim.SpikeSourcePoissonRefractory(rate=950.0, tau_refrac=0.0))
    pop.set(tau_refrac=1.0)
    with pytest.raises(errors.InvalidParameterValueError,
                       match=r"rate = 950\.0 Hz .* tau_refrac = 1\.0 ms at dt = 0\.1 ms"):
        sim.run(1.0)
    pop.set(rate=100.0)
    pop.set(tau_refrac=12.0)
    with pytest.raises(errors.InvalidParameterValueError, match=r"rate = 100\.0 Hz"):
        sim.run(1.0)
