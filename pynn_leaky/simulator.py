"""Simulator state of pynn_leaky: time, settings, the network registry and the run loop.

Time is kept as an integer step counter; milliseconds exist only at this boundary.
"""

import signal
import sys
import threading
import time as _time

import numpy as np
from pyNN import common

from . import _warnings

name = "pynn_leaky"


class NumericalError(ArithmeticError):
    """The simulated state became non-finite (NaN or infinite)."""


class ID(int, common.IDMixin):
    """A cell's ID: an int (``int.__new__`` sets it; neither base needs an ``__init__``,
    whose call took 0.2 s per 10^6 cells)."""


class State(common.control.BaseState):
    """Global state: settings from setup(), objects of the network, the engine run."""

    def __init__(self):
        super().__init__()
        self.mpi_rank = 0
        self.num_processes = 1
        self.jax_processes = 1  # jax.process_count() at setup()
        self.initialized = False
        self.dt = 0.1
        self.min_delay = "auto"
        self.max_delay = "auto"
        self.rng_seed = 0
        self.precision = "float64"
        self.progress = True
        self.chunk_steps = 1000
        self.devices = None  # None: JAX's default device; else the list given to setup()
        self.stdp_history = 64  # postsynaptic spikes kept per cell for STDP
        self.spike_precision = "on_grid"  # "off_grid": SpikeSourceArrays record exact times
        self.clear()

    # -- registry --------------------------------------------------------------------
    def clear(self):
        """Forget the whole network (setup() and end())."""
        for source in getattr(self, "current_sources", []):
            if source.recording:
                # as on the other backends, a recorded current stays readable after end()
                source.__dict__["_final_trace"] = self.current_source_trace(source)
        self.populations = []
        self.projections = []
        self.current_sources = []
        self.recorders = set()
        self.write_on_end = []
        self.id_counter = 0
        self.segment_counter = -1
        self.network = None  # the engine-side network, built lazily at run()
        self.engine_state = None
        self.reset()

    # -- emulated partition -----------------------------------------------------------
    @property
    def emulated(self):
        """True in an emulated partition: one JAX process stands for rank ``mpi_rank`` of
        ``num_processes`` (``setup(num_processes=N, rank=r)``, or these attributes set
        directly, as PyNN's own unit tests do) and holds only that rank's share."""
        return self.num_processes > 1 and self.jax_processes == 1

    def local_mask(self, ids):
        """Which of the cells `ids` this process holds: all of them, or in an emulated
        partition those with ``id % num_processes == mpi_rank`` (round robin over IDs, as
        NEST and pyNN.mock distribute cells over MPI ranks)."""
        if not self.emulated:
            return np.ones(np.shape(ids), bool)
        return np.asarray(ids, dtype=np.int64) % self.num_processes == self.mpi_rank

    def gather(self, gather):
        """What PyNN's `gather` argument becomes: in an emulated partition there are no
        other ranks to gather from (PyNN would call MPI), so every gather gives this
        rank's share; otherwise unchanged."""
        return False if self.emulated else gather

    def mark_changed(self):
        """Something in the network changed: the engine data are rebuilt at the next run."""
        self.changed = True

    def reset(self):
        """Time and state back to their initial values; parameters and connections stay."""
        self.running = False
        self.step = 0
        self.t_start = 0
        self.segment_counter += 1
        self.engine_state = None
        self.changed = True
        for source in self.current_sources:
            # not getattr: a current source's __getattr__ raises a PyNN error
            source.__dict__.pop("_trace", None)
        for recorder in self.recorders:
            recorder._clear_buffers()
        for prj in getattr(self, "projections", ()):
            prj._live = None  # plastic synapses back to their initial values

    # -- time ------------------------------------------------------------------------
    @property
    def t(self):
        return self.step * self.dt

    @property
    def min_delay_or_dt(self):
        return self.dt if self.min_delay == "auto" else self.min_delay

    def steps_of(self, duration):
        """Number of whole steps in `duration` ms (rounded, with a tolerance of dt/1000)."""
        return int(np.rint(duration / self.dt))

    def effective_min_delay(self):
        if self.min_delay != "auto":
            return self.min_delay
        delays = [p._min_delay() for p in self.projections if len(p) > 0]
        return min(delays) if delays else self.dt

    def effective_max_delay(self):
        if self.max_delay != "auto":
            return self.max_delay
        delays = [p._max_delay() for p in self.projections if len(p) > 0]
        return max(delays) if delays else self.dt

    # -- running ---------------------------------------------------------------------
    def run(self, simtime):
        self.run_until(self.t + simtime)

    def run_until(self, tstop):
        if not self.initialized:
            raise RuntimeError("pynn_leaky: call setup() before running the simulation")
        # Negative durations are refused by control.run/run_until before reaching here.
        exact = (tstop - self.t) / self.dt
        n_steps = max(0, int(np.rint(exact)))
        if abs(exact - np.rint(exact)) > 1e-6:
            _warnings.warn(
                f"run until t = {tstop!r} ms: not on the time grid (dt = {self.dt} ms); the "
                f"simulation stops at the nearest step, t = {(self.step + n_steps) * self.dt:g} ms")
        from . import _build

        step0 = self.step
        traces = {id(s): _trace_length(s) for s in self.current_sources}
        try:
            with interrupts:
                _build.current(self)
                self.running = True
                self.network.start_recording(self)
                self.network.advance(self, n_steps)
        except BaseException:
            # The clock stands at the end of the last completed chunk: drop anything a
            # chunk that did not complete handed to the recorders.
            self._trim_recordings(step0, traces)
            raise

    def _trim_recordings(self, step0, traces):
        for recorder in self.recorders:
            recorder._discard_after(self.step)
        for source in self.current_sources:
            parts = source.__dict__.get("_trace")
            if parts:
                keep = traces[id(source)] + self.step - step0
                source.__dict__["_trace"] = [np.concatenate(parts)[:keep]]

    def current_source_trace(self, source):
        from . import _build

        return _build.current_source_trace(self, source)


def _trace_length(source):
    return sum(part.size for part in source.__dict__.get("_trace", []))


class DeferredInterrupts:
    """Hold Ctrl-C (SIGINT) during a run until the current chunk is committed.

    A KeyboardInterrupt in the middle of a chunk's commit could leave the engine state,
    the clock and the recordings out of step. While active, a first SIGINT is remembered
    and raised as KeyboardInterrupt at the next chunk boundary (:meth:`checkpoint`, called
    once a chunk is committed) or when the run ends; a second SIGINT raises at once (the
    run loop then trims the recordings back to the clock). Active only in the main thread
    and when SIGINT has Python's default handler (a user's own handler is left alone).
    """

    def __init__(self):
        self.pending = False
        self._previous = None

    def __enter__(self):
        self.pending = False
        self._previous = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def checkpoint(self):
        """A chunk is committed: raise the KeyboardInterrupt held back, if any."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, exc_type, exc, tb):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if self.pending:
            self.pending = False
            if exc_type is None:
                raise KeyboardInterrupt
        return False


interrupts = DeferredInterrupts()


class Progress:
    """A one-line progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, enabled, total_steps, dt):
        self.enabled = enabled and total_steps > 0 and sys.stderr.isatty()
        self.total, self.dt, self.t0 = total_steps, dt, _time.perf_counter()

    def update(self, done):
        """Called by the run loop once a chunk is committed (also an interrupt point)."""
        try:
            interrupts.checkpoint()
        except KeyboardInterrupt:
            if self.enabled:
                sys.stderr.write("\n")
            raise
        if not self.enabled:
            return
        frac = done / self.total
        bar = "#" * int(30 * frac)
        elapsed = _time.perf_counter() - self.t0
        sys.stderr.write(
            f"\rpynn_leaky [{bar:<30}] {100 * frac:5.1f}% "
            f"{done * self.dt:.1f}/{self.total * self.dt:.1f} ms {elapsed:.1f} s"
        )
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


state = State()
