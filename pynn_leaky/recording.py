"""Recorder of pynn_leaky: host-side buffers filled chunk by chunk by the run loop.

PyNN's own ``pyNN.recording`` builds the Neo objects; this class only hands back
``(ids, times)`` for spikes and ``(values[n_samples, n_cells], None)`` for signals.

Files are written atomically: the Neo block goes to a temporary file in the target
directory, which then replaces the target (``os.replace``). An interrupted or failed
write leaves the old file (or none) under the target name, and no temporary file.
"""

import contextlib
import errno
import os
import tempfile

import neo
import numpy as np
import quantities as pq
from pyNN import errors, recording

from . import simulator

WRITERS = {".pkl": "pickle", ".pickle": "pickle", ".nix": "nix", ".h5": "nix"}
"""File extensions that write_data() accepts, and the Neo IO used for each."""


def _allowed():
    return ", ".join(WRITERS)


def check_filename(filename):
    """Raise InvalidParameterValueError unless `filename` ends in a supported extension."""
    extension = os.path.splitext(filename)[1]
    if extension not in WRITERS:
        raise errors.InvalidParameterValueError(
            f"cannot write recorded data to {filename!r}: file extension {extension!r} is not "
            f"supported; use one of {_allowed()}"
        )


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_block(block, filename):
    """Write a Neo Block to `filename` atomically (temporary file, then ``os.replace``).

    The parent directory is created if needed (as PyNN's ``get_io`` does). Any failure,
    including KeyboardInterrupt, removes the temporary file and leaves an existing
    `filename` untouched. OS errors are re-raised with the same type, naming the path.
    """
    path = os.fspath(filename)
    check_filename(path)
    kind = WRITERS[os.path.splitext(path)[1]]
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise NotADirectoryError(errno.ENOTDIR, f"{directory!r} is not a directory")
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
        os.close(fd)
        if kind == "pickle":
            neo.io.PickleIO(filename=tmp).write_block(block)
        else:
            io = neo.io.NixIO(filename=tmp, mode="ow")
            try:
                io.write_block(block)
            finally:
                io.close()
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise type(err)(
            err.errno,
            f"cannot write recorded data to {path!r}: {err.strerror or err}. Give a writable "
            f"path ending in one of {_allowed()}; recorded data is kept",
        ) from err
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class Recorder(recording.Recorder):
    _simulator = simulator

    def __init__(self, population, file=None):
        super().__init__(population, file)
        self._clear_buffers()

    @property
    def file(self):
        """Where end() writes the data (record(..., to_file=...)); checked when set."""
        return self._file

    @file.setter
    def file(self, value):
        if isinstance(value, (str, os.PathLike)):
            check_filename(os.fspath(value))
        self._file = value

    def write(self, variables, file=None, gather=False, filter_ids=None, clear=False,
              annotations=None, locations=None):
        """Write recorded data to a file (atomically) or to a Neo IO given by the caller.

        With a filename the data are written by :func:`write_block`; recorded data are
        cleared (``clear=True``) only after the file is in place. A Neo IO instance is
        written to as PyNN does (the caller owns that file).
        """
        target = file if file is not None else self.file
        if not isinstance(target, (str, os.PathLike)):
            return super().write(variables, target, gather, filter_ids, clear,
                                 annotations=annotations, locations=locations)
        check_filename(os.fspath(target))
        data = self.get(variables, gather, filter_ids, clear=False, annotations=annotations,
                        locations=locations)
        write_block(data, target)
        if clear:
            self.clear()

    def get(self, variables, gather=False, filter_ids=None, clear=False, annotations=None,
            locations=None):
        gather = simulator.state.gather(gather)
        return super().get(variables, gather, filter_ids, clear, annotations=annotations,
                           locations=locations)

    def count(self, variable, gather=True, filter_ids=None):
        gather = simulator.state.gather(gather)
        return super().count(variable, gather, filter_ids)

    def _clear_buffers(self):
        self._signals = {}  # variable name -> list of (ids, first step, values[n, len(ids)])
        self._spikes = []  # list of (ids, steps) arrays
        self._first_step = None  # first sample step of the signals in this window

    def record(self, variables, ids, sampling_interval=None, locations=None):
        if sampling_interval is not None:
            steps = sampling_interval / self._simulator.state.dt
            if not (np.isfinite(steps) and steps >= 1 - 1e-9 and abs(steps - round(steps)) < 1e-6):
                raise errors.InvalidParameterValueError(
                    f"sampling_interval = {sampling_interval!r} ms is not allowed: it must be a "
                    f"multiple of the time step ({self._simulator.state.dt} ms)"
                )
        names = [variables] if isinstance(variables, str) else list(variables)
        if names == ["all"]:
            names = list(self.population.celltype.recordable)
        for name in names:
            if not self.population.can_record(name):
                raise errors.RecordingError(name, self.population.celltype)
        super().record(names, ids, sampling_interval, locations)

    def _record(self, variable, new_ids, sampling_interval=None):
        if sampling_interval is not None:
            self.sampling_interval = sampling_interval
        self._simulator.state.mark_changed()

    @property
    def sampling_steps(self):
        return max(1, int(round(self.sampling_interval / self._simulator.state.dt)))

    # -- filled by the run loop ------------------------------------------------------
    def _start_window(self, step):
        if self._first_step is None:
            self._first_step = step
            self._recording_start_time = step * self._simulator.state.dt * pq.ms

    def _has_sample(self, name, ids, step):
        """Whether the samples of `name` already include `step` for all of `ids`."""
        blocks = self._signals.get(name)
        if not blocks:
            return False
        last_ids, first, values = blocks[-1]
        last = first + (values.shape[0] - 1) * self.sampling_steps
        return last == step and np.array_equal(last_ids, ids)

    def _add_samples(self, name, ids, first_step, values):
        if values.shape[0]:
            self._signals.setdefault(name, []).append((ids, first_step, values))

    def _add_spikes(self, ids, steps):
        if ids.size:
            self._spikes.append((ids, steps))

    def _discard_after(self, step):
        """Forget samples and spikes after `step` (those of a chunk that did not complete)."""
        s = self.sampling_steps
        for name, blocks in self._signals.items():
            kept = []
            for ids, first, values in blocks:
                if first <= step:
                    kept.append((ids, first, values[: (step - first) // s + 1]))
            self._signals[name] = kept
        self._spikes = [(ids[steps <= step], steps[steps <= step]) for ids, steps in self._spikes]

    # -- read by pyNN.recording ------------------------------------------------------
    def _get_spiketimes(self, ids, clear=False):
        all_ids, steps = self._spike_arrays()
        mask = np.isin(all_ids, np.asarray(ids, dtype=np.int64))
        all_ids, steps = all_ids[mask], steps[mask]
        state = self._simulator.state
        if state.spike_precision == "off_grid" and \
                getattr(self.population.celltype, "exact_spike_times", None):
            return all_ids, self.population.celltype.exact_spike_times(
                self.population, all_ids, steps, state.dt)
        return all_ids, steps * state.dt

    def _spike_arrays(self):
        if not self._spikes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (
            np.concatenate([i for i, _ in self._spikes]),
            np.concatenate([s for _, s in self._spikes]),
        )

    def _get_all_signals(self, variable, ids, clear=False):
        blocks = self._signals.get(variable.name, [])
        ids = np.asarray(ids, dtype=np.int64)
        if not blocks:
            return np.zeros((0, ids.size)), None
        s = self.sampling_steps
        first = self._first_step
        last = max(b[1] + (b[2].shape[0] - 1) * s for b in blocks)
        n = (last - first) // s + 1
        out = np.full((n, ids.size), np.nan)  # NaN where no block has a sample
        for block_ids, block_first, values in blocks:
            row0 = (block_first - first) // s
            rows = slice(row0, row0 + values.shape[0])
            if np.array_equal(block_ids, ids):  # the common case: a plain copy
                out[rows] = values
                continue
            cols = np.searchsorted(block_ids, ids)
            cols = np.minimum(cols, block_ids.size - 1)
            found = block_ids[cols] == ids
            out[rows, found] = values[:, cols[found]]
        return out, None

    def _local_count(self, variable, filter_ids=None):
        ids = np.fromiter(self.filter_recorded(variable, filter_ids), dtype=np.int64)
        all_ids, _ = self._spike_arrays()
        counts = np.bincount(np.searchsorted(np.sort(ids), all_ids[np.isin(all_ids, ids)]),
                             minlength=ids.size)
        return {int(i): int(c) for i, c in zip(np.sort(ids), counts)}

    def _clear_simulator(self):
        step = self._simulator.state.step
        kept = None
        if self._first_step is not None and step > 0:
            kept = self._last_samples(step)
        self._clear_buffers()
        if kept is not None:
            # The sample at the current time opens the new window (times stay exact).
            self._start_window(step)
            for name, (ids, values) in kept.items():
                self._add_samples(name, ids, step, values)

    def _last_samples(self, step):
        s = self.sampling_steps
        if (step - self._first_step) % s:
            return None
        kept = {}
        for name, blocks in self._signals.items():
            ids, first, values = blocks[-1]
            if first + (values.shape[0] - 1) * s == step:
                kept[name] = (ids, values[-1:].copy())
        return kept

    def _reset(self):
        self._clear_buffers()
        self._simulator.state.mark_changed()

    def store_to_cache(self, annotations=None):
        super().store_to_cache(annotations)
        self._clear_buffers()
