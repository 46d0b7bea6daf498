"""IF_curr_delta, SpikeSourceGamma and SpikeSourcePoissonRefractory with the simulator's
features: recording, as the presynaptic side of a Projection, run_trials, checkpoints."""

import numpy as np
import pytest

import pynn_leaky as sim

DT = 0.1
TYPES = {
    "IF_curr_delta": lambda: sim.IF_curr_delta(i_offset=1.2, tau_refrac=2.0),
    "SpikeSourceGamma": lambda: sim.SpikeSourceGamma(alpha=3, beta=240.0, start=5.0),
    "SpikeSourcePoissonRefractory": lambda: sim.SpikeSourcePoissonRefractory(
        rate=70.0, tau_refrac=3.0, duration=80.0),
}


def _network(name, seed=2):
    """The type under test drives a LeakyIntegrator readout; a Poisson input (random, so
    that seeds matter for every type) drives the IF_curr_delta cells."""
    sim.setup(timestep=DT, rng_seed=seed, progress=False)
    pop = sim.Population(6, TYPES[name](), label=name)
    if name == "IF_curr_delta":
        drive = sim.Population(6, sim.SpikeSourcePoisson(rate=300.0))
        sim.Projection(drive, pop, sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=2.0, delay=0.5))
        pop.record("v")
    out = sim.Population(2, sim.LeakyIntegrator(R=10.0, tau=8.0), label="out")
    sim.Projection(pop, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.3, delay=1.2))
    pop.record("spikes")
    out.record("v")
    return pop, out


def _data(pop, out, segment=0):
    trains = [np.asarray(s.magnitude) for s in pop.get_data().segments[segment].spiketrains]
    return trains, out.get_data().segments[segment].filter(name="v")[0].magnitude


@pytest.fixture(autouse=True)
def _end():
    yield
    sim.end()


@pytest.mark.parametrize("name", list(TYPES))
def test_recorded_spikes_reach_the_projection_targets(name):
    pop, out = _network(name)
    sim.run(100.0)
    trains, v = _data(pop, out)
    times = np.concatenate(trains)
    assert times.size > 20
    # The readout moves exactly when the first spike has arrived (delay 1.2 ms): the jump
    # of its synaptic current shows in v one step after the arrival.
    first_change = np.flatnonzero(np.abs(v[:, 0]) > 0)[0]
    assert first_change * DT == pytest.approx(times.min() + 1.2 + DT)
    if name == "IF_curr_delta":
        vm = pop.get_data().segments[0].filter(name="v")[0]
        assert vm.shape == (1001, 6) and str(vm.units.dimensionality) == "mV"


@pytest.mark.parametrize("name", list(TYPES))
def test_trials_equal_ordinary_runs(name):
    pop, out = _network(name, seed=2)
    blocks = sim.run_trials(60.0, rng_seeds=[2, 8])
    trial = [([np.asarray(s.magnitude) for s in blocks[pop].segments[b].spiketrains],
              blocks[out].segments[b].filter(name="v")[0].magnitude) for b in range(2)]
    assert not np.array_equal(trial[0][1], trial[1][1])
    for b, seed in enumerate([2, 8]):
        sim.end()
        pop, out = _network(name, seed=seed)
        sim.run(60.0)
        trains, v = _data(pop, out)
        for x, y in zip(trial[b][0], trains, strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(trial[b][1], v)


@pytest.mark.parametrize("name", list(TYPES))
def test_checkpoint_round_trip_is_exact(name, tmp_path):
    pop, out = _network(name)
    sim.run(100.0)
    trains, v = _data(pop, out)
    sim.end()

    pop, out = _network(name)
    sim.run(37.0)
    path = tmp_path / "state.npz"
    sim.save_state(path)
    sim.end()
    pop, out = _network(name)
    sim.load_state(path)
    sim.run(63.0)
    later_trains, later_v = _data(pop, out)
    for whole, later in zip(trains, later_trains, strict=True):
        np.testing.assert_array_equal(whole[whole > 37.0 + 1e-9], later)
    np.testing.assert_array_equal(v[-later_v.shape[0]:], later_v)
