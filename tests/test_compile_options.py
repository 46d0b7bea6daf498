"""XLA compile options chosen per network (``Layout.region_analysis``): where they are on,
and that they change nothing but speed."""

import jax
import numpy as np
import pytest

import pynn_leaky as sim
from pynn_leaky import engine
from pynn_leaky.engine import _network

CPU = jax.default_backend() == "cpu"


@pytest.fixture(autouse=True)
def _default_setting(monkeypatch):
    monkeypatch.delenv("PYNN_LEAKY_REGION_ANALYSIS", raising=False)


def _static(seed=4):
    sim.setup(timestep=0.1, min_delay=0.1, rng_seed=seed, progress=False)
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=400.0))
    exc = sim.Population(40, sim.IF_curr_exp(i_offset=0.1))
    out = sim.Population(10, sim.LeakyIntegrator(R=20.0, tau=15.0))
    rng = sim.NumpyRNG(8)
    sim.Projection(src, exc, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=0.3, delay=1.0))
    sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=-0.4, delay=0.3), receptor_type="inhibitory")
    sim.Projection(exc, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1, delay=2.0))
    sim.DCSource(amplitude=0.2, start=20.0, stop=60.0).inject_into(out)
    exc.record("spikes")
    out.record(["v", "isyn_exc"])
    return exc, out


def _layout():
    return sim.simulator.state.network.layout


def _results(exc, out):
    seg_v, seg_s = out.get_data().segments[0], exc.get_data().segments[0]
    return ([np.asarray(s.magnitude) for s in seg_v.analogsignals],
            [np.asarray(s) for s in seg_s.spiketrains])


@pytest.mark.skipif(not CPU, reason="region analysis is a CPU choice")
def test_region_analysis_is_on_for_static_networks_on_a_cpu_only(monkeypatch):
    _static()
    sim.run(1.0)
    assert _layout().region_analysis
    sim.end()

    _plastic_and_adaptive()  # plastic synapses: XLA then computes wrong weights, so never
    sim.run(1.0)
    assert not _layout().region_analysis
    sim.end()

    sim.setup(timestep=0.1)  # an adaptive model (measured slower with it)
    sim.Population(2, sim.IF_cond_exp())
    sim.run(1.0)
    assert not _layout().region_analysis
    sim.end()

    monkeypatch.setenv("PYNN_LEAKY_XLA_DEFAULTS", "0")
    _static()
    sim.run(1.0)
    assert not _layout().region_analysis
    sim.end()


def _plastic_and_adaptive():
    sim.setup(timestep=0.1)
    pre = sim.Population(2, sim.SpikeSourcePoisson(rate=50.0))
    post = sim.Population(2, sim.IF_cond_exp())
    sim.Projection(pre, post, sim.AllToAllConnector(), sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(), weight_dependence=sim.AdditiveWeightDependence(),
        weight=0.005, delay=1.0))


def test_the_region_analysis_setting_applies_on_any_platform_but_never_to_plastic_synapses(
        monkeypatch):
    for value, expected in (("1", True), ("0", False)):
        monkeypatch.setenv("PYNN_LEAKY_REGION_ANALYSIS", value)
        sim.setup(timestep=0.1)
        sim.Population(2, sim.IF_cond_exp())  # adaptive: off by default, on when asked
        sim.run(1.0)
        assert _layout().region_analysis == expected
        sim.end()
        _plastic_and_adaptive()
        sim.run(1.0)
        assert not _layout().region_analysis
        sim.end()


@pytest.mark.parametrize("value", ["yes", "2"])
def test_a_bad_region_analysis_setting_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("PYNN_LEAKY_REGION_ANALYSIS", value)
    _static()
    with pytest.raises(sim.errors.InvalidParameterValueError,
                       match=f"PYNN_LEAKY_REGION_ANALYSIS = '{value}' is not allowed"):
        sim.run(1.0)
    sim.end()


@pytest.mark.parametrize("trials", [False, True])
def test_region_analysis_changes_no_result(monkeypatch, trials):
    results = {}
    for defaults in ("1", "0"):
        monkeypatch.setenv("PYNN_LEAKY_XLA_DEFAULTS", defaults)
        exc, out = _static()
        if trials:
            blocks = sim.run_trials(80.0, rng_seeds=[4, 9])
            results[defaults] = [
                ([np.asarray(s.magnitude) for s in blocks[out].segments[b].analogsignals],
                 [np.asarray(s) for s in blocks[exc].segments[b].spiketrains])
                for b in range(2)]
        else:
            sim.run(37.3)
            sim.run(42.7)
            results[defaults] = _results(exc, out)
        assert _layout().region_analysis == (defaults == "1" and CPU)
        sim.end()
    flat = jax.tree.leaves(results["1"]), jax.tree.leaves(results["0"])
    assert len(flat[0]) == len(flat[1]) > 0
    assert sum(x.size for x in flat[0]) > 1000  # signals and spikes were recorded
    for a, b in zip(*flat):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def _unknown_option(monkeypatch):
    def fresh():
        _network._chunk_jit.cache_clear()
        _network._batched.cache_clear()
    fresh()
    monkeypatch.setattr(_network, "_REGION_ANALYSIS", {"xla_cpu_no_such_option_here": True})
    monkeypatch.setattr(_network, "_options_known", [True])
    yield
    monkeypatch.undo()
    fresh()


@pytest.mark.skipif(not CPU, reason="region analysis is a CPU choice")
def test_a_jaxlib_without_the_option_compiles_without_it(_unknown_option):
    exc, out = _static()
    sim.run(20.0)
    assert _layout().region_analysis and not _network._options_known[0]
    sim.run_trials(5.0, trials=2)
    assert sum(len(s) for s in exc.get_data().segments[0].spiketrains) > 0
    assert engine.run_chunk._cache_size() >= 1
    sim.end()
