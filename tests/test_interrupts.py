"""A KeyboardInterrupt during a long run leaves the simulator at the end of the last
completed chunk: the time is that of the chunk's end, every recording has exactly the
samples up to that time, and running on gives, bit for bit, what an uninterrupted run
gives."""

import os
import signal

import numpy as np
import pytest

import pynn_leaky as sim
from pynn_leaky import _build

DT = 0.1
CHUNK = 100  # steps per chunk (setup(chunk_steps=...))
T_STOP = 100.0  # ms: 10 chunks


def build():
    """Poisson and array sources -> noisy LeakyIntegrators with a DC and an AC source;
    v, isyn_exc, isyn_inh, spikes and both currents recorded."""
    sim.setup(timestep=DT, chunk_steps=CHUNK, rng_seed=7)
    poisson = sim.Population(20, sim.SpikeSourcePoisson(rate=200.0), label="poisson")
    array = sim.Population(
        2, sim.SpikeSourceArray(spike_times=[[5.0, 19.9, 20.0, 20.1, 35.0], [10.0, 60.0]]),
        label="array",
    )
    cells = sim.Population(
        4, sim.LeakyIntegrator(tau=[5.0, 10.0, 20.0, 40.0], R=2.0, noise=0.3), label="cells"
    )
    rng = np.random.default_rng(3)
    pre, post = np.nonzero(rng.random((20, 4)) < 0.5)
    delays = rng.integers(1, 31, pre.size) * DT  # on the grid, 0.1 .. 3 ms
    sim.Projection(poisson, cells, sim.FromListConnector(
        [(int(i), int(j), 0.2, d) for i, j, d in zip(pre, post, delays)]),
        sim.StaticSynapse(), receptor_type="excitatory")
    sim.Projection(array, cells, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=-0.5, delay=1.0), receptor_type="inhibitory")
    dc = sim.DCSource(amplitude=0.3, start=3.0, stop=70.0)
    ac = sim.ACSource(amplitude=0.2, frequency=50.0, start=1.0, stop=90.0)
    cells.inject(dc)
    cells[1:3].inject(ac)
    dc.record()
    ac.record()
    cells.record(["v", "isyn_exc", "isyn_inh"])
    poisson.record("spikes")
    array.record("spikes")
    return {"cells": cells, "poisson": poisson, "array": array, "dc": dc, "ac": ac}


def snapshot(net):
    """Every recording as plain arrays (signals, spike trains, current traces)."""
    out = {}
    seg = net["cells"].get_data().segments[-1]
    for sig in seg.analogsignals:
        out[sig.name] = (sig.times.magnitude.copy(), sig.magnitude.copy())
    for name in ("poisson", "array"):
        trains = net[name].get_data().segments[-1].spiketrains
        out[name] = [st.magnitude.copy() for st in trains]
    for name in ("dc", "ac"):
        sig = net[name].get_data()
        out[name] = (sig.times.magnitude.copy(), sig.magnitude.copy())
    return out


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], list):
            assert len(a[key]) == len(b[key])
            for x, y in zip(a[key], b[key]):
                np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            for x, y in zip(a[key], b[key]):
                np.testing.assert_array_equal(x, y, err_msg=key)


@pytest.fixture(scope="module")
def uninterrupted():
    net = build()
    sim.run(T_STOP)
    out = snapshot(net)
    sim.end()
    return out


def interrupt_dispatch(monkeypatch, after_chunks, partial=False):
    """Make Network._dispatch raise KeyboardInterrupt on chunk `after_chunks + 1`; with
    `partial`, only after handing that chunk's data to the recorders."""
    original = _build.Network._dispatch
    calls = []

    def dispatch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == after_chunks + 1:
            if partial:
                original(self, *args, **kwargs)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_build.Network, "_dispatch", dispatch)
    return calls


def check_cut(net, t_cut):
    """Recordings stop exactly at t_cut and equal the first part of the full run."""
    n = int(round(t_cut / DT)) + 1
    cut = snapshot(net)
    for name in ("v", "isyn_exc", "isyn_inh"):
        times, values = cut[name]
        assert values.shape == (n, 4), name
        np.testing.assert_allclose(times[-1], t_cut, rtol=0, atol=1e-9)
        assert np.isfinite(values).all()
    for name in ("dc", "ac"):
        times, values = cut[name]
        assert values.shape[0] == n, name
    for name in ("poisson", "array"):
        assert all((train <= t_cut + 1e-9).all() for train in cut[name]), name
    return cut


@pytest.mark.parametrize("partial", [False, True], ids=["before-dispatch", "mid-dispatch"])
def test_interrupt_keeps_last_completed_chunk(uninterrupted, monkeypatch, partial):
    net = build()
    try:
        calls = interrupt_dispatch(monkeypatch, after_chunks=2, partial=partial)
        with pytest.raises(KeyboardInterrupt):
            sim.run(T_STOP)
        assert len(calls) == 3
        t_cut = 2 * CHUNK * DT
        assert sim.get_current_time() == pytest.approx(t_cut, abs=1e-12)
        cut = check_cut(net, t_cut)
        # what was recorded up to the interrupt equals the uninterrupted run's beginning
        n = int(round(t_cut / DT)) + 1
        for name in ("v", "isyn_exc", "isyn_inh", "dc", "ac"):
            np.testing.assert_array_equal(cut[name][1], uninterrupted[name][1][:n], name)
        for name in ("poisson", "array"):
            for x, y in zip(cut[name], uninterrupted[name]):
                np.testing.assert_array_equal(x, y[y <= t_cut + 1e-9])
        monkeypatch.undo()
        sim.run(T_STOP - t_cut)  # continues from the last completed chunk
        assert sim.get_current_time() == pytest.approx(T_STOP, abs=1e-9)
        assert_identical(snapshot(net), uninterrupted)
    finally:
        sim.end()


def test_interrupt_then_run_until(uninterrupted, monkeypatch):
    """Two interrupts in a row, then run_until the stop time."""
    net = build()
    try:
        interrupt_dispatch(monkeypatch, after_chunks=1)
        with pytest.raises(KeyboardInterrupt):
            sim.run(T_STOP)
        assert sim.get_current_time() == pytest.approx(CHUNK * DT, abs=1e-12)
        monkeypatch.undo()
        interrupt_dispatch(monkeypatch, after_chunks=3, partial=True)
        with pytest.raises(KeyboardInterrupt):
            sim.run_until(T_STOP)
        assert sim.get_current_time() == pytest.approx(4 * CHUNK * DT, abs=1e-12)
        check_cut(net, 4 * CHUNK * DT)
        monkeypatch.undo()
        sim.run_until(T_STOP)
        assert_identical(snapshot(net), uninterrupted)
    finally:
        sim.end()


def test_interrupt_then_reset_starts_clean(uninterrupted, monkeypatch):
    net = build()
    try:
        interrupt_dispatch(monkeypatch, after_chunks=2, partial=True)
        with pytest.raises(KeyboardInterrupt):
            sim.run(T_STOP)
        monkeypatch.undo()
        sim.reset()
        sim.run(T_STOP)
        assert_identical(snapshot(net), uninterrupted)
        assert len(net["cells"].get_data().segments) == 2
    finally:
        sim.end()


def send_sigint(monkeypatch, at_chunk, count):
    """Deliver `count` real SIGINTs at the start of chunk `at_chunk`'s commit."""
    original = _build.Network._dispatch
    calls = []

    def dispatch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == at_chunk:
            for _ in range(count):
                os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_build.Network, "_dispatch", dispatch)
    return calls


def test_ctrl_c_waits_for_the_chunk_to_commit(uninterrupted, monkeypatch):
    """A real SIGINT in the middle of a chunk's commit is held until the chunk is
    committed: the run stops at the end of that chunk, with everything consistent."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    net = build()
    try:
        calls = send_sigint(monkeypatch, at_chunk=3, count=1)
        with pytest.raises(KeyboardInterrupt):
            sim.run(T_STOP)
        assert len(calls) == 3
        assert sim.get_current_time() == pytest.approx(3 * CHUNK * DT, abs=1e-12)
        check_cut(net, 3 * CHUNK * DT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
        monkeypatch.undo()
        sim.run_until(T_STOP)
        assert_identical(snapshot(net), uninterrupted)
    finally:
        sim.end()


def test_second_ctrl_c_interrupts_at_once(uninterrupted, monkeypatch):
    """Two SIGINTs: the second raises immediately, inside the commit; the recordings are
    trimmed back to the last completed chunk."""
    net = build()
    try:
        send_sigint(monkeypatch, at_chunk=3, count=2)
        with pytest.raises(KeyboardInterrupt):
            sim.run(T_STOP)
        assert sim.get_current_time() == pytest.approx(2 * CHUNK * DT, abs=1e-12)
        check_cut(net, 2 * CHUNK * DT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        monkeypatch.undo()
        sim.run_until(T_STOP)
        assert_identical(snapshot(net), uninterrupted)
    finally:
        sim.end()


def test_ctrl_c_in_last_chunk_raised_after_run():
    sim.setup(timestep=DT, chunk_steps=CHUNK)
    try:
        cells = sim.Population(1, sim.LeakyIntegrator(i_offset=1.0))
        cells.record("v")
        original = _build.Network._dispatch

        def dispatch(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            return original(self, *args, **kwargs)

        _build.Network._dispatch = dispatch
        try:
            with pytest.raises(KeyboardInterrupt):
                sim.run(5.0)  # one chunk
        finally:
            _build.Network._dispatch = original
        assert sim.get_current_time() == pytest.approx(5.0)
        v = cells.get_data().segments[0].filter(name="v")[0].magnitude[:, 0]
        np.testing.assert_allclose(v, 1 - np.exp(-np.arange(51) * DT / 10.0), atol=1e-12)
    finally:
        sim.end()


def test_each_chunk_starts_before_the_last_ones_outputs_are_handled(monkeypatch):
    """The run loop launches chunk k + 1 (asynchronously, from chunk k's state) before it
    hands chunk k's outputs to the recorders, so that the host's work overlaps the
    engine's; the results are those of the plain loop (test above and `uninterrupted`)."""
    from pynn_leaky import engine

    events = []
    run_chunk, dispatch = engine.run_chunk, _build.Network._dispatch

    def launch(layout, params, state, k0, n):
        events.append(("launch", int(k0)))
        return run_chunk(layout, params, state, k0, n)

    def handle(self, outs, k0, n, *args, **kwargs):
        events.append(("dispatch", int(k0)))
        return dispatch(self, outs, k0, n, *args, **kwargs)

    monkeypatch.setattr(engine, "run_chunk", launch)
    monkeypatch.setattr(_build.Network, "_dispatch", handle)
    build()
    sim.run(30.0)  # 3 chunks
    assert events == [("launch", 0), ("launch", 100), ("dispatch", 0), ("launch", 200),
                      ("dispatch", 100), ("dispatch", 200)]
    sim.end()
