"""The PyNN API of pynn_leaky: parameters, recording, Neo output, files, sources,
projections, the procedural API, time control, and the engine's independence from PyNN.

Expected values come from the arguments given or from closed-form solutions of the
LeakyIntegrator (v_inf + (v0 - v_inf) exp(-t/tau) under a constant current).
"""

import ast
import os
import pathlib
import subprocess
import sys

import neo
import numpy as np
import pytest
from pyNN.parameters import Sequence

import pynn_leaky as sim

DT = 0.1
TOL = 1e-9  # mV, float64


@pytest.fixture(autouse=True)
def simulator():
    sim.setup(timestep=DT)
    yield sim
    sim.end()


def relax(t, v0, v_inf, tau):
    return v_inf + (v0 - v_inf) * np.exp(-np.asarray(t) / tau)


def signal(block, name, segment=0):
    return block.segments[segment].filter(name=name)[0]


# -- parameters: get/set ------------------------------------------------------------------


def test_population_get_set_scalar():
    p = sim.Population(5, sim.LeakyIntegrator(tau=12.0))
    assert p.get("tau") == 12.0
    assert p.get("R") == 1.0  # default
    p.set(tau=15.0, R=2.0)
    assert p.get("tau") == 15.0
    np.testing.assert_array_equal(p.get("R", simplify=False), np.full(5, 2.0))
    tau, R = p.get(["tau", "R"])
    assert (tau, R) == (15.0, 2.0)


def test_population_get_set_array_and_callable():
    p = sim.Population(5, sim.LeakyIntegrator(tau=np.array([5.0, 6.0, 7.0, 8.0, 9.0])))
    np.testing.assert_array_equal(p.get("tau"), [5.0, 6.0, 7.0, 8.0, 9.0])
    p.set(R=np.arange(1.0, 6.0))
    np.testing.assert_array_equal(p.get("R"), np.arange(1.0, 6.0))
    p.set(i_offset=lambda i: 0.1 * i)
    np.testing.assert_allclose(p.get("i_offset"), 0.1 * np.arange(5), rtol=0, atol=1e-15)


def test_population_set_random_distribution():
    p = sim.Population(50, sim.LeakyIntegrator())
    p.set(tau=sim.RandomDistribution("uniform", (5.0, 15.0), rng=sim.NumpyRNG(seed=42)))
    expected = sim.RandomDistribution("uniform", (5.0, 15.0), rng=sim.NumpyRNG(seed=42)).next(50)
    np.testing.assert_array_equal(p.get("tau"), expected)
    assert np.unique(p.get("tau")).size == 50


def test_set_parameters_reach_the_simulation():
    """Per-cell parameters set between runs act from the next step on."""
    p = sim.Population(3, sim.LeakyIntegrator(tau=[5.0, 10.0, 20.0], R=2.0, i_offset=0.5))
    p.record("v")
    sim.run(10.0)
    p.set(i_offset=np.array([1.0, -1.0, 0.0]), R=np.array([1.0, 3.0, 4.0]))
    sim.run(10.0)
    v = signal(p.get_data(), "v").magnitude
    assert v.shape == (201, 3)
    tau = np.array([5.0, 10.0, 20.0])
    t1 = np.arange(101)[:, None] * DT
    first = relax(t1, 0.0, 1.0, tau)
    np.testing.assert_allclose(v[:101], first, rtol=0, atol=TOL)
    second = relax(t1, first[-1], np.array([1.0, -3.0, 0.0]), tau)
    np.testing.assert_allclose(v[100:], second, rtol=0, atol=TOL)


def test_population_view_get_set():
    p = sim.Population(6, sim.LeakyIntegrator(tau=10.0))
    view = p[1:4]
    view.set(tau=20.0)
    np.testing.assert_array_equal(p.get("tau"), [10, 20, 20, 20, 10, 10])
    assert view.get("tau") == 20.0
    p[[0, 5]].set(R=np.array([3.0, 4.0]))
    np.testing.assert_array_equal(p.get("R"), [3, 1, 1, 1, 1, 4])
    np.testing.assert_array_equal(p[[5, 0]].get("R"), [3.0, 4.0])  # PyNN sorts view masks
    p[::2].set(i_offset=lambda i: 1.0 + i)  # i indexes the view
    np.testing.assert_array_equal(p.get("i_offset"), [1, 0, 2, 0, 3, 0])


def test_view_of_view_get_set():
    p = sim.Population(6, sim.LeakyIntegrator(tau=10.0))
    inner = p[1:5][1:3]  # cells 2 and 3
    inner.set(tau=30.0)
    np.testing.assert_array_equal(p.get("tau"), [10, 10, 30, 30, 10, 10])
    assert inner.get("tau") == 30.0


def test_assembly_get_set():
    p = sim.Population(3, sim.LeakyIntegrator(tau=10.0))
    q = sim.Population(2, sim.LeakyIntegrator(tau=7.0))
    assembly = p + q
    np.testing.assert_array_equal(assembly.get("tau"), [10, 10, 10, 7, 7])
    assembly.set(R=5.0)
    assert p.get("R") == 5.0 and q.get("R") == 5.0
    assembly.set(i_offset=sim.RandomDistribution("normal", (0.0, 1.0), rng=sim.NumpyRNG(seed=1)))
    offsets = assembly.get("i_offset")
    # (PyNN's Assembly.set hands the distribution to each population in turn; as on
    # pyNN.mock, each population draws afresh, so only within-population variety is checked.)
    assert offsets.shape == (5,)
    assert np.unique(offsets[:3]).size == 3 and np.unique(offsets[3:]).size == 2


def test_initialize_scalar_array_random_and_view():
    p = sim.Population(4, sim.LeakyIntegrator(V_rest=-65.0, tau=10.0))
    p.initialize(v=-60.0)
    p[[1, 3]].initialize(v=np.array([-55.0, -50.0]))
    p.record("v")
    sim.run(10.0)
    v = signal(p.get_data(), "v").magnitude
    v0 = np.array([-60.0, -55.0, -60.0, -50.0])
    np.testing.assert_array_equal(v[0], v0)
    t = np.arange(101)[:, None] * DT
    np.testing.assert_allclose(v, relax(t, v0, -65.0, 10.0), rtol=0, atol=TOL)

    rd = sim.RandomDistribution("uniform", (-70.0, -60.0), rng=sim.NumpyRNG(seed=3))
    q = sim.Population(20, sim.LeakyIntegrator())
    q.initialize(v=rd)
    q.record("v")
    sim.run(0.0)
    expected = sim.RandomDistribution("uniform", (-70.0, -60.0), rng=sim.NumpyRNG(seed=3)).next(20)
    np.testing.assert_array_equal(signal(q.get_data(), "v").magnitude[0], expected)


# -- recording and Neo output ------------------------------------------------------------


def test_record_shapes_and_times():
    p = sim.Population(3, sim.LeakyIntegrator())
    p.record("v")
    sim.run(10.0)
    sig = signal(p.get_data(), "v")
    assert sig.shape == (101, 3)  # including the initial value
    assert str(sig.units.dimensionality) == "mV"
    assert float(sig.t_start.rescale("ms")) == 0.0
    assert float(sig.sampling_period.rescale("ms")) == pytest.approx(DT)
    np.testing.assert_allclose(sig.times.rescale("ms").magnitude, np.arange(101) * DT, atol=1e-12)
    sim.run(0.0)  # a zero-length run adds nothing
    assert signal(p.get_data(), "v").shape == (101, 3)


def test_record_several_variables_first_sample():
    """Each recorded variable starts with the initial value at t = 0."""
    p = sim.Population(2, sim.LeakyIntegrator())
    p.initialize(v=-3.0)
    p.record(["v", "isyn_exc", "isyn_inh"])
    sim.run(1.0)
    seg = p.get_data().segments[0]
    assert sorted(s.name for s in seg.analogsignals) == ["isyn_exc", "isyn_inh", "v"]
    for name in ("isyn_exc", "isyn_inh"):
        sig = signal(p.get_data(), name)
        assert sig.shape == (11, 2)
        np.testing.assert_array_equal(sig.magnitude, 0.0)
    np.testing.assert_array_equal(signal(p.get_data(), "v").magnitude[0], [-3.0, -3.0])


def test_variable_added_to_record_list_mid_run():
    """record('isyn_exc') at t = 5 ms, while v has been recorded since 0: isyn_exc has its
    sample at 5.0 ms (as a first record() at 5 ms would) and the analytic values after."""
    p = sim.Population(2, sim.LeakyIntegrator(tau=10.0, tau_syn_E=5.0))
    p.initialize(isyn_exc=1.0)
    p.record("v")
    sim.run(5.0)
    p.record("isyn_exc")
    sim.run(5.0)
    sig = signal(p.get_data(), "isyn_exc")
    times = sig.times.rescale("ms").magnitude
    values = sig.magnitude[:, 0]
    later = times >= 5.0 - 1e-9
    assert later.sum() == 51
    np.testing.assert_allclose(values[later], np.exp(-times[later] / 5.0), rtol=0, atol=1e-12)


def test_annotations_and_channel_order():
    """Columns belong to the annotated cells: cell i has its own steady state R*i_offset[i]."""
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0, 2.0]), label="stim")
    offsets = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    p = sim.Population(6, sim.LeakyIntegrator(i_offset=offsets, tau=10.0), label="cells")
    p[[4, 1, 3]].record("v")
    src[[1]].record("spikes")
    sim.run(5.0)
    sig = signal(p.get_data(), "v")
    assert sig.annotations["source_population"] == "cells"
    ids = [int(p[i]) for i in (1, 3, 4)]
    np.testing.assert_array_equal(sig.annotations["channel_ids"], ids)
    np.testing.assert_array_equal(sig.array_annotations["channel_index"], [1, 3, 4])
    t = np.arange(51)[:, None] * DT
    np.testing.assert_allclose(sig.magnitude, relax(t, 0.0, offsets[[1, 3, 4]], 10.0), atol=TOL)

    trains = src.get_data().segments[0].spiketrains
    assert len(trains) == 1
    st = trains[0]
    assert st.annotations["source_population"] == "stim"
    assert st.annotations["channel_id"] == int(src[1])
    assert st.annotations["source_index"] == 1
    # a view's data only holds the view's cells
    view_sig = signal(p[[3]].get_data(), "v")
    np.testing.assert_array_equal(view_sig.annotations["channel_ids"], [int(p[3])])
    np.testing.assert_array_equal(view_sig.magnitude[:, 0], sig.magnitude[:, 1])


def test_reset_makes_new_segment_and_keeps_network():
    """reset(): time 0, initial v, new Segment; parameters, connections, record list kept."""
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(
        2, sim.LeakyIntegrator(V_rest=-70.0, tau=10.0, tau_syn_E=5.0, R=1.0, i_offset=0.0)
    )
    p.initialize(v=-60.0)
    sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=2.0, delay=1.0))
    p.record("v")
    sim.run(5.0)
    p.set(i_offset=1.0)
    sim.reset()
    assert sim.get_current_time() == 0.0
    sim.run(8.0)

    block = p.get_data()
    assert len(block.segments) == 2
    first, second = (signal(block, "v", i) for i in (0, 1))
    assert first.shape == (51, 2) and second.shape == (81, 2)
    assert float(second.t_start) == 0.0
    k = np.arange(81)
    s = (k - 20) * DT  # spike at 1.0 ms, delay 1.0 ms
    psp = np.where(s >= 0, 2.0 * 5.0 / 5.0 * (np.exp(-s / 10) - np.exp(-s / 5)), 0.0)
    expected1 = relax(k[:51] * DT, -60.0, -70.0, 10.0) + psp[:51]
    expected2 = relax(k * DT, -60.0, -69.0, 10.0) + psp  # new i_offset, same synapse
    np.testing.assert_allclose(first.magnitude[:, 0], expected1, atol=TOL)
    np.testing.assert_allclose(second.magnitude[:, 0], expected2, atol=TOL)


def test_get_data_clear():
    p = sim.Population(1, sim.LeakyIntegrator(i_offset=1.0, tau=10.0))
    p.record("v")
    sim.run(5.0)
    first = signal(p.get_data(clear=True), "v")
    assert first.shape == (51, 1)
    sim.run(5.0)
    second = signal(p.get_data(), "v")
    # Only data from t = 5 ms on remains (the window opens with the current sample).
    times = second.times.rescale("ms").magnitude
    assert times[0] == pytest.approx(5.0) and times[-1] == pytest.approx(10.0)
    assert second.shape == (51, 1)
    np.testing.assert_allclose(second.magnitude[:, 0], relax(times, 0.0, 1.0, 10.0), atol=TOL)


@pytest.mark.parametrize("suffix", [".pkl", ".nix"])
def test_write_data_and_read_back(tmp_path, suffix):
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[0.5, 1.5], [2.0]]), label="src")
    p = sim.Population(3, sim.LeakyIntegrator(i_offset=[0.1, 0.2, 0.3]), label="cells")
    p.record("v")
    src.record("spikes")
    sim.run(3.0)
    sim.reset()
    sim.run(2.0)
    v_file = tmp_path / f"v{suffix}"
    s_file = tmp_path / f"spikes{suffix}"
    expected = p.get_data()
    p.write_data(str(v_file))
    src.write_data(str(s_file))

    def read(path):
        if suffix == ".nix":
            io = neo.io.NixIO(str(path), mode="ro")
            try:
                return io.read_block()
            finally:
                io.close()
        return neo.io.PickleIO(str(path)).read_block()

    block = read(v_file)
    assert len(block.segments) == 2
    for i, n in enumerate((31, 21)):
        sig = signal(block, "v", i)
        assert sig.shape == (n, 3)
        np.testing.assert_array_equal(sig.magnitude, signal(expected, "v", i).magnitude)
        np.testing.assert_allclose(sig.times.rescale("ms").magnitude, np.arange(n) * DT, atol=1e-9)
    spikes = read(s_file)
    assert len(spikes.segments) == 2
    for segment in spikes.segments:
        trains = sorted(segment.spiketrains, key=lambda st: st.annotations["source_index"])
        assert [st.annotations["source_population"] for st in trains] == ["src", "src"]
        np.testing.assert_allclose(trains[0].rescale("ms").magnitude, [0.5, 1.5], atol=1e-9)
        np.testing.assert_allclose(trains[1].rescale("ms").magnitude, [2.0], atol=1e-9)


# -- spike sources ----------------------------------------------------------------------


def _poisson_trains(seed, n=100, rate=50.0, duration=200.0, **kw):
    sim.setup(timestep=DT, rng_seed=seed)
    src = sim.Population(n, sim.SpikeSourcePoisson(rate=rate, **kw))
    src.record("spikes")
    sim.run(duration)
    return [st.rescale("ms").magnitude.copy() for st in src.get_data().segments[0].spiketrains]


def test_poisson_reproducible_from_seed():
    a, b, c = _poisson_trains(1), _poisson_trains(1), _poisson_trains(2)
    assert sum(x.size for x in a) > 0
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_poisson_spike_count_and_window():
    """Count ~ Poisson(rate * duration): tolerance 5 standard deviations."""
    n, rate, start, duration = 1000, 40.0, 100.0, 500.0
    sim.setup(timestep=DT, rng_seed=11)
    src = sim.Population(n, sim.SpikeSourcePoisson(rate=rate, start=start, duration=duration))
    src.record("spikes")
    sim.run(800.0)
    trains = src.get_data().segments[0].spiketrains
    times = np.concatenate([st.rescale("ms").magnitude for st in trains])
    expected = n * rate * duration * 1e-3
    assert abs(times.size - expected) < 5 * np.sqrt(expected)
    assert times.min() > start and times.max() <= start + duration + 1e-9
    # on the time grid
    np.testing.assert_allclose(times / DT, np.rint(times / DT), atol=1e-6)
    # spikes are spread over the window: each half gets half of them
    first_half = np.count_nonzero(times <= start + duration / 2)
    assert abs(first_half - expected / 2) < 5 * np.sqrt(expected / 4)


@pytest.mark.parametrize(
    "precision",
    [
        "float64",
        "float32",
    ],
)
def test_poisson_no_impossible_bursts(precision):
    """2000 sources at 50 Hz for 1 s: 2e7 draws of a Poisson count with mean 0.005.
    P(count >= 4) = 2.6e-11 per draw, so no step of any source may hold 4 spikes
    (expected number of such steps: 5e-4)."""
    sim.setup(timestep=DT, precision=precision, rng_seed=1)
    src = sim.Population(2000, sim.SpikeSourcePoisson(rate=50.0))
    src.record("spikes")
    sim.run(1000.0)
    most = 0
    for train in src.get_data().segments[0].spiketrains:
        steps = np.rint(train.rescale("ms").magnitude / DT).astype(np.int64)
        if steps.size:
            most = max(most, int(np.bincount(steps).max()))
    assert most < 4


def test_spike_source_array_times():
    given = [[0.1, 0.5, 3.3, 9.9, 10.0], [], [2.0, 2.1, 7.7]]
    src = sim.Population(3, sim.SpikeSourceArray(spike_times=[Sequence(g) for g in given]))
    src.record("spikes")
    sim.run(10.0)
    trains = src.get_data().segments[0].spiketrains
    assert len(trains) == 3
    for train, times in zip(sorted(trains, key=lambda s: s.annotations["source_index"]), given):
        np.testing.assert_allclose(train.rescale("ms").magnitude, times, rtol=0, atol=1e-9)


def test_spike_source_array_set_between_runs():
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    src.record("spikes")
    sim.run(5.0)
    src.set(spike_times=[1.0, 6.0, 8.5])
    sim.run(5.0)
    train = src.get_data().segments[0].spiketrains[0]
    np.testing.assert_allclose(train.rescale("ms").magnitude, [1.0, 6.0, 8.5], atol=1e-9)


# -- projections --------------------------------------------------------------------------


def test_projection_get_set_len_and_effect():
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0], [3.0]]))
    p = sim.Population(3, sim.LeakyIntegrator(tau=10.0, tau_syn_E=5.0))
    prj = sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=0.5))
    assert len(prj) == 6
    np.testing.assert_array_equal(prj.get("weight", format="array"), np.full((2, 3), 0.5))
    as_list = prj.get("weight", format="list")
    assert sorted(as_list) == sorted((i, j, 0.5) for i in range(2) for j in range(3))
    wd = prj.get(["weight", "delay"], format="list")
    assert all(d == pytest.approx(0.5) for *_, d in wd)

    w = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    prj.set(weight=w)
    np.testing.assert_array_equal(prj.get("weight", format="array"), w)
    prj.set(delay=np.array([[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]]))
    np.testing.assert_allclose(
        prj.get("delay", format="array"), [[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]], atol=1e-12
    )
    p.record("v")
    sim.run(10.0)
    v = signal(p.get_data(), "v").magnitude
    k = np.arange(101)

    def psp(k_arrive, weight):
        s = (k - k_arrive) * DT
        return np.where(s >= 0, weight * 5.0 / 5.0 * (np.exp(-s / 10) - np.exp(-s / 5)), 0.0)

    for j, d in enumerate((5, 10, 15)):
        expected = psp(10 + d, w[0, j]) + psp(30 + d, w[1, j])
        np.testing.assert_allclose(v[:, j], expected, atol=TOL)


def test_projection_save(tmp_path):
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(3, sim.LeakyIntegrator())
    prj = sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.25, delay=0.7))
    prj.set(weight=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    path = tmp_path / "connections.txt"
    prj.save("all", str(path), format="list")
    text = path.read_text()
    assert "weight" in text.splitlines()[0] and "delay" in text.splitlines()[0]
    rows = np.loadtxt(path, ndmin=2)
    assert rows.shape == (6, 4)
    got = sorted(map(tuple, np.round(rows, 12)))
    weights = {(0, 0): 1, (0, 1): 2, (0, 2): 3, (1, 0): 4, (1, 1): 5, (1, 2): 6}
    assert got == sorted((i, j, float(w), 0.7) for (i, j), w in weights.items())


def test_projection_onto_view_and_assembly():
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(4, sim.LeakyIntegrator(), label="P")
    q = sim.Population(2, sim.LeakyIntegrator(method="rk4"), label="Q")
    sim.Projection(
        src, p[[1, 3]], sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0)
    )
    sim.Projection(
        src,
        q + p[[0]],
        sim.AllToAllConnector(),
        sim.StaticSynapse(weight=2.0, delay=2.0),
        receptor_type="excitatory",
    )
    p.record("isyn_exc")
    q.record("isyn_exc")
    sim.run(5.0)
    k = np.arange(51)

    def psc(k_arrive, w):
        return np.where(k >= k_arrive, w * np.exp(-(k - k_arrive) * DT / 5.0), 0.0)

    i_p = signal(p.get_data(), "isyn_exc").magnitude
    np.testing.assert_allclose(
        i_p, np.stack([psc(30, 2.0), psc(20, 1.0), 0 * k, psc(20, 1.0)], 1), atol=1e-12
    )
    i_q = signal(q.get_data(), "isyn_exc").magnitude
    # rk4 integrates the decay; its error at dt = 0.1, tau_syn = 5 is ~1e-10
    np.testing.assert_allclose(i_q, np.stack([psc(30, 2.0)] * 2, 1), atol=1e-8)


# -- procedural API, models, delays --------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")
def test_procedural_create_connect_record(tmp_path):
    cells = sim.create(sim.LeakyIntegrator, {"tau": 20.0, "i_offset": 0.5}, n=4)
    src = sim.create(sim.SpikeSourceArray, {"spike_times": [1.0]}, n=2)
    prj = sim.connect(src, cells, weight=0.5, delay=0.7, p=1.0)
    assert isinstance(cells, sim.Population) and cells.size == 4
    assert len(prj) == 8
    assert cells.get("tau") == 20.0
    path = tmp_path / "v.pkl"
    sim.record("v", cells, str(path))
    sim.run(5.0)
    sim.end()  # writes the file
    block = neo.io.PickleIO(str(path)).read_block()
    sig = signal(block, "v")
    assert sig.shape == (51, 4)
    t = np.arange(51) * DT
    s = t - 1.7
    psp = np.where(s >= 0, 2 * 0.5 * 5 / 15 * (np.exp(-s / 20) - np.exp(-s / 5)), 0.0)
    np.testing.assert_allclose(sig.magnitude[:, 0], relax(t, 0.0, 0.5, 20.0) + psp, atol=TOL)


def test_list_standard_models():
    models = sim.list_standard_models()
    assert {"LeakyIntegrator", "SpikeSourceArray", "SpikeSourcePoisson"} <= set(models)
    for name in models:
        cls = getattr(sim, name)
        assert isinstance(cls, type)
        if cls is sim.PointNeuron:  # a composition: it needs its parts
            sim.Population(1, cls(sim.LIF(), AMPA=sim.CurrExpPostSynapticResponse()))
        else:
            sim.Population(1, cls())  # each one can be instantiated


def test_min_max_delay_explicit():
    sim.setup(timestep=0.1, min_delay=0.5, max_delay=4.0)
    assert sim.get_min_delay() == 0.5
    assert sim.get_max_delay() == 4.0
    assert sim.get_time_step() == 0.1
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(1, sim.LeakyIntegrator())
    prj = sim.Projection(src, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0))
    assert prj.get("delay", format="list")[0][2] == pytest.approx(0.5)  # default is min_delay


def test_min_max_delay_auto():
    assert sim.get_min_delay() == pytest.approx(DT)  # nothing connected yet
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    p = sim.Population(3, sim.LeakyIntegrator())
    conns = [(0, 0, 1.0, 0.7), (0, 1, 1.0, 2.3), (0, 2, 1.0, 1.1)]
    sim.Projection(src, p, sim.FromListConnector(conns, column_names=["weight", "delay"]))
    assert sim.get_min_delay() == pytest.approx(0.7)
    assert sim.get_max_delay() == pytest.approx(2.3)


# -- time control -----------------------------------------------------------------------


def _network():
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0, 1.5], [2.0]]))
    p = sim.Population(3, sim.LeakyIntegrator(tau=[10.0, 12.0, 15.0], i_offset=0.1))
    delays = [0.5, 1.0, 2.9, 2.9, 0.1, 1.6]
    conns = [(i, j, 0.5, delays[3 * i + j]) for i in range(2) for j in range(3)]
    sim.Projection(src, p, sim.FromListConnector(conns, column_names=["weight", "delay"]))
    p.record("v")
    return p


def _one_run_then_fresh_network():
    """v of _network() run for 10 ms in one go, then a fresh simulator with the same network."""
    p = _network()
    sim.run(10.0)
    whole = signal(p.get_data(), "v").magnitude
    sim.setup(timestep=DT)
    return whole, _network()


def test_split_runs_equal_one_run_bitwise():
    whole, p = _one_run_then_fresh_network()
    sim.run(1.7)  # spikes in flight at the boundaries
    sim.run_until(3.0)
    p.set(tau=[10.0, 12.0, 15.0])  # forces a rebuild with the same values
    sim.run(7.0)
    assert sim.get_current_time() == pytest.approx(10.0)
    np.testing.assert_array_equal(signal(p.get_data(), "v").magnitude, whole)


@pytest.mark.parametrize("chunk_steps", [1, 7, 16])
def test_chunk_size_does_not_change_results(chunk_steps):
    """Chunks are an implementation detail: spikes, noise and Poisson draws cross them."""

    def run(chunk):
        sim.setup(timestep=DT, chunk_steps=chunk, rng_seed=5)
        p = _network()
        p.set(noise=0.3)
        pois = sim.Population(5, sim.SpikeSourcePoisson(rate=300.0))
        sim.Projection(
            pois,
            p,
            sim.AllToAllConnector(),
            sim.StaticSynapse(weight=-0.2, delay=0.3),
            receptor_type="inhibitory",
        )
        pois.record("spikes")
        sim.run(4.3)
        sim.run(5.7)
        trains = pois.get_data().segments[0].spiketrains
        return (signal(p.get_data(), "v").magnitude, [st.rescale("ms").magnitude for st in trains])

    v_ref, spikes_ref = run(1000)
    v, spikes = run(chunk_steps)
    np.testing.assert_array_equal(v, v_ref)
    assert sum(s.size for s in spikes_ref) > 0
    assert all(np.array_equal(a, b) for a, b in zip(spikes, spikes_ref))


def test_initialize_between_runs_replaces_state():
    """As on NEST: initialize() after a run sets v now; the run goes on from there."""
    p = sim.Population(2, sim.LeakyIntegrator(tau=10.0, i_offset=1.0))
    p.record("v")
    sim.run(5.0)
    p.initialize(v=np.array([-3.0, 4.0]))
    sim.run(5.0)
    v = signal(p.get_data(), "v").magnitude
    t = np.arange(51)[:, None] * DT
    np.testing.assert_allclose(v[:51], relax(t, np.zeros(2), 1.0, 10.0), atol=TOL)  # t = 5 kept
    np.testing.assert_allclose(v[51:], relax(t[1:], np.array([-3.0, 4.0]), 1.0, 10.0), atol=TOL)
    sim.reset()  # and reset() goes back to the last initialize()d values
    sim.run(1.0)
    np.testing.assert_array_equal(signal(p.get_data(), "v", 1).magnitude[0], [-3.0, 4.0])


def test_run_until_and_callbacks():
    whole, p = _one_run_then_fresh_network()
    seen = []

    def every_2_5(t):
        seen.append((t, sim.get_current_time()))
        return t + 2.5

    assert sim.run_until(7.5, callbacks=[every_2_5]) == pytest.approx(7.5)
    assert [t for t, _ in seen] == pytest.approx([0.0, 2.5, 5.0, 7.5])
    assert all(t == pytest.approx(now) for t, now in seen)  # called at the requested time
    seen.clear()
    sim.run(2.5, callbacks=[every_2_5])
    assert [t for t, _ in seen] == pytest.approx([7.5, 10.0])
    np.testing.assert_array_equal(signal(p.get_data(), "v").magnitude, whole)


# -- the engine is pure JAX -------------------------------------------------------------

ENGINE = pathlib.Path(sim.__file__).parent / "engine"
FORBIDDEN = {"pyNN", "neo", "quantities"}


def test_engine_sources_import_no_pynn():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) >= 2
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                # `from .. import x` reaches the adapter, which imports pyNN
                assert node.level <= 1, f"{path.name}: relative import outside the engine"
                roots = {(node.module or "").split(".")[0]} if node.level == 0 else set()
            else:
                continue
            assert not roots & FORBIDDEN, f"{path.name} imports {roots & FORBIDDEN}"


def test_engine_package_imports_alone():
    """Loaded on its own (not through pynn_leaky), the engine pulls in no PyNN/Neo/quantities."""
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    "leaky_engine", {str(ENGINE / "__init__.py")!r},
    submodule_search_locations=[{str(ENGINE)!r}])
module = importlib.util.module_from_spec(spec)
sys.modules["leaky_engine"] = module
spec.loader.exec_module(module)
assert hasattr(module, "run_chunk")
bad = sorted(m for m in sys.modules if m.split(".")[0] in {sorted(FORBIDDEN)!r})
print("BAD", bad)
sys.exit(1 if bad else 0)
"""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_recording_every_spiking_cell_equals_recording_a_subset():
    """Recording the spikes of every spiking cell takes the engine's shortcut (the bytes
    come from the delivery's bit words); the trains equal those recorded without it."""

    def trains(record_all):
        sim.setup(timestep=DT, rng_seed=3)
        a = sim.Population(37, sim.IF_curr_exp(i_offset=np.linspace(0.6, 1.2, 37)))
        b = sim.Population(29, sim.IF_curr_exp(i_offset=np.linspace(0.5, 1.5, 29)))
        sim.Projection(a, b, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(seed=2)),
                       sim.StaticSynapse(weight=0.4, delay=0.5))
        sim.Projection(b, a, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(seed=4)),
                       sim.StaticSynapse(weight=-0.3, delay=1.0))
        a.record("spikes")
        (b if record_all else b[:-1]).record("spikes")
        sim.run(200.0)
        out = [np.asarray(st.magnitude) for p in (a, b)
               for st in p.get_data().segments[0].spiketrains]
        sim.end()
        return out

    full, part = trains(True), trains(False)
    assert sum(t.size for t in full) > 100
    assert len(full) == len(part) + 1
    for x, y in zip(full, part):
        np.testing.assert_array_equal(x, y)


def test_cells_recorded_from_a_later_time_have_nan_before_it():
    sim.setup(timestep=0.1)
    cells = sim.Population(4, sim.LeakyIntegrator(i_offset=0.1))
    cells[:2].record("v")
    sim.run(5.0)
    cells[2:].record("v")  # from t = 5 ms on
    sim.run(5.0)
    v = np.asarray(cells.get_data().segments[0].filter(name="v")[0])
    assert v.shape == (101, 4)
    assert np.isfinite(v[:, :2]).all()
    assert np.isnan(v[:50, 2:]).all() and np.isfinite(v[50:, 2:]).all()
    assert (v[50:, 2:] == v[50:, :2]).all()  # the same cells, the same values
    sim.end()
