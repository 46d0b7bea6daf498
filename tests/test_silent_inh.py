"""A group whose inhibitory current is zero and reached by no synapse leaves it out of the
step (engine.GroupLayout.silent_inh): exactly the results of the full step, and the
current comes back as soon as something sets it (initialize, a checkpoint, an inhibitory
projection)."""

import numpy as np
import pytest

import pynn_leaky as sim
from pynn_leaky import _build


def _never_silent(monkeypatch):
    monkeypatch.setattr(_build.Network, "silence_inh", lambda self, st: None)


def _network():
    sim.setup(timestep=0.1, rng_seed=6, progress=False)
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=150.0))
    leaky = sim.Population(12, sim.LeakyIntegrator(R=20.0, tau=12.0, tau_syn_I=7.0))
    iaf = sim.Population(10, sim.IF_curr_exp(i_offset=0.2))
    rng = sim.NumpyRNG(8)
    sim.Projection(src, leaky, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.1, delay=1.2))
    sim.Projection(src, iaf, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.6, delay=0.7))
    leaky.record(["v", "isyn_inh"])
    iaf.record(["v", "spikes"])
    return src, leaky, iaf


def _silent():
    return [g.silent_inh for g in _build.current(sim.simulator.state).layout.groups]


def _results(leaky, iaf):
    """isyn_inh and v of the leaky cells, v and spikes of the IF_curr_exp cells."""
    signal = lambda p, name: p.get_data().segments[0].filter(name=name)[0].magnitude  # noqa: E731
    out = [signal(leaky, "isyn_inh"), signal(leaky, "v"), signal(iaf, "v")]
    return out + [np.asarray(s) for s in iaf.get_data().segments[0].spiketrains]


def _scenario(name, tmp_path):
    src, leaky, iaf = _network()
    sim.run(30.0)
    flags = [_silent()]
    if name == "initialize":
        leaky.initialize(isyn_inh=-0.3)
    elif name == "inhibitory projection":
        sim.Projection(src, leaky, sim.FixedProbabilityConnector(0.2, rng=sim.NumpyRNG(3)),
                       sim.StaticSynapse(weight=-0.2, delay=1.0), receptor_type="inhibitory")
    elif name == "checkpoint":
        # a checkpoint written where the current was non-zero, loaded where it is zero
        path = tmp_path / "state.npz"
        sim.end()
        src, leaky, iaf = _network()
        leaky.initialize(isyn_inh=-0.3)
        sim.run(30.0)
        sim.save_state(str(path))
        sim.end()
        src, leaky, iaf = _network()
        sim.load_state(str(path))
    sim.run(30.0)
    flags.append(_silent())
    result = _results(leaky, iaf)
    sim.end()
    return flags, result


@pytest.mark.parametrize("name, flags", [
    ("plain", [[True, True], [True, True]]),
    ("initialize", [[True, True], [False, True]]),
    ("inhibitory projection", [[True, True], [False, True]]),
    ("checkpoint", [[True, True], [False, True]]),
])
def test_silent_inhibition_gives_the_results_of_the_full_step(monkeypatch, tmp_path, name,
                                                               flags):
    got_flags, result = _scenario(name, tmp_path)
    assert got_flags == flags
    with monkeypatch.context() as m:
        _never_silent(m)
        ref_flags, reference = _scenario(name, tmp_path)
    assert ref_flags == [[False, False], [False, False]]
    assert sum(len(s) for s in result[3:]) > 10  # the IF_curr_exp cells spike
    assert (result[0] != 0).any() == (name != "plain")  # isyn_inh
    for a, b in zip(result, reference):
        np.testing.assert_array_equal(a, b)
