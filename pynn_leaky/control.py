"""setup(), end(), run() and friends."""

import math
import os

import jax
import numpy as np
from pyNN import common, errors

from . import _compile_cache, _warnings, simulator

PRECISIONS = ("float64", "float32")

MISSPELLED = {"dt": "timestep", "time_step": "timestep", "mindelay": "min_delay",
              "maxdelay": "max_delay"}
"""Likely misspellings of setup()'s own arguments, refused (as PyNN does) rather than
ignored with the options of other backends."""


def _is_int(value):
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _count(name, value):
    """``value`` as an int >= 1, or InvalidParameterValueError naming ``name``."""
    if not (_is_int(value) and value >= 1):
        raise errors.InvalidParameterValueError(
            f"{name} = {value!r} is not allowed: it must be an integer >= 1")
    return int(value)


def _positive(name, value):
    try:
        ok = math.isfinite(value) and value > 0
    except TypeError:
        ok = False
    if not ok:
        raise errors.InvalidParameterValueError(
            f"{name} = {value!r} is not allowed: {name} must be a finite number > 0 (ms)"
        )


def setup(timestep=0.1, min_delay="auto", max_delay="auto", rng_seed=None,
          precision="float64", progress=True, chunk_steps=1000, devices=None,
          **extra_params):
    """Initialise (or re-initialise) pynn_leaky; any existing network is destroyed.

    Parameters
    ----------
    timestep : float
        Integration step (ms), > 0.
    min_delay, max_delay : float or 'auto'
        Allowed range of synaptic delays (ms). 'auto': from the time step up to the
        largest delay used.
    rng_seed : int, optional
        Seed of every random process of the engine (Poisson sources, noise).
    precision : 'float64' or 'float32'
        Arithmetic of the engine; float64 (default) agrees with NEST to 1e-6 mV,
        float32 is the speed option.
    progress : bool
        Show a progress bar on stderr (only when it is a terminal).
    chunk_steps : int
        Largest number of steps per compiled chunk (recorded data reach the host per chunk).
    devices : int, sequence of jax devices, or None
        Spread the network over several devices (``jax.sharding``): an int N takes the
        first N devices of JAX's default platform. None: one (the default) device.
        ``run_trials`` splits its trials over these devices instead. On a CPU, an int
        given before JAX has started also presents the CPU as N devices (each runs on a
        core of its own; see README "Several devices").
    extra_params
        ``spike_precision`` ('on_grid', default, or 'off_grid': SpikeSourceArrays then
        record the exact times given; neurons stay on the grid). ``stdp_history`` (int,
        default 64): postsynaptic spikes kept per cell for STDP
        pairing (at least the delay ring's length is kept; older ones are applied to the
        synapses that still need them when dropped, see README). ``threads`` (int >= 1,
        as pyNN.nest's; default DEFAULT_THREADS = 1, or ``NPROC`` if set): worker threads
        of JAX's CPU runtime; it takes effect only if JAX has not run anything yet in this
        process (see README "Threads"). Compiled programs are cached on disk across
        processes (``PYNN_LEAKY_COMPILE_CACHE``, read at the first setup(); see README
        "Compile cache"). Options of
        other backends are accepted and ignored; the common misspellings
        ``dt``, ``time_step``, ``mindelay``, ``maxdelay`` raise TypeError.
        ``num_processes`` (int >= 1) and ``rank`` (0 <= rank < num_processes) select an
        *emulated partition*, as pyNN.mock has: this single process stands for MPI rank
        ``rank`` of ``num_processes``. It then holds, and simulates, only that rank's share
        of the network, exactly what one rank of an MPI run would hold: the cells with
        ``ID % num_processes == rank`` (their parameters, state and recordings) and the
        connections onto them (built by PyNN's connector code, drawing random numbers as
        pyNN.mock does). The other ranks do not exist: spikes of presynaptic cells held by
        them never arrive, and ``gather`` (get, get_data, ...) gives this rank's share.
        It is a tool for checking what one rank builds and does, not for running a model
        (``run_trials`` and ``differentiable`` refuse it). Without
        these arguments ``num_processes()`` and ``rank()`` are JAX's process count and
        index (``jax.distributed``), and every process holds every cell.
    """
    for wrong, right in MISSPELLED.items():
        if wrong in extra_params:
            raise TypeError(
                f"setup() got an unexpected keyword argument {wrong!r}: did you mean {right!r}?"
            )
    _positive("timestep", timestep)
    for name, value in (("min_delay", min_delay), ("max_delay", max_delay)):
        if value != "auto":
            _positive(name, value)
    if min_delay != "auto" and min_delay < timestep * (1 - 1e-9):
        raise errors.InvalidParameterValueError(
            f"min_delay = {min_delay!r} ms is not allowed: it must be >= timestep = {timestep} ms"
        )
    if min_delay != "auto" and max_delay != "auto" and max_delay < min_delay:
        raise errors.InvalidParameterValueError(
            f"max_delay = {max_delay!r} ms is not allowed: it must be >= min_delay = {min_delay} ms"
        )
    if precision not in PRECISIONS:
        raise errors.InvalidParameterValueError(
            f"precision = {precision!r} is not allowed: precision must be one of {PRECISIONS}"
        )
    chunk_steps = _count("chunk_steps", chunk_steps)
    precision_of_spikes = extra_params.get("spike_precision", "on_grid")
    if precision_of_spikes not in ("on_grid", "off_grid"):
        raise errors.InvalidParameterValueError(
            f"spike_precision = {precision_of_spikes!r} is not allowed: use 'on_grid' or "
            "'off_grid'")
    history = _count("stdp_history", extra_params.get("stdp_history", 64))
    # Starting JAX cannot be undone: the threads come after the checks that need no JAX,
    # before anything that starts it (devices, partition).
    _cpu_devices(devices)
    _threads(extra_params.get("threads"))
    _compile_cache.configure(cpu_threads())
    devices = device_list(devices)
    if precision_of_spikes == "off_grid":
        _warnings.warn(
            "spike_precision='off_grid': pynn_leaky has no precise-spike-time neuron models; "
            "neurons stay on the time grid, and SpikeSourceArrays record the exact times "
            "they were given (their spikes act at the end of the step they fall in)")
    processes, rank = _partition(extra_params)
    if rng_seed is None:
        rng_seed = extra_params.get("seed", 0)
    jax.config.update("jax_enable_x64", True)
    state = simulator.state
    state.clear()
    state.initialized = True
    state.dt = float(timestep)
    state.min_delay = min_delay if min_delay == "auto" else float(min_delay)
    state.max_delay = max_delay if max_delay == "auto" else float(max_delay)
    state.rng_seed = int(rng_seed)
    state.precision = precision
    state.progress = bool(progress)
    state.chunk_steps = chunk_steps
    state.devices = devices
    state.stdp_history = history
    state.spike_precision = precision_of_spikes
    # Several processes (jax.distributed.initialize() called before setup()) answer truthfully.
    state.jax_processes = jax.process_count()
    state.mpi_rank = jax.process_index() if rank is None else rank
    state.num_processes = state.jax_processes if processes is None else processes
    return state.mpi_rank


def _partition(extra_params):
    """(num_processes, rank) of an emulated partition given to setup(), or (None, None)."""
    processes = extra_params.get("num_processes")
    rank = extra_params.get("rank")
    if processes is None and rank is None:
        return None, None
    processes = 1 if processes is None else processes
    rank = 0 if rank is None else rank
    processes = _count("num_processes", processes)
    if not (_is_int(rank) and 0 <= rank < processes):
        raise errors.InvalidParameterValueError(
            f"rank = {rank!r} is not allowed: it must be an integer in 0..{processes - 1} "
            f"(num_processes = {processes})"
        )
    if jax.process_count() > 1:
        raise errors.InvalidParameterValueError(
            f"num_processes = {processes!r}, rank = {rank!r} is not allowed with "
            f"jax.distributed ({jax.process_count()} processes): an emulated partition "
            "needs a single JAX process; the real process count and index are used otherwise"
        )
    return int(processes), int(rank)


_started_threads = [None]  # threads given to the first setup() that started JAX
_started_by_default = [False]  # ... when that setup() gave none (DEFAULT_THREADS)

DEFAULT_THREADS = 1
"""Worker threads of JAX's CPU runtime when the first ``setup()`` gives none and ``NPROC``
is not set. XLA's threads split single array operations, and the handovers cost more than
they gain for the engine's operations of tens of microseconds: on 2 cores one thread ran
W3 (10^5 cells) 1.75 -> 1.32 s, W5 0.60 -> 0.47 s, W2c 2.71 -> 2.20 s, W1 and W2 3-10 %
faster, and W3 at 10^6 cells equally fast (README "Threads")."""


def _threads(threads):
    """Start JAX's backends with ``threads`` worker threads in the CPU runtime (XLA reads
    them from ``NPROC`` when its CPU client starts, once per process); warn when JAX has
    already started with another number. None: DEFAULT_THREADS if this starts JAX and
    the environment sets no ``NPROC``, else nothing."""
    default = threads is None
    if default:
        if _jax_started() is not False or "NPROC" in os.environ:
            return
        threads = DEFAULT_THREADS
    threads = _count("threads", threads)
    started = _jax_started()
    if started is False or (started is None and _started_threads[0] is None):
        before = os.environ.get("NPROC")
        os.environ["NPROC"] = str(threads)
        try:
            jax.devices()  # starts the backends: the CPU client reads NPROC now
        finally:
            if before is None:
                del os.environ["NPROC"]
            else:
                os.environ["NPROC"] = before
        if started is False:
            _started_threads[0], _started_by_default[0] = threads, default
        return
    running = cpu_threads()
    if started and running != threads:
        how = "" if not _started_threads[0] else " (pynn_leaky's default)" \
            if _started_by_default[0] else f" (setup(threads={running}))"
        _warnings.warn(
            f"threads = {threads} has no effect: JAX's CPU runtime was already started in "
            f"this process with {running} thread(s){how}; it can only be chosen before JAX "
            f"runs anything, e.g. in the first setup() of the script or with NPROC={threads} "
            "in the environment")


def cpu_threads():
    """The worker threads of JAX's CPU runtime in this process: those pynn_leaky started
    it with, else XLA's own choice (``NPROC`` if set, else the cores available)."""
    return _started_threads[0] or _default_threads()


def _cpu_devices(devices):
    """``devices`` = N > 1 given before JAX has started: present the CPU as N devices
    (``jax_num_cpu_devices``), unless the user chose a number (that option, or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``). Each CPU device runs
    its programs on a core of its own, so batched trials spread over them run in
    parallel. Other platforms (GPUs) are not affected."""
    if not (_is_int(devices) and devices > 1) or _jax_started() is not False:
        return
    if jax.config.jax_num_cpu_devices >= 0 or \
            "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    jax.config.update("jax_num_cpu_devices", int(devices))


def _jax_started():
    """Whether JAX has started its backends (None if this JAX does not say)."""
    try:
        from jax._src import xla_bridge  # no public API tells
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return None


def _default_threads():
    """The worker threads XLA gives its CPU client when pynn_leaky did not choose them:
    ``NPROC`` if set, else the cores this process may run on."""
    try:
        return int(os.environ["NPROC"])
    except (KeyError, ValueError):
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def device_list(devices):
    """The devices chosen by ``devices`` (int N, a sequence of jax devices, or None);
    InvalidParameterValueError for a bad choice."""
    if devices is None:
        return None
    available = jax.devices()
    if _is_int(devices):
        if not 1 <= devices <= len(available):
            cpu = available[0].platform == "cpu" and devices > 1
            raise errors.InvalidParameterValueError(
                f"devices = {devices!r} is not allowed: JAX sees {len(available)} "
                f"{available[0].platform} device(s); give 1..{len(available)} or a list"
                + ("; a CPU is presented as several devices only by a setup(devices=N) "
                   "that comes before JAX has started (the first setup() of the script), "
                   "or with XLA_FLAGS=--xla_force_host_platform_device_count=N" if cpu else "")
            )
        return list(available[:devices])
    devices = list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise errors.InvalidParameterValueError(
            f"devices = {devices!r} is not allowed: give an int or a list of jax devices"
        )
    return devices


def end(compatible_output=True):
    """Write the data requested with record(..., to_file=...) and forget the network.

    Data recorded so far stay readable with ``get_data()`` (in the segment that end()
    closed), as do recorded currents of current sources.

    Each file is written atomically. If a write fails, the error propagates and the
    network and its recorded data are kept: get_data()/write_data() still work, and
    end() again retries the writes not yet done.
    """
    state = simulator.state
    while state.write_on_end:
        population, variables, filename = state.write_on_end[0]
        population.write_data(filename, variables)
        state.write_on_end.pop(0)
    state.write_on_end = []
    if state.running:
        # The current segment ends here; the recorded data stay readable (get_data) after
        # end(), as on PyNN's other backends.
        for recorder in state.recorders:
            recorder.store_to_cache()
    state.clear()
    state.initialized = False


_run, _run_until = common.build_run(simulator)


def _check_time(name, value):
    try:
        ok = math.isfinite(value)
    except TypeError:
        ok = False
    if not ok or (name == "simtime" and value < 0):
        raise errors.InvalidParameterValueError(
            f"{name} = {value!r} is not allowed: it must be a finite number"
            + (" >= 0 (ms)" if name == "simtime" else " (ms), not before the current time")
        )


def run(simtime, callbacks=None):
    _check_time("simtime", simtime)
    return _run(simtime, callbacks)


def run_until(time_point, callbacks=None):
    _check_time("time_point", time_point)
    return _run_until(time_point, callbacks)


run.__doc__, run_until.__doc__ = _run.__doc__, _run_until.__doc__
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize

(get_current_time, get_time_step, _get_min_delay, _get_max_delay, num_processes,
 rank) = common.build_state_queries(simulator)


def get_min_delay():
    """Smallest allowed synaptic delay (ms): setup's value, or with 'auto' the smallest in use."""
    return simulator.state.effective_min_delay()


def get_max_delay():
    """Largest allowed synaptic delay (ms): setup's value, or with 'auto' the largest in use."""
    return simulator.state.effective_max_delay()
