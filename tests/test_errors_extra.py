"""More bad input (completing tests/test_errors.py): the simulator's life cycle, receptor
types, initial values, current sources, spike-source parameters and setup options.
Each raises a PyNN error (or a RuntimeError for the life cycle) naming the bad value and
what is allowed; the simulator stays usable and recorded data stay intact."""

import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim

DT = 0.1
NAN, INF = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def simulator():
    sim.setup(timestep=DT)
    yield sim
    sim.end()


def v_of(cells, segment=0):
    return cells.get_data().segments[segment].filter(name="v")[0].magnitude


# -- life cycle ------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: sim.run(1.0),
    lambda: sim.run_until(1.0),
    lambda: sim.Population(1, sim.LeakyIntegrator()),
], ids=["run", "run_until", "Population"])
@pytest.mark.parametrize("when", ["before setup", "after end"])
def test_use_outside_setup_end(call, when):
    if when == "after end":
        sim.Population(1, sim.LeakyIntegrator())
        sim.run(1.0)
    sim.end()
    with pytest.raises(RuntimeError, match=r"setup\(\)"):
        call()
    sim.setup(timestep=DT)  # usable again
    cells = sim.Population(1, sim.LeakyIntegrator(i_offset=1.0))
    cells.record("v")
    sim.run(1.0)
    np.testing.assert_allclose(v_of(cells)[:, 0], 1 - np.exp(-np.arange(11) * DT / 10.0),
                               rtol=0, atol=1e-12)


# -- synapses ----------------------------------------------------------------------------


def _pair():
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]), label="stim")
    cells = sim.Population(2, sim.LeakyIntegrator(), label="cells")
    return src, cells


@pytest.mark.parametrize("receptor", ["gaba", "AMPA", "excitatory "])
def test_unknown_receptor_type(receptor):
    src, cells = _pair()
    with pytest.raises(errors.ConnectionError) as info:
        sim.Projection(src, cells, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=1.0, delay=1.0), receptor_type=receptor)
    message = str(info.value)
    assert receptor in message and "excitatory" in message and "inhibitory" in message


@pytest.mark.parametrize("weight", [NAN, INF, -INF])
def test_non_finite_inhibitory_weight(weight):
    src, cells = _pair()
    with pytest.raises(errors.ConnectionError, match="weight"):
        sim.Projection(src, cells, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=weight, delay=1.0), receptor_type="inhibitory")


# -- initial values ----------------------------------------------------------------------


def test_unknown_initial_variable_everywhere():
    with pytest.raises(errors.NonExistentParameterError, match="u.*isyn_exc, isyn_inh, v"):
        sim.Population(1, sim.LeakyIntegrator(), initial_values={"u": 1.0})
    cells = sim.Population(2, sim.LeakyIntegrator())
    with pytest.raises(errors.NonExistentParameterError, match="gsyn_exc"):
        cells.initialize(gsyn_exc=0.0)
    with pytest.raises(errors.NonExistentParameterError, match="w"):
        cells[0:1].initialize(w=1.0)
    with pytest.raises(errors.NonExistentParameterError, match="v"):
        sim.Population(1, sim.SpikeSourcePoisson(), initial_values={"v": -65.0})


def test_unknown_initial_variable_while_running_keeps_data():
    """initialize(w=...) between runs used to be accepted and broke the next run."""
    cells = sim.Population(2, sim.LeakyIntegrator(i_offset=1.0))
    cells.record("v")
    sim.run(2.0)
    before = v_of(cells).copy()
    with pytest.raises(errors.NonExistentParameterError, match="w"):
        cells.initialize(v=5.0, w=1.0)  # nothing applied, not even v
    np.testing.assert_array_equal(v_of(cells), before)
    sim.run(2.0)
    v = v_of(cells)[:, 0]
    np.testing.assert_allclose(v, 1 - np.exp(-np.arange(41) * DT / 10.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("value", [[1.0, 2.0, 3.0], np.zeros(1), np.zeros((3, 1))])
def test_initial_value_of_wrong_length(value):
    cells = sim.Population(3, sim.LeakyIntegrator(), label="cells")
    shape = str(np.shape(value))
    if np.shape(value) == (3,):
        cells[0:2].initialize(v=np.zeros(2))  # the view has 2 cells: (3,) is wrong there
        with pytest.raises(errors.InvalidDimensionsError, match=r"\(3,\).*\(2,\)"):
            cells[0:2].initialize(v=value)
        return
    with pytest.raises(errors.InvalidDimensionsError) as info:
        cells.initialize(v=value)
    assert shape in str(info.value) and "(3,)" in str(info.value)


# -- current sources and spike sources ---------------------------------------------------


@pytest.mark.parametrize("make, named", [
    (lambda: sim.DCSource(amplitud=1.0), "amplitud"),
    (lambda: sim.ACSource(frequncy=10.0), "frequncy"),
])
def test_unknown_current_source_parameter(make, named):
    with pytest.raises(errors.NonExistentParameterError, match=named):
        make()


@pytest.mark.parametrize("make, named", [
    (lambda: sim.DCSource(amplitude=NAN), "amplitude"),
    (lambda: sim.ACSource(amplitude=1.0, frequency=INF), "frequency"),
    (lambda: sim.StepCurrentSource(times=[1.0, 2.0], amplitudes=[1.0, NAN]), "amplitudes"),
    (lambda: sim.NoisyCurrentSource(mean=0.0, stdev=NAN), "stdev"),
    (lambda: sim.DCSource(amplitude=1.0, start=-1.0), "start"),
])
def test_bad_current_source_value(make, named):
    with pytest.raises(errors.InvalidParameterValueError, match=named):
        make()


@pytest.mark.parametrize("name, value", [("rate", -1.0), ("rate", NAN), ("start", -5.0),
                                         ("duration", -1.0), ("start", INF)])
def test_bad_poisson_parameter(name, value):
    with pytest.raises(errors.InvalidParameterValueError, match=name):
        sim.Population(2, sim.SpikeSourcePoisson(**{name: value}))
    src = sim.Population(2, sim.SpikeSourcePoisson(rate=5.0))
    with pytest.raises(errors.InvalidParameterValueError, match=name):
        src.set(**{name: value})
    assert src.get("rate") == 5.0


# -- setup and run -----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, named", [
    (dict(chunk_steps=0), "chunk_steps"),
    (dict(chunk_steps=1.5), "chunk_steps"),
    (dict(chunk_steps=True), "chunk_steps"),  # a bool is not a count
    (dict(stdp_history=np.int64(0)), "stdp_history"),
    (dict(max_delay=-1.0), "max_delay"),
    (dict(min_delay=NAN), "min_delay"),
])
def test_bad_setup_option(kwargs, named):
    with pytest.raises(errors.InvalidParameterValueError, match=named):
        sim.setup(**kwargs)


@pytest.mark.parametrize("call", [lambda: sim.run(INF), lambda: sim.run_until(INF),
                                  lambda: sim.run_until(NAN)], ids=["run", "until", "nan"])
def test_non_finite_run_time(call):
    cells = sim.Population(1, sim.LeakyIntegrator())
    cells.record("v")
    sim.run(1.0)
    with pytest.raises(errors.InvalidParameterValueError, match="finite"):
        call()
    assert sim.get_current_time() == pytest.approx(1.0)
    assert v_of(cells).shape == (11, 1)


def test_projection_and_functional_entry_points_need_setup():
    """Before setup() (after end()), the PyNN entry points name setup() in a RuntimeError."""
    sim.setup()
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cells = sim.Population(1, sim.LeakyIntegrator())
    sim.end()
    with pytest.raises(RuntimeError, match="setup"):
        sim.Projection(src, cells, sim.AllToAllConnector())
    with pytest.raises(RuntimeError, match="setup"):
        sim.run_trials(1.0, trials=1)
    with pytest.raises(RuntimeError, match="setup"):
        sim.differentiable(1.0)


def test_off_grid_run_duration_warns_and_stops_on_the_nearest_step():
    sim.setup(timestep=0.1)
    sim.Population(1, sim.LeakyIntegrator())
    with pytest.warns(UserWarning, match="not on the time grid") as record:
        sim.run(10.04)
    assert record[0].filename == __file__  # the user's line
    assert sim.get_current_time() == pytest.approx(10.0)
    sim.run(5.0)  # on the grid: no warning (warnings are errors in this suite)
    assert sim.get_current_time() == pytest.approx(15.0)
    sim.end()


def test_off_grid_spike_precision_records_given_source_times():
    with pytest.warns(UserWarning, match="no precise-spike-time neuron models"):
        sim.setup(timestep=0.05, spike_precision="off_grid")
    src = sim.Population(2, sim.SpikeSourceArray(
        spike_times=[[0.075, 10.025, 10.03, 12.34], [3.0]]))
    cell = sim.Population(1, sim.LeakyIntegrator())
    sim.Projection(src, cell, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0))
    src.record("spikes")
    cell.record("isyn_exc")
    sim.run(20.0)
    trains = src.get_data().segments[0].spiketrains
    np.testing.assert_array_equal(np.asarray(trains[0]), [0.075, 10.025, 10.03, 12.34])
    np.testing.assert_array_equal(np.asarray(trains[1]), [3.0])
    # the network still works on the grid: 0.075 acts at 0.1 ms, arriving 1 ms later
    isyn = cell.get_data().segments[0].filter(name="isyn_exc")[0].magnitude[:, 0]
    assert isyn[21] == 0.0 and isyn[22] == pytest.approx(1.0)
    sim.end()
    with pytest.raises(errors.InvalidParameterValueError, match="spike_precision = 'exact'"):
        sim.setup(spike_precision="exact")
