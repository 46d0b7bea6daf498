"""PyNN's composed PointNeuron models against pyNN.nest, and their PyNN interface."""

import importlib.util
import pathlib

import numpy as np
import pytest
from _backend_run import run_script
from pyNN import errors

import pynn_leaky as sim

SCRIPT = pathlib.Path(__file__).with_name("_pointneuron_script.py")


@pytest.mark.nest
@pytest.mark.skipif(importlib.util.find_spec("nest") is None, reason="NEST is not installed")
def test_point_neurons_match_nest(tmp_path):
    leaky = run_script(SCRIPT, "pynn_leaky", tmp_path, 1)
    nest = run_script(SCRIPT, "pyNN.nest", tmp_path, 1)
    assert set(leaky) == set(nest)
    for label in ("adex", "lif"):
        a, b = leaky[f"{label}_spikes"], nest[f"{label}_spikes"]
        assert sum(len(s) for s in b) > 100
        for k, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, atol=1e-9, err_msg=f"{label} cell {k} spikes")
    # LIF: exact integration (rounding); AdExp: NEST's adaptive RKF45 replayed, where the
    # exponential term's last bits differ between XLA and glibc
    assert np.abs(leaky["lif_v"] - nest["lif_v"]).max() < 1e-9
    assert np.abs(leaky["adex_v"] - nest["adex_v"]).max() < 1e-4
    for rec in ("AMPA", "NMDA", "GABAA"):
        np.testing.assert_allclose(leaky[f"lif_{rec}.isyn"], nest[f"lif_{rec}.isyn"], atol=1e-12)
        np.testing.assert_allclose(leaky[f"adex_{rec}.gsyn"], nest[f"adex_{rec}.gsyn"],
                                   atol=1e-9)


def test_parameters_receptors_and_errors():
    sim.setup(timestep=0.1)
    celltype = sim.PointNeuron(sim.LIF(tau_m=12.0), fast=sim.CurrExpPostSynapticResponse(
        tau_syn=1.0), slow=sim.CurrExpPostSynapticResponse(tau_syn=30.0))
    assert celltype.receptor_types == ["fast", "slow"]
    cells = sim.Population(3, celltype)
    assert cells.get("slow.tau_syn") == pytest.approx(30.0)
    cells[1:].set(**{"fast.tau_syn": 2.0})
    np.testing.assert_allclose(cells.get("fast.tau_syn"), [1.0, 2.0, 2.0])
    with pytest.raises(errors.InvalidParameterValueError, match="slow.tau_syn"):
        cells.set(**{"slow.tau_syn": -1.0})
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[5.0]))
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=1.0),
                   receptor_type="slow")
    with pytest.raises(errors.ConnectionError):
        sim.Projection(src, cells, sim.AllToAllConnector(), receptor_type="AMPA")
    cells.record(["v", "slow.isyn", "fast.isyn"])
    sim.run(20.0)
    seg = cells.get_data().segments[0]
    slow = seg.filter(name="slow.isyn")[0].magnitude
    assert slow[60, 0] == pytest.approx(0.5, rel=1e-12) and slow[59, 0] == 0  # at 5 + 1 ms
    assert np.all(seg.filter(name="fast.isyn")[0].magnitude == 0)
    sim.end()
    with pytest.raises(errors.InvalidModelError, match="CondExpPostSynapticResponse"):
        sim.PointNeuron(sim.LIF(), AMPA=sim.CondExpPostSynapticResponse())
