"""XLA compile options chosen per network (``Layout.region_analysis``): where they are on,
and that they change nothing but speed."""

import contextlib

import jax
import numpy as np
import pytest

import pynn_leaky as sim
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
def test_region_analysis_is_on_on_a_cpu_but_for_adaptive_models(monkeypatch):
    _static()
    sim.run(1.0)
    assert _layout().region_analysis
    sim.end()

    _plastic(sim.IF_curr_exp)  # plastic synapses too (the STDP history is updated in place)
    sim.run(1.0)
    assert _layout().region_analysis
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


def _plastic(celltype):
    sim.setup(timestep=0.1)
    pre = sim.Population(2, sim.SpikeSourcePoisson(rate=50.0))
    post = sim.Population(2, celltype())
    sim.Projection(pre, post, sim.AllToAllConnector(), sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(), weight_dependence=sim.AdditiveWeightDependence(),
        weight=0.005, delay=1.0))


def test_the_region_analysis_setting_applies_on_any_platform(monkeypatch):
    for value, expected in (("1", True), ("0", False)):
        monkeypatch.setenv("PYNN_LEAKY_REGION_ANALYSIS", value)
        sim.setup(timestep=0.1)
        sim.Population(2, sim.IF_cond_exp())  # adaptive: off by default, on when asked
        sim.run(1.0)
        assert _layout().region_analysis == expected
        sim.end()
        for celltype in (sim.IF_curr_exp, sim.IF_cond_exp):  # plastic (on by default),
            _plastic(celltype)                               # and onto an adaptive model
            sim.run(1.0)
            assert _layout().region_analysis == expected
            sim.end()


@pytest.mark.parametrize("value", ["yes", "2"])
def test_a_bad_region_analysis_setting_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("PYNN_LEAKY_REGION_ANALYSIS", value)
    _static()
    with pytest.raises(sim.errors.InvalidParameterValueError,
                       match=f"PYNN_LEAKY_REGION_ANALYSIS = '{value}' is not allowed"):
        sim.run(1.0)
    sim.end()


@pytest.mark.parametrize("setting", [{}, {"PYNN_LEAKY_DELIVERY_INTERVAL": "16"},
                                     {"PYNN_LEAKY_STEPS_PER_SYNC": "4"}])
@pytest.mark.parametrize("trials", [False, True])
def test_region_analysis_changes_no_result(monkeypatch, trials, setting):
    for name, value in setting.items():  # per-interval delivery (3 steps), loop blocking
        monkeypatch.setenv(name, value)
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
        assert _layout().interval == (3 if setting.get("PYNN_LEAKY_DELIVERY_INTERVAL") else 1)
        sim.end()
    flat = jax.tree.leaves(results["1"]), jax.tree.leaves(results["0"])
    assert len(flat[0]) == len(flat[1]) > 0
    assert sum(x.size for x in flat[0]) > 1000  # signals and spikes were recorded
    for a, b in zip(*flat):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def _unknown_option(monkeypatch):
    """Clears the compiled programs before and after (the test changes the option)."""
    def fresh():
        _network._chunk_jit.cache_clear()
        _network._batched.cache_clear()
    fresh()
    yield
    monkeypatch.undo()
    fresh()


@pytest.mark.skipif(not CPU, reason="region analysis is a CPU choice")
def test_a_jaxlib_without_the_option_compiles_without_it(_unknown_option, monkeypatch):
    runs = {}
    for name, fallback in (("plain", False), ("fallback", True)):
        if fallback:  # _unknown_option applies from here (caches cleared)
            _network._chunk_jit.cache_clear()
            _network._batched.cache_clear()
            monkeypatch.setattr(_network, "_REGION_ANALYSIS", {"cpu": "xla_cpu_no_such_option"})
        monkeypatch.setattr(_network, "_options_known", [True])
        exc, out = _static()
        with pytest.warns(RuntimeWarning, match="refused the compile option") \
                if fallback else contextlib.nullcontext():
            sim.run(20.0)
        assert _layout().region_analysis and _network._options_known[0] != fallback
        monkeypatch.setattr(_network, "_options_known", [True])  # the batched path's turn
        with pytest.warns(RuntimeWarning, match="refused the compile option") \
                if fallback else contextlib.nullcontext():
            blocks = sim.run_trials(20.0, trials=2)
        runs[name] = (_results(exc, out),
                      [np.asarray(s.magnitude) for s in blocks[out].segments[1].analogsignals])
        sim.end()
    flat = jax.tree.leaves(runs["plain"]), jax.tree.leaves(runs["fallback"])
    assert len(flat[0]) == len(flat[1]) > 0
    for a, b in zip(*flat):
        np.testing.assert_array_equal(a, b)


def _stdp_networks(forced, monkeypatch):
    """Two networks with pair STDP, region analysis forced on or off: one pre/post pair
    whose weight the rule gives (as in test_plasticity), and Poisson sources onto
    IF_curr_exp cells whose history (stdp_history=1: the delay ring's 11 steps) is short
    enough that entries are dropped and applied."""
    from pynn_leaky import _build

    monkeypatch.setattr(_build, "_region_analysis", lambda groups: forced)
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=16.0, tau_minus=30.0, A_plus=0.1,
                                            A_minus=0.12),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=1.0),
        weight=0.5, delay=1.0)
    sim.setup(timestep=0.1)
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=[10.0, 60.0]))
    drive = sim.Population(1, sim.SpikeSourceArray(spike_times=[20.0, 40.0]))
    one = sim.Population(1, sim.IF_curr_exp(tau_refrac=2.0, tau_syn_E=0.5))
    sim.Projection(drive, one, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=40.0, delay=0.1))
    pair = sim.Projection(pre, one, sim.OneToOneConnector(), stdp)
    sim.run(100.0)
    assert _layout().region_analysis == forced
    out = [np.asarray(pair.get("weight", format="array"))]
    sim.end()

    sim.setup(timestep=0.1, rng_seed=5, progress=False, stdp_history=1)
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=40.0))
    cells = sim.Population(10, sim.IF_curr_exp(i_offset=0.6))
    big = sim.Projection(src, cells, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(2)),
                         stdp)
    cells.record("spikes")
    sim.run(600.0)
    out += [np.asarray(big.get("weight", format="array")),
            [np.asarray(s) for s in cells.get_data().segments[0].spiketrains],
            _layout().plastic.history]
    sim.end()
    return out


@pytest.mark.skipif(not CPU, reason="region analysis is a CPU choice")
def test_plastic_weights_are_the_same_under_region_analysis(monkeypatch):
    # XLA (jaxlib 0.10.2) with region analysis returned the already updated `last` of a
    # synapse inside the potentiation loop (the pair's weight became 0.90 instead of
    # 0.46); the loop now reads values gathered before it. The STDP history is written
    # in two ways, chosen by region analysis (engine._plastic.append_post): both here.
    on, off = _stdp_networks(True, monkeypatch), _stdp_networks(False, monkeypatch)
    assert abs(off[0][0, 0] - 0.5) > 1e-3  # the pair learnt (its value: test_plasticity)
    assert sum(s.size for s in off[2]) > 50
    assert sum(s.size > off[3] for s in off[2]) >= 5  # cells whose history spilled
    assert np.nanstd(off[1]) > 1e-3  # the weights learnt, differently
    for a, b in zip(jax.tree.leaves(on), jax.tree.leaves(off)):
        np.testing.assert_array_equal(a, b)
