"""Checkpoints: run(a); save; load (in a fresh simulator); run(b) equals run(a + b)."""

import pathlib

import numpy as np
import pytest

import pynn_leaky as sim


def _network():
    sim.setup(timestep=0.1, rng_seed=11, progress=False)
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=80.0))
    exc = sim.Population(15, sim.IF_curr_exp(i_offset=0.4, tau_refrac=2.0))
    out = sim.Population(4, sim.LeakyIntegrator(R=20.0, tau=12.0, noise=0.3))
    rng = sim.NumpyRNG(5)
    delays = np.round(rng.next(300, "uniform", {"low": 0.1, "high": 4.0}), 1)
    pairs = [(i, j, -0.5, delays[(i * 15 + j) % 300]) for i in range(15) for j in range(15)
             if (i * 7 + j * 3) % 5 == 0]
    sim.Projection(src, exc, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=1.0, delay=1.0))
    sim.Projection(exc, exc, sim.FromListConnector(pairs, column_names=["weight", "delay"]),
                   receptor_type="inhibitory")
    sim.Projection(exc, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.2, delay=3.7))
    sim.NoisyCurrentSource(mean=0.1, stdev=0.2, dt=1.0).inject_into(out)
    exc.record("spikes")
    out.record("v")
    return exc, out


def test_round_trip_is_exact(tmp_path):
    exc, out = _network()
    sim.run(60.0)
    sim.run(40.0)
    whole_v = out.get_data().segments[0].filter(name="v")[0].magnitude[600:]
    trains = exc.get_data().segments[0].spiketrains
    whole_spikes = [np.asarray(s)[np.asarray(s) > 60.0] for s in trains]
    sim.end()

    exc, out = _network()
    sim.run(60.0)
    path = tmp_path / "state.npz"
    sim.save_state(str(path))
    sim.end()

    exc, out = _network()  # a fresh simulator, the same script
    sim.load_state(str(path))
    assert sim.get_current_time() == pytest.approx(60.0)
    sim.run(40.0)
    v = out.get_data().segments[0].filter(name="v")[0].magnitude
    np.testing.assert_array_equal(v, whole_v)
    spikes = [np.asarray(s) for s in exc.get_data().segments[0].spiketrains]
    assert sum(len(s) for s in whole_spikes) > 20
    for a, b in zip(spikes, whole_spikes):
        np.testing.assert_array_equal(a, b)
    sim.end()


def test_a_checkpoint_of_the_previous_release_loads(monkeypatch):
    """data/checkpoint_format2_be0a7b9.npz: `_network()`, run(60), save_state() by commit
    be0a7b9 (before Layout.region_analysis existed). It loads, in either compile setting,
    and continues exactly as a run of 100 ms here."""
    exc, out = _network()
    sim.run(100.0)
    whole_v = out.get_data().segments[0].filter(name="v")[0].magnitude[600:]
    sim.end()
    path = str(pathlib.Path(__file__).parent / "data" / "checkpoint_format2_be0a7b9.npz")
    for setting in ("0", "1"):
        monkeypatch.setenv("PYNN_LEAKY_REGION_ANALYSIS", setting)
        exc, out = _network()
        sim.load_state(path)
        assert sim.get_current_time() == pytest.approx(60.0)
        sim.run(40.0)
        v = out.get_data().segments[0].filter(name="v")[0].magnitude
        np.testing.assert_array_equal(v, whole_v)
        sim.end()


def test_loading_into_a_different_network_is_refused(tmp_path):
    _network()
    sim.run(5.0)
    path = tmp_path / "state.npz"
    sim.save_state(str(path))
    sim.setup(timestep=0.1)
    sim.Population(3, sim.LeakyIntegrator())
    with pytest.raises(ValueError, match="differs"):
        sim.load_state(str(path))
    sim.run(1.0)  # still usable
    sim.end()
