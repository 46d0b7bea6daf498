"""PyNN conventions that PyNN's own tests (python -m pynn_leaky.conformance) exposed."""

import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim


@pytest.fixture(autouse=True)
def _setup():
    sim.setup(timestep=0.1)
    yield
    sim.end()


@pytest.mark.parametrize("connector", [
    sim.AllToAllConnector(allow_self_connections=False),
    sim.FixedProbabilityConnector(1.0, allow_self_connections=False),
    sim.FixedNumberPreConnector(4, allow_self_connections=False),
], ids=["all_to_all", "fixed_probability", "fixed_number_pre"])
def test_no_self_connections(connector):
    cells = sim.Population(5, sim.IF_curr_exp())
    prj = sim.Projection(cells, cells, connector, sim.StaticSynapse(weight=0.1))
    pairs = np.array(prj.get("weight", format="list"))[:, :2]
    assert len(prj) == 20
    assert not (pairs[:, 0] == pairs[:, 1]).any()


def test_no_self_connections_between_views_of_the_same_cells():
    """A self-connection is one cell to itself, whichever view it is reached through."""
    cells = sim.Population(10, sim.IF_cond_exp())
    a, b = cells[[2, 3, 4]], cells[[2, 3, 4]]
    prj = sim.Projection(a, b, sim.AllToAllConnector(allow_self_connections=False),
                         sim.StaticSynapse(weight=0.015, delay=1.0))
    assert sorted((int(i), int(j)) for i, j, _ in prj.get("weight", "list")) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]


def test_recorded_data_survive_end():
    cells = sim.Population(1, sim.IF_curr_exp())
    source = sim.DCSource(amplitude=0.5, start=2.0, stop=4.0)
    cells.inject(source)
    source.record()
    cells.record("v")
    sim.run(5.0)
    sim.end()
    v = cells.get_data().segments[0].filter(name="v")[0]
    assert v.shape == (51, 1)
    current = source.get_data()
    assert len(current) == 51
    assert float(current[20, 0]) == 0.5 and float(current[40, 0]) == 0.0


def test_step_current_times_read_back_as_simulated():
    """Times are rounded to the time step when set; of two that round to one step the
    later amplitude wins."""
    step = sim.StepCurrentSource(times=[0.41, 0.42, 0.86], amplitudes=[0.5, -0.5, 0.5])
    times, amplitudes = step.times.evaluate(), step.amplitudes.evaluate()
    np.testing.assert_allclose(times, [0.4, 0.9], atol=1e-12)
    np.testing.assert_array_equal(amplitudes, [-0.5, 0.5])
    with pytest.raises(errors.InvalidParameterValueError):
        sim.StepCurrentSource(times=[0.5, 0.4999, 0.8], amplitudes=[0.5, -0.5, 0.5])


@pytest.mark.parametrize("wrong", ["dt", "time_step", "mindelay", "maxdelay"])
def test_setup_refuses_misspelled_arguments(wrong):
    with pytest.raises(TypeError, match=wrong):
        sim.setup(**{wrong: 0.1})


def test_set_refuses_values_that_are_not_numbers():
    cells = sim.Population(3, sim.IF_cond_exp())
    with pytest.raises(errors.InvalidParameterValueError, match="tau_m"):
        cells.set(tau_m={})
    with pytest.raises(errors.InvalidParameterValueError, match="tau_m"):
        cells[0:2].set(tau_m={})


def test_delays_read_back_as_decimals():
    cells = sim.Population(2, sim.IF_curr_exp())
    prj = sim.Projection(cells, cells, sim.OneToOneConnector(),
                         sim.StaticSynapse(weight=0.1, delay=8.2))
    assert prj.get("delay", format="list")[0][2] == 8.2
    assert prj[0].delay == 8.2
