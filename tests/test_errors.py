"""Bad input raises PyNN's own exception types, naming the bad value; afterwards the
simulator is still usable and data recorded before the error is intact."""

import math
import sys

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


def raises_naming(exc_type, *fragments):
    """pytest.raises that also checks the message contains each fragment."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(exc_type)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self._ctx.__exit__(*exc)
            message = str(self.info.value)
            for fragment in fragments:
                assert fragment in message, f"{fragment!r} not in {message!r}"
            return suppressed

    return _Check()


def text(value):
    """How a bad float shows in a message: '-3.5', 'nan', 'inf'."""
    return "nan" if math.isnan(value) else repr(float(value))


# -- cell parameters ---------------------------------------------------------------------

BAD_CELL_PARAMETERS = [
    ("tau", 0.0),
    ("tau", -3.5),
    ("tau", NAN),
    ("R", 0.0),
    ("R", -2.25),
    ("tau_syn_E", 0.0),
    ("tau_syn_E", -1.5),
    ("tau_syn_I", -0.75),
    ("V_rest", NAN),
    ("i_offset", INF),
    ("noise", -0.5),
]


@pytest.mark.parametrize("name, value", BAD_CELL_PARAMETERS)
def test_bad_parameter_at_creation(name, value):
    with raises_naming(errors.InvalidParameterValueError, name, text(value)):
        sim.Population(2, sim.LeakyIntegrator(**{name: value}))


@pytest.mark.parametrize("name, value", BAD_CELL_PARAMETERS)
def test_bad_parameter_in_set(name, value):
    p = sim.Population(3, sim.LeakyIntegrator())
    before = p.get(name)
    with raises_naming(errors.InvalidParameterValueError, name, text(value)):
        p.set(**{name: value})
    assert p.get(name) == before  # nothing changed


def test_bad_value_inside_array_and_view():
    p = sim.Population(4, sim.LeakyIntegrator())
    with raises_naming(errors.InvalidParameterValueError, "tau", "-7.25"):
        p.set(tau=np.array([1.0, 2.0, -7.25, 3.0]))
    with raises_naming(errors.InvalidParameterValueError, "R", "-1.125"):
        p[1:3].set(R=-1.125)
    with raises_naming(errors.InvalidParameterValueError, "tau_syn_I", "0.0"):
        p[[0, 3]].set(tau_syn_I=lambda i: 0.0)
    np.testing.assert_array_equal(p.get("tau", simplify=False), 10.0)
    np.testing.assert_array_equal(p.get("R", simplify=False), 1.0)


def test_bad_initial_value():
    p = sim.Population(2, sim.LeakyIntegrator())
    with raises_naming(errors.InvalidParameterValueError, "v", "nan"):
        p.initialize(v=NAN)


def test_unknown_parameter_name():
    with raises_naming(errors.NonExistentParameterError, "tau_m"):
        sim.Population(1, sim.LeakyIntegrator(tau_m=10.0))
    p = sim.Population(1, sim.LeakyIntegrator())
    with raises_naming(errors.NonExistentParameterError, "cm"):
        p.set(cm=1.0)


def test_unknown_parameter_name_in_get():
    p = sim.Population(1, sim.LeakyIntegrator())
    with raises_naming(errors.NonExistentParameterError, "cm"):
        p.get("cm")


def test_wrong_length_array_in_set():
    p = sim.Population(3, sim.LeakyIntegrator())
    with raises_naming(errors.InvalidDimensionsError, "(2,)", "(3,)"):
        p.set(tau=np.array([5.0, 6.0]))


def test_wrong_length_array_at_creation():
    with raises_naming(errors.InvalidDimensionsError, "(2,)", "(3,)"):
        sim.Population(3, sim.LeakyIntegrator(tau=np.array([5.0, 6.0])))


def test_unknown_method():
    with raises_naming(errors.InvalidParameterValueError, "rk45", "exp_auto"):
        sim.LeakyIntegrator(method="rk45")


# -- spike times -----------------------------------------------------------------------

BAD_SPIKE_TIMES = [
    ([3.0, 1.0], "3.0"),  # unsorted
    ([1.0, 2.0, 1.5], "1.5"),
    ([-1.0, 1.0], "-1.0"),  # negative
    ([1.0, NAN], "nan"),
]


@pytest.mark.parametrize("times, named", BAD_SPIKE_TIMES)
def test_bad_spike_times(times, named):
    with raises_naming(errors.InvalidParameterValueError, named):
        sim.Population(1, sim.SpikeSourceArray(spike_times=times))
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[0.5]))
    with raises_naming(errors.InvalidParameterValueError, named):
        src.set(spike_times=times)


def test_unsorted_spike_times_name_the_cell_and_the_values():
    from pyNN.parameters import Sequence

    message = r"spike_times of cell 1 are not sorted \(2\.0 before 1\.5\): .* increasing order"
    with pytest.raises(errors.InvalidParameterValueError, match=message):
        sim.Population(2, sim.SpikeSourceArray(spike_times=[Sequence([1.0]),
                                                            Sequence([2.0, 1.5])]))
    with pytest.raises(errors.InvalidParameterValueError, match=message):
        sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0, 3.0], [2.0, 1.5]]))
    sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0, 1.0], [0.5, 2.0]]))  # equal: ok


# -- projections ---------------------------------------------------------------------------


def _pair():
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]), label="stim")
    cells = sim.Population(3, sim.LeakyIntegrator(), label="cells")
    return src, cells


def test_leaky_integrator_cannot_be_presynaptic():
    src, cells = _pair()
    with raises_naming(errors.ConnectionError, "cells", "LeakyIntegrator"):
        sim.Projection(
            cells, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0)
        )
    with raises_naming(errors.ConnectionError, "cells"):
        sim.Projection(
            cells[0:1], cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0)
        )


def test_spike_source_cannot_be_postsynaptic():
    src, cells = _pair()
    with raises_naming(errors.ConnectionError, "stim", "SpikeSourceArray"):
        sim.Projection(src, src, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0))


@pytest.mark.parametrize("delay", [0.05, 0.0, -1.0, NAN, INF])
def test_bad_delay(delay):
    src, cells = _pair()
    with raises_naming(errors.ConnectionError, "delay", text(delay)):
        sim.Projection(
            src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=delay)
        )
    prj = sim.Projection(
        src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=0.5)
    )
    with raises_naming(errors.ConnectionError, "delay", text(delay)):
        prj.set(delay=delay)
    np.testing.assert_allclose(prj.get("delay", format="array"), 0.5)


def test_delay_limits_from_setup():
    sim.setup(timestep=DT, min_delay=0.5, max_delay=2.0)
    src, cells = _pair()
    for delay in (0.3, 2.5):
        with raises_naming(errors.ConnectionError, "delay", repr(delay)):
            sim.Projection(
                src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=delay)
            )
    # the limits themselves are allowed
    for delay in (0.5, 2.0):
        prj = sim.Projection(
            src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=delay)
        )
        np.testing.assert_allclose(prj.get("delay", format="array"), delay)


def test_a_ring_buffer_too_large_for_int32_indices_is_refused_before_allocating():
    # 10001 slots (1000 ms at 0.1 ms) x 2 receptors x 60 000 cells: 1.2e9 values (9.6 GB);
    # the inhibitory projection makes the second receptor row
    sim.setup(timestep=DT)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cells = sim.Population(60_000, sim.LeakyIntegrator())
    sim.Projection(src, cells[:1], sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=-1.0, delay=1000.0), receptor_type="inhibitory")
    with raises_naming(errors.InvalidParameterValueError, "1200120000", "10001", "120000",
                       str(2**30)):
        sim.run(1.0)
    sim.end()


def _delayed_response(delay, **setup):
    """v of a LeakyIntegrator hit at 1 ms through `delay`, and the delay read back."""
    sim.setup(timestep=DT, **setup)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cells = sim.Population(1, sim.LeakyIntegrator())
    prj = sim.Projection(
        src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=delay)
    )
    cells.record("v")
    sim.run(3.0)
    v = cells.get_data().segments[0].filter(name="v")[0].magnitude[:, 0]
    return v, prj.get("delay", format="list")[0][2]


@pytest.mark.parametrize("delay, rounded", [(0.26, 0.3), (0.123, 0.1), (0.17, 0.2)])
def test_off_grid_delay_kept_and_simulated_on_the_grid(delay, rounded):
    """An off-grid delay is stored and read back as given; the engine rounds it to the
    nearest step (at least one) with one warning naming a value and the grid, and the
    run equals the run with the rounded delay."""
    reference, _ = _delayed_response(rounded)
    assert np.flatnonzero(reference)[0] == int(round((1.0 + rounded) / DT)) + 1
    with pytest.warns(UserWarning) as record:
        # min_delay = 0.123 (off the grid itself), as PyNN's own unit tests use it
        v, read_back = _delayed_response(delay, min_delay=0.123)
    messages = [str(w.message) for w in record if "delay" in str(w.message)]
    assert len(messages) == 1, messages
    assert repr(delay) in messages[0] and f"dt = {DT} ms" in messages[0]
    assert read_back == delay
    np.testing.assert_array_equal(v, reference)


def test_off_grid_delay_warns_once_per_build():
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cells = sim.Population(2, sim.LeakyIntegrator())
    for delay in (0.26, 0.37):
        sim.Projection(src, cells, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=1.0, delay=delay))
    with pytest.warns(UserWarning, match="4 synaptic delay") as record:
        sim.run(1.0)
    assert len([w for w in record if "delay" in str(w.message)]) == 1
    assert record[0].filename == __file__  # the user's line, not pynn_leaky's


def test_warnings_point_at_the_users_line_on_every_path(tmp_path):
    """The same build-time warning is reached through run(), run_trials() and save_state()
    at different depths; each time it names the caller's file and line."""
    for call in ("run", "run_trials", "save_state"):
        sim.setup(timestep=DT)
        src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
        cells = sim.Population(2, sim.LeakyIntegrator())
        sim.Projection(src, cells, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=1.0, delay=0.26))
        with pytest.warns(UserWarning, match="synaptic delay") as record:
            if call == "run":
                line = sys._getframe().f_lineno + 1
                sim.run(1.0)
            elif call == "run_trials":
                line = sys._getframe().f_lineno + 1
                sim.run_trials(1.0, trials=2)
            else:
                line = sys._getframe().f_lineno + 1
                sim.save_state(str(tmp_path / "state.npz"))
        assert (record[0].filename, record[0].lineno) == (__file__, line), call
        sim.end()


@pytest.mark.parametrize(
    "receptor, weight", [("inhibitory", 0.5), ("excitatory", -0.25), ("excitatory", NAN)]
)
def test_bad_weight_sign(receptor, weight):
    src, cells = _pair()
    with raises_naming(errors.ConnectionError, text(weight)):
        sim.Projection(
            src,
            cells,
            sim.AllToAllConnector(),
            sim.StaticSynapse(weight=weight, delay=1.0),
            receptor_type=receptor,
        )
    good = -1.0 if receptor == "inhibitory" else 1.0
    prj = sim.Projection(
        src,
        cells,
        sim.AllToAllConnector(),
        sim.StaticSynapse(weight=good, delay=1.0),
        receptor_type=receptor,
    )
    with raises_naming(errors.ConnectionError, text(weight)):
        prj.set(weight=weight)
    np.testing.assert_array_equal(prj.get("weight", format="array"), good)


# -- recording -------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["spikes", "gsyn_exc"])
def test_record_unknown_variable(variable):
    cells = sim.Population(2, sim.LeakyIntegrator())
    with raises_naming(errors.RecordingError, variable, "LeakyIntegrator"):
        cells.record(variable)


def test_record_v_of_spike_source():
    src = sim.Population(2, sim.SpikeSourcePoisson(rate=10.0))
    with raises_naming(errors.RecordingError, "v"):
        src.record("v")


def test_sampling_interval_not_multiple_of_dt():
    cells = sim.Population(2, sim.LeakyIntegrator())
    with raises_naming(errors.InvalidParameterValueError, "0.15"):
        cells.record("v", sampling_interval=0.15)


# -- setup and run -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, named",
    [
        (dict(timestep=0.0), "0.0"),
        (dict(timestep=-0.1), "-0.1"),
        (dict(timestep=NAN), "nan"),
        (dict(timestep=INF), "inf"),
        (dict(timestep="fast"), "fast"),
        (dict(timestep=0.1, min_delay=0.05), "0.05"),
        (dict(timestep=0.1, min_delay=1.0, max_delay=0.5), "0.5"),
        (dict(precision="float16"), "float16"),
    ],
)
def test_bad_setup(kwargs, named):
    with raises_naming(errors.InvalidParameterValueError, named):
        sim.setup(**kwargs)


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda: sim.run(-1.0), "-1"),  # at t = 0 the target time -1 is the duration
        (lambda: sim.run(NAN), "nan"),
    ],
)
def test_bad_run_duration(call, named):
    sim.Population(1, sim.LeakyIntegrator())
    with pytest.raises(ValueError) as info:
        call()
    assert named in str(info.value).lower()
    assert sim.get_current_time() == 0.0


def test_run_until_in_the_past():
    sim.Population(1, sim.LeakyIntegrator())
    sim.run(5.0)
    with raises_naming(ValueError, "2.5"):
        sim.run_until(2.5)
    assert sim.get_current_time() == pytest.approx(5.0)


def test_negative_run_duration_named_later():
    sim.Population(1, sim.LeakyIntegrator())
    sim.run(5.0)
    with raises_naming(ValueError, "-1"):
        sim.run(-1.0)


# -- the simulator survives errors ---------------------------------------------------------


def _bad_set(ctx):
    ctx["cells"].set(tau=-1.0)


def _bad_projection(ctx):
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    sim.Projection(
        src, ctx["cells"], sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=0.01)
    )


def _bad_record(ctx):
    ctx["cells"].record("spikes")


def _bad_run(ctx):
    sim.run(-2.0)


def _bad_setup(ctx):
    sim.setup(timestep=0.0)


def _bad_spike_times(ctx):
    ctx["src"].set(spike_times=[4.0, 3.0])


@pytest.mark.parametrize(
    "provoke, error",
    [
        (_bad_set, errors.InvalidParameterValueError),
        (_bad_projection, errors.ConnectionError),
        (_bad_record, errors.RecordingError),
        (_bad_run, ValueError),
        (_bad_setup, errors.InvalidParameterValueError),
        (_bad_spike_times, errors.InvalidParameterValueError),
    ],
)
def test_usable_after_error(provoke, error):
    """Run 5 ms, provoke an error, run 5 ms more: the whole trace is the analytic one."""
    tau, R, i_offset, V_rest = 10.0, 2.0, 0.5, -65.0
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[7.0]))
    cells = sim.Population(
        2, sim.LeakyIntegrator(tau=tau, R=R, i_offset=i_offset, V_rest=V_rest, tau_syn_E=5.0)
    )
    cells.initialize(v=V_rest)
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0))
    cells.record("v")
    sim.run(5.0)
    before = cells.get_data().segments[0].filter(name="v")[0].magnitude.copy()
    with pytest.raises(error):
        provoke({"cells": cells, "src": src})
    after_error = cells.get_data().segments[0].filter(name="v")[0].magnitude
    np.testing.assert_array_equal(after_error, before)  # recorded data intact
    sim.run(5.0)
    v = cells.get_data().segments[0].filter(name="v")[0].magnitude
    assert v.shape == (101, 2)
    t = np.arange(101) * DT
    s = t - 8.0
    psp = np.where(s >= 0, R * 1.0 * 5.0 / 5.0 * (np.exp(-s / tau) - np.exp(-s / 5.0)), 0.0)
    expected = V_rest + R * i_offset * (1 - np.exp(-t / tau)) + psp
    np.testing.assert_allclose(v, np.stack([expected] * 2, 1), rtol=0, atol=1e-9)


def test_a_chunk_checked_at_its_end_reports_its_last_step(monkeypatch):
    """Without running the chunk again, the divergence above (step 322) is found after the
    chunk's last step: what exact_first_bad corrects."""
    from pynn_leaky import engine

    monkeypatch.setattr(engine, "exact_first_bad", lambda *args: args[-1])
    sim.Population(2, sim.LeakyIntegrator(method="euler", tau=0.01, i_offset=1.0))
    with pytest.raises(sim.NumericalError, match=r"at t = 100 ms"):
        sim.run(150.0)


def test_numerical_error_keeps_data_and_reset_recovers():
    """Explicit Euler with dt > 2 tau diverges: NumericalError names the population and
    the time; the data recorded so far is kept; after fixing tau and reset() it runs."""
    cells = sim.Population(
        2, sim.LeakyIntegrator(method="euler", tau=0.01, i_offset=1.0), label="unstable"
    )
    cells.record("v")
    with pytest.raises(sim.NumericalError) as info:
        sim.run(100.0)
    message = str(info.value)
    assert "unstable" in message and "euler" in message and "0.01" in message
    # v_k = 1 - (-9)^k: the Euler step's dv/dt overflows, making v non-finite at step 322.
    # Leaky cells are checked once per chunk (1000 steps): the chunk runs again to find
    # that step (a check of every cell in every step found the same time).
    assert sim.simulator.state.network.layout.chunk == 1000
    assert "at t = 32.2 ms" in message
    with pytest.raises(sim.NumericalError, match=r"at t = 32.2 ms"):
        sim.run(10.0)  # the state is still non-finite, since step 322
    v = cells.get_data().segments[0].filter(name="v")[0].magnitude
    # Euler: v_{k+1} - 1 = (1 - dt/tau)(v_k - 1) = -9 (v_k - 1), so v_k = 1 - (-9)^k exactly.
    k = np.arange(6)
    np.testing.assert_allclose(v[:6, 0], 1.0 - (-9.0) ** k, rtol=1e-12)
    cells.set(tau=10.0)
    sim.reset()
    sim.run(10.0)
    block = cells.get_data()
    assert len(block.segments) == 2
    v2 = block.segments[1].filter(name="v")[0].magnitude[:, 0]
    np.testing.assert_allclose(v2, 1.0 - 0.99 ** np.arange(101), rtol=0, atol=1e-12)
