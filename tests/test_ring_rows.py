"""A network without inhibitory projections has a one-row delay ring buffer: exactly the
results of the two-row ring (its inhibitory row only ever held zeros), before and after
an inhibitory projection is added, and across checkpoints written with two rows."""

import numpy as np
import pytest

import pynn_leaky as sim
from pynn_leaky import _build


def _two_rows(monkeypatch):
    rows = _build._ring_rows
    monkeypatch.setattr(_build, "_ring_rows", lambda neurons, prjs: max(2, rows(neurons, prjs)))


def _network():
    sim.setup(timestep=0.1, rng_seed=4, progress=False)
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=200.0))
    exc = sim.Population(20, sim.IF_curr_exp(i_offset=0.3))
    out = sim.Population(6, sim.LeakyIntegrator(R=20.0, tau=12.0))
    rng = sim.NumpyRNG(2)
    sim.Projection(src, exc, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.4, delay=1.3))
    sim.Projection(exc, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.2, delay=2.1))
    exc.record("spikes")
    out.record("v")
    exc.initialize(isyn_inh=-0.2)  # decays, with or without an inhibitory row
    return src, exc, out


def _results(exc, out):
    v = out.get_data().segments[0].filter(name="v")[0].magnitude
    spikes = [np.asarray(s) for s in exc.get_data().segments[0].spiketrains]
    return v, spikes


def _run(add_inhibition):
    src, exc, out = _network()
    sim.run(60.0)
    rows = _build.current(sim.simulator.state).n_rows
    if add_inhibition:
        sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.2, rng=sim.NumpyRNG(3)),
                       sim.StaticSynapse(weight=-0.3, delay=1.0), receptor_type="inhibitory")
    sim.run(60.0)
    rows = (rows, _build.current(sim.simulator.state).n_rows)
    result = _results(exc, out)
    sim.end()
    return rows, result


@pytest.mark.parametrize("add_inhibition", [False, True])
def test_one_ring_row_gives_the_results_of_two(monkeypatch, add_inhibition):
    rows, (v, spikes) = _run(add_inhibition)
    assert rows == ((1, 2) if add_inhibition else (1, 1))
    with monkeypatch.context() as m:
        _two_rows(m)
        ref_rows, (ref_v, ref_spikes) = _run(add_inhibition)
    assert ref_rows == (2, 2)
    assert sum(len(s) for s in spikes) > 20
    np.testing.assert_array_equal(v, ref_v)
    for a, b in zip(spikes, ref_spikes):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_with_two_rows_loads_into_one(monkeypatch, tmp_path):
    src, exc, out = _network()
    sim.run(100.0)
    whole_v, whole_spikes = _results(exc, out)
    sim.end()

    path = str(tmp_path / "two_rows.npz")
    with monkeypatch.context() as m:
        _two_rows(m)
        _network()
        sim.run(60.0)
        assert _build.current(sim.simulator.state).n_rows == 2
        sim.save_state(path)
        sim.end()

    src, exc, out = _network()
    sim.load_state(path)
    assert _build.current(sim.simulator.state).n_rows == 1
    sim.run(40.0)
    v, spikes = _results(exc, out)
    np.testing.assert_array_equal(v, whole_v[600:])
    for a, b in zip(spikes, whole_spikes):
        np.testing.assert_array_equal(a, b[b > 60.0])
    sim.end()
