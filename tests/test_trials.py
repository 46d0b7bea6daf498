"""Batched trials equal the corresponding ordinary runs, bit for bit."""

import logging

import jax
import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim


def _network(seed=4, tau=10.0):
    sim.setup(timestep=0.1, rng_seed=seed, progress=False)
    src = sim.Population(40, sim.SpikeSourcePoisson(rate=40.0))
    spiking = sim.Population(8, sim.IF_curr_exp(i_offset=0.3))
    cells = sim.Population(6, sim.LeakyIntegrator(R=20.0, tau=tau, noise=0.2))
    sim.Projection(src, spiking, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(1)),
                   sim.StaticSynapse(weight=1.5, delay=1.3))
    sim.Projection(spiking, cells, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=0.2, delay=2.1))
    cells.record("v")
    spiking.record("spikes")
    return spiking, cells


def _v(block, i=0):
    return block.segments[i].filter(name="v")[0].magnitude


def _spikes(block, i=0):
    return [np.asarray(s) for s in block.segments[i].spiketrains]


def test_each_trial_equals_an_ordinary_run_with_its_seed_and_parameters():
    spiking, cells = _network()
    blocks = sim.run_trials(30.0, rng_seeds=[4, 9, 9],
                            parameters={cells: {"tau": [10.0, 10.0, 25.0]}})
    assert sim.get_current_time() == 0.0  # the simulator itself did not move
    # some sources have no synapses: their spikes are masked before the trials' delivery
    assert sim.simulator.state.network.layout.skip_empty_rows
    assert [s.annotations["rng_seed"] for s in blocks[cells].segments] == [4, 9, 9]
    trial_v = [_v(blocks[cells], i) for i in range(3)]
    trial_spikes = [_spikes(blocks[spiking], i) for i in range(3)]
    assert sum(len(s) for s in trial_spikes[0]) > 10
    assert not np.array_equal(trial_v[0], trial_v[1])
    for i, (seed, tau) in enumerate([(4, 10.0), (9, 10.0), (9, 25.0)]):
        spiking, cells = _network(seed, tau)
        sim.run(30.0)
        np.testing.assert_array_equal(trial_v[i], _v(cells.get_data()))
        for a, b in zip(trial_spikes[i], _spikes(spiking.get_data()), strict=True):
            np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    spiking, cells = _network()
    with pytest.raises(errors.InvalidParameterValueError, match="-1"):
        sim.run_trials(-1.0, trials=2)
    with pytest.raises(errors.InvalidParameterValueError, match="0"):
        sim.run_trials(5.0, trials=0)
    with pytest.raises(errors.InvalidDimensionsError, match="3"):
        sim.run_trials(5.0, trials=2, parameters={cells: {"tau": [1.0, 2.0, 3.0]}})
    with pytest.raises(errors.NonExistentParameterError):
        sim.run_trials(5.0, trials=2, parameters={cells: {"tau_m": [1.0, 2.0]}})
    for devices in (0, 10_000, "cpu"):
        with pytest.raises(errors.InvalidParameterValueError, match="devices"):
            sim.run_trials(5.0, trials=2, devices=devices)
    sim.run(5.0)  # still usable
    assert _v(cells.get_data()).shape == (51, 6)


def test_a_diverging_trial_is_reported_at_its_first_non_finite_step():
    """tau = 0.01 ms with Euler diverges at step 322 (as in test_errors); tau = 10 ms
    does not: trial 1 is named, with that step's time, not its chunk's end."""
    sim.setup(timestep=0.1, rng_seed=4, progress=False)
    cells = sim.Population(2, sim.LeakyIntegrator(method="euler", i_offset=1.0))
    with pytest.raises(sim.NumericalError, match=r"trial 1 \(rng_seed \d+\) became "
                       r"non-finite at t = 32.2 ms"):
        sim.run_trials(150.0, trials=2, parameters={cells: {"tau": [10.0, 0.01]}})


def test_seeds_only():
    spiking, cells = _network()
    blocks = sim.run_trials(10.0, trials=2)
    assert [s.annotations["rng_seed"] for s in blocks[cells].segments] == [4, 5]
    assert _v(blocks[cells], 1).shape == (101, 6)


def test_per_trial_source_rates_equal_ordinary_runs():
    def network(rate):
        sim.setup(timestep=0.1, rng_seed=3, progress=False)
        src = sim.Population(20, sim.SpikeSourcePoisson(rate=rate))
        src.record("spikes")
        return src

    ordinary = {}
    for rate in (10.0, 500.0):
        src = network(rate)
        sim.run(50.0)
        ordinary[rate] = _spikes(src.get_data())
        sim.end()
    src = network(10.0)
    blocks = sim.run_trials(50.0, rng_seeds=[3, 3], parameters={src: {"rate": [10.0, 500.0]}})
    for i, rate in enumerate((10.0, 500.0)):
        got = _spikes(blocks[src], i)
        assert len(got) == len(ordinary[rate])
        for a, b in zip(got, ordinary[rate]):
            np.testing.assert_array_equal(a, b)
    counts = [sum(len(s) for s in _spikes(blocks[src], i)) for i in range(2)]
    assert counts[1] > 10 * counts[0] > 0
    sim.end()


def test_per_trial_spike_times_are_refused():
    sim.setup(timestep=0.1)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    with pytest.raises(NotImplementedError, match="spike_times"):
        sim.run_trials(5.0, rng_seeds=[1, 2], parameters={src: {"spike_times": [[1.0], [2.0]]}})
    sim.end()


def test_a_parameter_uniform_in_one_trial_and_not_in_another():
    # The network passes a parameter equal in all cells as one value; the trials stack
    # per-cell values where any trial needs them. The uniform trial then computes with
    # per-cell values, which XLA rounds differently in the last bit than one broadcast
    # value: it equals its own run to rounding, the other trial bit for bit.
    spiking, cells = _network()
    taus = [12.0, np.linspace(8.0, 30.0, cells.size)]
    blocks = sim.run_trials(30.0, rng_seeds=[4, 4], parameters={cells: {"tau": taus}})
    trial_v = [_v(blocks[cells], i) for i in range(2)]
    sim.end()
    for i, tau in enumerate(taus):
        spiking, cells = _network(tau=tau)
        sim.run(30.0)
        if i == 0:
            np.testing.assert_allclose(trial_v[i], _v(cells.get_data()), rtol=0, atol=1e-12)
        else:
            np.testing.assert_array_equal(trial_v[i], _v(cells.get_data()))
        sim.end()
    assert not np.array_equal(trial_v[0], trial_v[1])


def test_repeated_trials_compile_nothing(caplog):
    """A second run_trials of the same network and length compiles no program (other
    seeds and parameter values are data, not shapes)."""
    spiking, cells = _network()
    sim.run_trials(10.0, rng_seeds=[1, 2], parameters={cells: {"tau": [10.0, 12.0]}})
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        blocks = sim.run_trials(10.0, rng_seeds=[3, 4],
                                parameters={cells: {"tau": [14.0, 16.0]}})
    assert len(blocks[cells].segments) == 2
    assert not [r for r in caplog.records if "ompil" in r.getMessage()]


def test_recordings_untouched_by_trials_even_when_interrupted(monkeypatch):
    """Each trial's data go to the recorders chunk by chunk, in swapped-in buffers: the
    simulator's own recordings stay as they were, also when run_trials is interrupted
    while handing a chunk over, and the simulation goes on as if no trial had run."""
    spiking, cells = _network()
    sim.run(5.0)
    v0, s0 = _v(cells.get_data()).copy(), _spikes(spiking.get_data())
    sim.run_trials(12.0, rng_seeds=[1, 2])
    calls = []
    dispatch = sim.simulator.state.network._dispatch

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == 2:  # the second trial's rows of the first chunk
            raise KeyboardInterrupt
        return dispatch(*args, **kw)

    monkeypatch.setattr(sim.simulator.state.network, "_dispatch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sim.run_trials(12.0, rng_seeds=[1, 2])
    monkeypatch.undo()
    np.testing.assert_array_equal(_v(cells.get_data()), v0)
    assert all(np.array_equal(a, b) for a, b in zip(_spikes(spiking.get_data()), s0))
    sim.run(5.0)
    v, s = _v(cells.get_data()), _spikes(spiking.get_data())
    spiking, cells = _network()
    sim.run(10.0)
    np.testing.assert_array_equal(_v(cells.get_data()), v)
    assert all(np.array_equal(a, b) for a, b in zip(_spikes(spiking.get_data()), s))
