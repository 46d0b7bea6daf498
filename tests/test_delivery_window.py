"""Spikes delivered once per minimum-delay interval (the engine's window) give exactly the
results of delivery at every step.

The reference run differs only by one extra projection of zero weight and a one-step
delay: it adds nothing to any input (x + 0.0 == x) but brings the minimum delay, and with
it the delivery interval, down to one step.
"""

import jax
import numpy as np
import pytest

import pynn_leaky as sim


@pytest.fixture(autouse=True)
def _window_on_any_platform(monkeypatch):
    # The default interval depends on the platform (1 on GPUs): ask for it explicitly.
    monkeypatch.setenv("PYNN_LEAKY_DELIVERY_INTERVAL", "16")


def _network(every_step, seed=3):
    sim.setup(timestep=0.1, min_delay=0.1, rng_seed=seed, progress=False)
    # 3 kHz: several spikes of one source in one step happen (counts > 1).
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=3000.0))
    exc = sim.Population(40, sim.IF_curr_exp(i_offset=0.1))
    out = sim.Population(10, sim.LeakyIntegrator(R=20.0, tau=15.0))
    rng = sim.NumpyRNG(8)
    delays = np.random.default_rng(5)
    for pre, post, conn, w, receptor in (
            (src, exc, sim.FixedProbabilityConnector(0.2, rng=rng), 0.05, "excitatory"),
            (exc, exc, sim.FixedProbabilityConnector(0.2, rng=rng), -0.4, "inhibitory"),
            (exc, out, sim.AllToAllConnector(), 0.1, "excitatory")):
        prj = sim.Projection(pre, post, conn, sim.StaticSynapse(weight=w, delay=1.0),
                             receptor_type=receptor)
        prj.set(delay=np.round(delays.uniform(1.0, 3.3, len(prj)), 1))  # on the grid
    if every_step:
        sim.Projection(src, out, sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=0.0, delay=0.1))
    exc.record("spikes")
    out.record("v")
    return exc, out


@pytest.fixture(params=["0", "1"], ids=["condition", "window_blocks"])
def blocks(request, monkeypatch):
    """Both loop forms of a window: a per-step condition, and whole windows as blocks."""
    monkeypatch.setenv("PYNN_LEAKY_WINDOW_BLOCKS", request.param)
    return request.param == "1"


def _interval():
    return sim.simulator.state.network.layout.interval


def _results(exc, out, segment=0):
    v = out.get_data().segments[segment].filter(name="v")[0].magnitude
    spikes = [np.asarray(s) for s in exc.get_data().segments[segment].spiketrains]
    return v, spikes


@pytest.mark.parametrize("durations", [(100.0,), (23.7, 0.1, 51.1, 25.0)])
def test_delivery_per_interval_equals_delivery_per_step(durations, blocks):
    runs = {}
    for every_step in (False, True):
        exc, out = _network(every_step)
        for d in durations:  # runs ending inside an interval leave spikes undelivered
            sim.run(d)
        assert sim.simulator.state.network.layout.window_blocks == blocks
        runs[every_step] = (_interval(), *_results(exc, out))
        sim.end()
    (d_window, v_window, s_window), (d_step, v_step, s_step) = runs[False], runs[True]
    assert (d_window, d_step) == (10, 1)  # 1.0 ms / 0.1 ms: ten steps per delivery
    assert sum(len(s) for s in s_step) > 50
    np.testing.assert_array_equal(v_window, v_step)
    assert all(np.array_equal(a, b) for a, b in zip(s_window, s_step))


def test_batched_trials_deliver_per_interval_too(blocks):
    results = {}
    for every_step in (False, True):
        exc, out = _network(every_step)
        sim.run(7.3)  # the trials start inside an interval
        data = sim.run_trials(40.0, rng_seeds=[1, 2])
        assert sim.simulator.state.network.layout.window_blocks == blocks
        results[every_step] = [
            (data[out].segments[i].filter(name="v")[0].magnitude,
             [np.asarray(s) for s in data[exc].segments[i].spiketrains]) for i in range(2)]
        sim.end()
    for (v_a, s_a), (v_b, s_b) in zip(results[False], results[True]):
        np.testing.assert_array_equal(v_a, v_b)
        assert all(np.array_equal(a, b) for a, b in zip(s_a, s_b))
    assert not np.array_equal(results[False][0][0], results[False][1][0])  # seeds differ


@pytest.mark.parametrize("every_step", [False, True], ids=["window", "per_step"])
def test_any_number_of_spikes_per_delivery_batch_gives_the_same_run(monkeypatch, blocks,
                                                                    every_step):
    # 1: several batches per step or window (a loop); 64: one batch holds all spikes
    # (as on a GPU), most lanes empty. The CPU's choice is the reference.
    from pynn_leaky.engine import _synapses

    runs = {}
    for k in ("", "1", "64"):
        monkeypatch.setenv("PYNN_LEAKY_SPIKES_PER_BATCH", k)
        exc, out = _network(every_step)
        sim.run(23.7)
        sim.run(30.0)
        trials = sim.run_trials(20.0, rng_seeds=[4, 5])
        layout = sim.simulator.state.network.layout
        assert layout.spikes_per_batch == (int(k) if k else _synapses.spikes_per_batch(
            layout.synapses.max_fanout, gpu=jax.default_backend() != "cpu"))
        runs[k] = (*_results(exc, out), [
            (trials[out].segments[i].filter(name="v")[0].magnitude,
             [np.asarray(s) for s in trials[exc].segments[i].spiketrains]) for i in range(2)])
        sim.end()
    v0, s0, t0 = runs.pop("")
    assert sum(len(s) for s in s0) > 50
    for v, spikes, trials in runs.values():
        np.testing.assert_array_equal(v, v0)
        assert all(np.array_equal(a, b) for a, b in zip(spikes, s0))
        for (v_a, s_a), (v_b, s_b) in zip(trials, t0):
            np.testing.assert_array_equal(v_a, v_b)
            assert all(np.array_equal(a, b) for a, b in zip(s_a, s_b))


def test_the_gpu_fills_a_delivery_batch_the_cpu_keeps_it_small():
    from pynn_leaky.engine._synapses import GPU_LANES, spikes_per_batch

    assert [spikes_per_batch(f) for f in (1, 32, 100, 600, 5000)] == [16, 16, 5, 3, 1]
    assert [spikes_per_batch(f, gpu=True) for f in (1, 1100, GPU_LANES, 10**5)] == [
        256, GPU_LANES // 1100, 1, 1]


def test_a_gpu_runs_whole_windows_as_blocks_with_full_batches(monkeypatch):
    # The layout a GPU would choose, run here on the CPU: the same results as the CPU's.
    from pynn_leaky import _build
    from pynn_leaky.engine import _synapses

    monkeypatch.delenv("PYNN_LEAKY_DELIVERY_INTERVAL")
    runs = {}
    for backend in ("cpu", "gpu"):
        monkeypatch.setattr(_build.jax, "default_backend", lambda b=backend: b)
        exc, out = _network(False)
        sim.run(31.4)
        layout = sim.simulator.state.network.layout
        runs[backend] = (layout, *_results(exc, out))
        sim.end()
    (cpu, v_cpu, s_cpu), (gpu, v_gpu, s_gpu) = runs["cpu"], runs["gpu"]
    fmax = cpu.synapses.max_fanout
    assert (cpu.window_blocks, cpu.interval) == (False, 10)
    assert cpu.spikes_per_batch == _synapses.spikes_per_batch(fmax) <= 16
    assert (gpu.window_blocks, gpu.interval) == (True, 10)
    assert gpu.spikes_per_batch == min(256, _synapses.GPU_LANES // fmax) > 16
    np.testing.assert_array_equal(v_gpu, v_cpu)
    assert all(np.array_equal(a, b) for a, b in zip(s_gpu, s_cpu))


def _resume_from_step_123(path, monkeypatch, **env):
    """Save at step 123 (inside an interval: the spikes of 120-122 were delivered early),
    load into a fresh simulator (with the settings ``env``) and run on; compare with an
    uninterrupted run."""
    exc, out = _network(False)
    sim.run(42.3)
    v_whole, s_whole = _results(exc, out)
    sim.end()
    exc, out = _network(False)
    sim.run(12.3)
    assert _interval() == 10
    sim.save_state(path)
    sim.end()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    exc, out = _network(False)  # a fresh simulator, the same script
    sim.load_state(path)
    sim.run(30.0)
    v, spikes = _results(exc, out)
    np.testing.assert_array_equal(v, v_whole[123:])
    tail = [s[s > 12.3 + 1e-9] for s in s_whole]
    assert sum(len(s) for s in tail) > 10
    assert all(np.array_equal(a, b) for a, b in zip(spikes, tail))


def test_checkpoint_inside_an_interval_resumes_exactly(tmp_path, monkeypatch, blocks):
    _resume_from_step_123(str(tmp_path / "mid.npz"), monkeypatch)
    sim.end()


def test_a_checkpoint_loads_under_another_interval_and_loop_setting(tmp_path, monkeypatch):
    _resume_from_step_123(str(tmp_path / "mid.npz"), monkeypatch,
                          PYNN_LEAKY_DELIVERY_INTERVAL="1", PYNN_LEAKY_STEPS_PER_SYNC="4")
    assert _interval() == 1
    sim.end()


def test_a_checkpoint_loads_with_window_blocks_turned_on(tmp_path, monkeypatch):
    _resume_from_step_123(str(tmp_path / "mid.npz"), monkeypatch,
                          PYNN_LEAKY_WINDOW_BLOCKS="1")
    assert sim.simulator.state.network.layout.window_blocks
    sim.end()


@pytest.mark.parametrize("name", ["PYNN_LEAKY_DELIVERY_INTERVAL", "PYNN_LEAKY_SPIKES_PER_BATCH"])
@pytest.mark.parametrize("value", ["ten", "0", "-3"])
def test_a_bad_interval_or_batch_setting_is_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    _network(False)
    with pytest.raises(sim.errors.InvalidParameterValueError,
                       match=f"{name} = '{value}' is not allowed.*integer >= 1"):
        sim.run(1.0)
    sim.end()


def test_a_bad_window_blocks_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("PYNN_LEAKY_WINDOW_BLOCKS", "yes")
    _network(False)
    with pytest.raises(sim.errors.InvalidParameterValueError,
                       match="PYNN_LEAKY_WINDOW_BLOCKS = 'yes' is not allowed: use 1 .*0"):
        sim.run(1.0)
    sim.end()


def test_an_empty_setting_means_the_default(monkeypatch):
    monkeypatch.delenv("PYNN_LEAKY_DELIVERY_INTERVAL")
    _network(False)
    sim.run(1.0)
    default = _interval()
    sim.end()
    monkeypatch.setenv("PYNN_LEAKY_DELIVERY_INTERVAL", "")
    monkeypatch.setenv("PYNN_LEAKY_STEPS_PER_SYNC", " ")
    _network(False)
    sim.run(1.0)
    assert _interval() == default
    assert sim.simulator.state.network.layout.steps_per_sync == 1
    sim.end()


def test_loop_checked_every_few_steps_gives_the_same_run(monkeypatch):
    results = []
    for blocks in ("1", "4"):
        monkeypatch.setenv("PYNN_LEAKY_STEPS_PER_SYNC", blocks)
        exc, out = _network(False)
        for d in (23.7, 0.3, 31.0):  # lengths that are and are not multiples of 4 steps
            sim.run(d)
        results.append(_results(exc, out))
        assert sim.simulator.state.network.layout.steps_per_sync == int(blocks)
        sim.end()
    (v_a, s_a), (v_b, s_b) = results
    np.testing.assert_array_equal(v_a, v_b)
    assert all(np.array_equal(a, b) for a, b in zip(s_a, s_b))


def _readout():
    """Poisson sources onto spiking cells with no outgoing synapses (empty CSR rows),
    and onto leaky integrators; spikes and v recorded, 150 ms in two runs."""
    sim.setup(timestep=0.1, rng_seed=2, progress=False)
    src = sim.Population(50, sim.SpikeSourcePoisson(rate=300.0))
    mid = sim.Population(30, sim.IF_curr_exp(i_offset=0.5, tau_refrac=1.0))
    leaky = sim.Population(5, sim.LeakyIntegrator(R=20.0, tau=15.0))
    rng = sim.NumpyRNG(4)
    sim.Projection(src, mid, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.2, delay=0.7))
    sim.Projection(src, leaky, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01,
                                                                           delay=1.3))
    out = sim.Population(20, sim.IF_curr_exp(i_offset=1.2, tau_refrac=1.0))  # unconnected
    out.record("spikes")
    mid.record("spikes")
    leaky.record("v")
    sim.run(70.0)
    sim.run(80.0)
    return mid, leaky


@pytest.mark.parametrize("interval", ["1", "5"])
def test_spikes_of_cells_without_synapses_are_left_out_and_change_nothing(
        monkeypatch, interval):
    from pynn_leaky.engine import _synapses

    monkeypatch.setenv("PYNN_LEAKY_DELIVERY_INTERVAL", interval)
    sim.setup(timestep=0.1)  # every spiking index has synapses: no mask
    src = sim.Population(5, sim.SpikeSourcePoisson(rate=100.0))
    sim.Projection(src, sim.Population(3, sim.LeakyIntegrator()), sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=0.1, delay=1.0))
    sim.run(1.0)
    assert not sim.simulator.state.network.layout.skip_empty_rows
    sim.end()
    runs, mask = [], _synapses.with_synapses
    for skip in (True, False):
        jax.clear_caches()  # trace again with or without the mask
        _synapses._event_delivery.cache_clear()
        traced = []
        monkeypatch.setattr(_synapses, "with_synapses",
                            lambda counts, row_ptr, skip=skip, traced=traced: (
                                traced.append(skip) or (mask(counts, row_ptr) if skip
                                                        else counts)))
        mid, leaky = _readout()
        assert traced  # the delivery went through it
        layout = sim.simulator.state.network.layout
        assert layout.skip_empty_rows and layout.interval == int(interval)
        seg = mid.get_data().segments[0]
        runs.append(([np.asarray(s) for s in seg.spiketrains],
                     np.asarray(leaky.get_data().segments[0].analogsignals[0])))
        sim.end()
    monkeypatch.undo()
    jax.clear_caches()
    _synapses._event_delivery.cache_clear()
    (spikes_a, v_a), (spikes_b, v_b) = runs
    assert sum(s.size for s in spikes_a) > 100
    for a, b in zip(spikes_a, spikes_b):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(v_a, v_b)


# 4 words (all compared), 157, 129 (one past), 4096 (whole blocks of 64) and 2^16 + 3
# words (a partial last block): found in two levels; spikes dense, sparse, or in runs
@pytest.mark.parametrize("n, p", [(100, 0.05), (5000, 0.05), (129 * 32 - 5, 0.5),
                                  (4096 * 32, 0.001), ((2**16 + 3) * 32 - 31, 0.0003),
                                  (5000, 1.0)])
def test_the_jth_spiking_cell_is_found_in_index_order(n, p):
    from pynn_leaky.engine import _synapses

    rng = np.random.default_rng(n)
    counts = (rng.random(n) < p) * rng.integers(1, 4, n)
    if p < 0.01:
        counts[n // 3 : n // 3 + 500] = 1  # a run of spiking cells in one block
        counts[-1] = 2  # the last cell
    bits = _synapses._SpikeBits(jax.numpy.asarray(counts, jax.numpy.int32))
    expected = np.flatnonzero(counts)
    assert int(bits.total) == expected.size
    found = jax.jit(bits.select)(jax.numpy.arange(expected.size, dtype=jax.numpy.int32))
    np.testing.assert_array_equal(np.asarray(found), expected)
    assert (-(-n // 32) > _synapses._COMPARE_ALL) == (n > 100)


def test_row_writes_and_slot_operations_under_vmap_equal_each_trial_alone():
    from pynn_leaky.engine import _network, _synapses

    jnp = jax.numpy
    rng = np.random.default_rng(1)
    buf = jnp.asarray(rng.random((3, 6, 4)))  # 3 trials of a (6, 4) buffer
    row = jnp.asarray(rng.random((3, 4)))
    ring = jnp.asarray(rng.random((3, 12)))  # 3 trials of a ring of 4 slots of 3 values
    read, clear = _synapses._slot_ops(3, "event")
    for i in (jnp.int32(2), jnp.asarray([0, 5, 2], jnp.int32)):  # shared, per trial
        each = np.broadcast_to(np.asarray(i), (3,))
        got = jax.jit(jax.vmap(_network.put_row, in_axes=(0, 0, 0 if i.ndim else None)))(
            buf, row, i)
        want = [np.asarray(buf[b]).copy() for b in range(3)]
        for b in range(3):
            want[b][each[b]] = row[b]
        assert np.array_equal(np.asarray(got), np.stack(want))
        start = 3 * (i % 4)
        axes = (0, 0 if i.ndim else None)
        got_read = jax.jit(jax.vmap(read, in_axes=axes))(ring, start)
        got_clear = jax.jit(jax.vmap(clear, in_axes=axes))(ring, start)
        for b in range(3):
            s = 3 * (each[b] % 4)
            assert np.array_equal(np.asarray(got_read[b]), np.asarray(ring[b, s:s + 3]))
            cleared = np.asarray(ring[b]).copy()
            cleared[s:s + 3] = 0
            assert np.array_equal(np.asarray(got_clear[b]), cleared)
        # unbatched buffer, batched row: the buffer is broadcast to every trial
        got = jax.jit(jax.vmap(_network.put_row, in_axes=(None, 0, None)))(buf[0], row, 1)
        assert np.array_equal(np.asarray(got[:, 1]), np.asarray(row))
        assert np.array_equal(np.asarray(got[:, 0]), np.broadcast_to(buf[0, 0], (3, 4)))
