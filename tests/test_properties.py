"""Properties that hold for every input (hypothesis): run splitting, reset equivalence,
exact delays, linearity of LeakyIntegrator responses, and set/get round trips.

Each network below keeps its engine layout (sizes, ring length, schedule size, chunk)
fixed across examples, so only the first example of a test compiles; what varies is
data (times, parameters, weights, delays, seeds, split points).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pynn_leaky as sim

DT = 0.1
FAST = settings(max_examples=12, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def simulator():
    yield sim
    sim.end()


def values(population, name, segment=-1):
    return population.get_data().segments[segment].filter(name=name)[0].magnitude


def spike_trains(population, segment=-1):
    trains = population.get_data().segments[segment].spiketrains
    return [np.asarray(t.magnitude) for t in sorted(trains,
                                                    key=lambda t: t.annotations["source_index"])]


# -- run splitting and reset ---------------------------------------------------------------

N_STEPS = 300  # 30 ms


def noisy_network(seed, chunk_steps):
    """Poisson and array inputs, noisy cells, AC and noisy current sources: everything
    that could depend on where a run is cut. Returns the recorded populations."""
    sim.setup(timestep=DT, rng_seed=seed, chunk_steps=chunk_steps)
    poisson = sim.Population(5, sim.SpikeSourcePoisson(rate=300.0), label="poisson")
    array = sim.Population(2, sim.SpikeSourceArray(
        spike_times=[[0.5, 1.0, 7.3, 22.2], [3.0, 14.1, 14.2]]), label="array")
    cells = sim.Population(3, sim.LeakyIntegrator(tau=[4.0, 10.0, 25.0], R=5.0, noise=0.5,
                                                  V_rest=-60.0, i_offset=0.2),
                           initial_values={"v": -55.0}, label="cells")
    syn = [(i, j, 0.3 + 0.1 * i, DT * (1 + (3 * i + 5 * j) % 17))
           for i in range(5) for j in range(3)]
    sim.Projection(poisson, cells, sim.FromListConnector(syn), sim.StaticSynapse())
    sim.Projection(array, cells, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=-1.0, delay=2.0), receptor_type="inhibitory")
    ac = sim.ACSource(amplitude=0.3, frequency=70.0, phase=30.0, start=2.0, stop=25.0)
    noisy = sim.NoisyCurrentSource(mean=0.1, stdev=0.2, start=1.0, stop=28.0, dt=0.5)
    cells.inject(ac)
    cells[0:2].inject(noisy)
    cells.record(["v", "isyn_exc", "isyn_inh"])
    poisson.record("spikes")
    array.record("spikes")
    return cells, poisson, array


def everything(cells, poisson, array, segment=-1):
    out = {name: values(cells, name, segment) for name in ("v", "isyn_exc", "isyn_inh")}
    out["poisson"] = spike_trains(poisson, segment)
    out["array"] = spike_trains(array, segment)
    return out


def assert_identical(a, b):
    for key in a:
        if isinstance(a[key], list):
            assert len(a[key]) == len(b[key]), key
            for x, y in zip(a[key], b[key]):
                np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


splits = st.lists(st.integers(1, N_STEPS - 1), max_size=5, unique=True).map(sorted)


@FAST
@given(seed=st.integers(0, 2**31 - 1), cuts=splits, chunk=st.sampled_from([17, 1000]),
       use_run_until=st.booleans())
def test_run_splitting_is_bit_identical(seed, cuts, chunk, use_run_until):
    whole = noisy_network(seed, chunk)
    sim.run(N_STEPS * DT)
    expected = everything(*whole)
    assert sum(t.size for t in expected["poisson"]) > 0  # the inputs are live

    parts = noisy_network(seed, chunk)
    bounds = [0, *cuts, N_STEPS]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if use_run_until:
            sim.run_until(b * DT)
        else:
            sim.run((b - a) * DT)
    assert sim.get_current_time() == pytest.approx(N_STEPS * DT, abs=1e-9)
    assert_identical(everything(*parts), expected)


@FAST
@given(seed=st.integers(0, 2**31 - 1), n_steps=st.integers(1, N_STEPS), cuts=splits)
def test_reset_then_run_repeats_the_segment(seed, n_steps, cuts):
    net = noisy_network(seed, 1000)
    sim.run(n_steps * DT)
    sim.reset()
    assert sim.get_current_time() == 0.0
    bounds = [0, *[c for c in cuts if c < n_steps], n_steps]
    for a, b in zip(bounds[:-1], bounds[1:]):
        sim.run((b - a) * DT)
    assert len(net[0].get_data().segments) == 2
    first, second = everything(*net, segment=0), everything(*net, segment=1)
    assert first["v"].shape == (n_steps + 1, 3)
    assert_identical(second, first)


def test_reset_with_unrecorded_current_source():
    """Regression: reset() used getattr(source, "_trace"), which a current source answers
    with NonExistentParameterError when it is not recorded."""
    sim.setup(timestep=DT)
    cells = sim.Population(1, sim.LeakyIntegrator())
    cells.inject(sim.DCSource(amplitude=1.0))
    cells.record("v")
    sim.run(1.0)
    sim.reset()
    sim.run(1.0)
    first, second = values(cells, "v", 0), values(cells, "v", 1)
    np.testing.assert_array_equal(first, second)
    assert second[-1, 0] > 0


# -- delays ----------------------------------------------------------------------------

MAX_DELAY_STEPS = 40


@FAST
@given(dt=st.sampled_from([0.1, 0.05, 0.25, 1.0]), k=st.integers(1, 100),
       m=st.lists(st.integers(1, MAX_DELAY_STEPS), min_size=3, max_size=3),
       inhibitory=st.booleans(), w=st.floats(0.01, 10.0))
def test_spike_arrives_exactly_delay_later(dt, k, m, inhibitory, w):
    """A spike at t = k dt through delay d = m dt sets isyn at t + d (not before) to the
    weight exactly; v first moves at t + d + dt."""
    sim.setup(timestep=dt)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[k * dt]))
    silent = sim.Population(1, sim.SpikeSourceArray(spike_times=[]))
    cells = sim.Population(3, sim.LeakyIntegrator(tau=7.0, tau_syn_E=3.0, tau_syn_I=3.0))
    receptor = "inhibitory" if inhibitory else "excitatory"
    weight = -w if inhibitory else w
    sim.Projection(src, cells, sim.FromListConnector(
        [(0, j, weight, m[j] * dt) for j in range(3)]), sim.StaticSynapse(),
        receptor_type=receptor)
    # keeps the ring length (and so the compiled program) the same for every example
    sim.Projection(silent, cells[0:1], sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=0.0, delay=MAX_DELAY_STEPS * dt))
    cells.record(["v", "isyn_exc", "isyn_inh"])
    sim.run((k + MAX_DELAY_STEPS + 3) * dt)
    v = values(cells, "v")
    isyn = values(cells, "isyn_inh" if inhibitory else "isyn_exc")
    other = values(cells, "isyn_exc" if inhibitory else "isyn_inh")
    assert not other.any()
    for j in range(3):
        arrival = k + m[j]
        assert not isyn[:arrival, j].any()
        assert isyn[arrival, j] == weight
        assert not v[: arrival + 1, j].any()
        assert v[arrival + 1, j] != 0 and np.sign(v[arrival + 1, j]) == np.sign(weight)


# -- linearity -----------------------------------------------------------------------------

N_LIN = 200  # steps


def finite(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@FAST
@given(
    method=st.sampled_from(["exp_auto", "euler", "rk2", "rk4"]),
    tau=finite(1.0, 50.0), tau_syn_E=finite(0.5, 20.0), tau_syn_I=finite(0.5, 20.0),
    R=finite(0.1, 100.0), V_rest=finite(-80.0, 20.0), i_offset=finite(-1.0, 1.0),
    v0=finite(-80.0, 20.0), w1=finite(0.0, 5.0), w2=finite(0.0, 5.0), w3=finite(0.0, 5.0),
    inhibitory=st.lists(st.booleans(), min_size=2, max_size=2),
    steps=st.lists(st.integers(1, N_LIN - 40), min_size=8, max_size=8, unique=True),
    d1=st.integers(1, 30), d2=st.integers(1, 30),
)
def test_responses_add_up(method, tau, tau_syn_E, tau_syn_I, R, V_rest, i_offset, v0, w1, w2,
                          w3, inhibitory, steps, d1, d2):
    """One population, rest trajectory D (no input) subtracted from every response:
    weight w1 + w2 gives the sum of the responses to w1 and to w2 (same spikes), and two
    inputs together give the sum of their separate responses; to 1e-9 mV, every method."""
    sim.setup(timestep=DT)
    trains = [sorted(steps[:4]), sorted(steps[4:])]  # disjoint: one spike per step at most
    src = sim.Population(3, sim.SpikeSourceArray(
        spike_times=[[s * DT for s in trains[0]], [s * DT for s in trains[1]], []]))
    cells = sim.Population(6, sim.LeakyIntegrator(
        method=method, tau=tau, tau_syn_E=tau_syn_E, tau_syn_I=tau_syn_I, R=R, V_rest=V_rest,
        i_offset=i_offset), initial_values={"v": v0})
    sign = [-1.0 if inh else 1.0 for inh in inhibitory]
    receptor = ["inhibitory" if inh else "excitatory" for inh in inhibitory]
    w1, w2, w3 = sign[0] * w1, sign[0] * w2, sign[1] * w3
    A, B, C, D, E, F = range(6)
    sim.Projection(src, cells, sim.FromListConnector(
        [(0, A, w1, d1 * DT), (0, B, w2, d1 * DT), (0, C, w1 + w2, d1 * DT),
         (0, E, w1, d1 * DT)]), sim.StaticSynapse(), receptor_type=receptor[0])
    sim.Projection(src, cells, sim.FromListConnector(
        [(1, E, w3, d2 * DT), (1, F, w3, d2 * DT)]), sim.StaticSynapse(),
        receptor_type=receptor[1])
    # keeps the ring length (and so the compiled program) the same for every example
    sim.Projection(src, cells, sim.FromListConnector([(2, D, 0.0, 30 * DT)]), sim.StaticSynapse())
    cells.record("v")
    sim.run(N_LIN * DT)
    v = values(cells, "v").T
    rest = v[D]
    np.testing.assert_allclose(v[C] - rest, (v[A] - rest) + (v[B] - rest), rtol=0, atol=1e-9)
    np.testing.assert_allclose(v[E] - rest, (v[A] - rest) + (v[F] - rest), rtol=0, atol=1e-9)
    if abs(w1) > 1e-3:
        assert np.abs(v[A] - rest).max() > 1e-9  # the input did arrive


# -- parameter round trips -------------------------------------------------------------

positive = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False, allow_nan=False)
non_negative = st.floats(min_value=0.0, allow_infinity=False, allow_nan=False)
any_finite = st.floats(allow_infinity=False, allow_nan=False)
LEAKY = {"V_rest": any_finite, "R": positive, "tau": positive, "tau_syn_E": positive,
         "tau_syn_I": positive, "i_offset": any_finite, "noise": non_negative}
POISSON = {"rate": non_negative, "start": non_negative, "duration": non_negative}


@st.composite
def parameter_values(draw, kinds, n):
    """A subset of the parameters, each a scalar or an array of length n."""
    names = draw(st.lists(st.sampled_from(sorted(kinds)), min_size=1, unique=True))
    out = {}
    for name in names:
        if draw(st.booleans()):
            out[name] = draw(kinds[name])
        else:
            out[name] = np.array(draw(st.lists(kinds[name], min_size=n, max_size=n)))
    return out


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(data=st.data(), n=st.integers(1, 6), poisson=st.booleans())
def test_set_get_round_trip(data, n, poisson):
    sim.setup(timestep=DT)
    kinds = POISSON if poisson else LEAKY
    p = sim.Population(n, sim.SpikeSourcePoisson() if poisson else sim.LeakyIntegrator())
    new = data.draw(parameter_values(kinds, n))
    before = {name: p.get(name, simplify=False).copy() for name in kinds}
    p.set(**new)
    for name in kinds:
        expected = np.broadcast_to(new[name], (n,)) if name in new else before[name]
        np.testing.assert_array_equal(p.get(name, simplify=False), expected, err_msg=name)
        if name in new and np.ndim(new[name]) == 0:
            assert p.get(name) == new[name]  # homogeneous: a scalar comes back
    # through a view: only the selected cells change
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if mask.any():
        view = p[np.flatnonzero(mask)]
        name = data.draw(st.sampled_from(sorted(kinds)))
        value = data.draw(kinds[name])
        old = p.get(name, simplify=False).copy()
        view.set(**{name: value})
        np.testing.assert_array_equal(view.get(name, simplify=False), value)
        np.testing.assert_array_equal(p.get(name, simplify=False), np.where(mask, value, old))


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(v=st.lists(any_finite, min_size=3, max_size=3), isyn=any_finite)
def test_initial_values_round_trip(v, isyn):
    sim.setup(timestep=DT)
    p = sim.Population(3, sim.LeakyIntegrator())
    p.initialize(v=np.array(v), isyn_exc=isyn)
    np.testing.assert_array_equal(p.initial_values["v"].evaluate(simplify=False), v)
    np.testing.assert_array_equal(p.initial_values["isyn_exc"].evaluate(simplify=False), isyn)
