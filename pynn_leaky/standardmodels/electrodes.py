"""Current sources: DCSource, StepCurrentSource, ACSource, NoisyCurrentSource.

The amplitude a source has at t_k is held over (t_k, t_k + dt]: a source starting at
``start`` first changes v at ``start + dt`` (PyNN's convention, as on pyNN.nest).
"""

import numpy as np
from pyNN import errors
from pyNN.common import Assembly, Population, PopulationView
from pyNN.parameters import ParameterSpace, Sequence
from pyNN.standardmodels import StandardCurrentSource, build_translations, electrodes

from .. import simulator


class _CurrentSource(StandardCurrentSource):
    """Stores its parameters on the host; the engine evaluates them each step."""

    kind = None  # "step", "ac" or "noisy": which engine table holds it

    def __init__(self, **parameters):
        object.__setattr__(self, "_native", {})
        object.__setattr__(self, "cells", [])
        object.__setattr__(self, "recording", False)
        super().__init__(**parameters)
        ps = ParameterSpace(self.default_parameters, self.get_schema(), shape=(1,))
        ps.update(**parameters)
        self.set_native_parameters(self.translate(ps))
        simulator.state.current_sources.append(self)
        simulator.state.mark_changed()

    def set_native_parameters(self, parameters):
        parameters.evaluate(simplify=True)
        values = {}
        for name, value in parameters.items():
            if isinstance(value, Sequence):
                value = value.value
            values[name] = np.asarray(value, dtype=float) if np.ndim(value) else float(value)
        merged = dict(self._native, **values)
        self._validate(merged)
        self._native.update(values)
        simulator.state.mark_changed()

    def get_native_parameters(self):
        # No shape: a source is one object, and array parameters (StepCurrentSource's
        # times and amplitudes) are read back as whole arrays.
        return ParameterSpace(dict(self._native))

    def _validate(self, p):
        for name, value in p.items():
            if not np.all(np.isfinite(value)):
                raise errors.InvalidParameterValueError(
                    f"{type(self).__name__}.{name} = {value!r} is not allowed: it must be finite"
                )
        if "start" in p and "stop" in p and p["start"] < 0:
            raise errors.InvalidParameterValueError(
                f"{type(self).__name__}.start = {p['start']!r} is not allowed: start must be >= 0"
            )

    def inject_into(self, cells):
        if isinstance(cells, (Population, PopulationView, Assembly)):
            cells = list(cells)
        for cell in cells:
            if not cell.celltype.injectable:
                raise TypeError(
                    f"Can't inject current into cell {int(cell)} of type "
                    f"{type(cell.celltype).__name__}: it is a spike source"
                )
        self.cells.extend(cells)
        simulator.state.mark_changed()

    def record(self):
        object.__setattr__(self, "recording", True)
        simulator.state.mark_changed()

    def _get_data(self):
        if self in simulator.state.current_sources:
            return simulator.state.current_source_trace(self)
        # end() or setup() since the run: the trace kept when the network was dropped
        return self.__dict__.get("_final_trace", (np.zeros(0), np.zeros(0)))

    # -- engine description ------------------------------------------------------------
    def steps(self, dt):
        """For step-wise sources: (change steps, amplitudes) in engine units."""
        raise NotImplementedError


def _to_step(t, dt):
    return int(np.rint(t / dt))


class DCSource(_CurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    kind = "step"
    translations = build_translations(
        ("amplitude", "amplitude"), ("start", "start"), ("stop", "stop")
    )

    def steps(self, dt):
        p = self._native
        start, stop = _to_step(p["start"], dt), _to_step(p["stop"], dt)
        if stop <= start:
            return np.array([start]), np.array([0.0])
        return np.array([start, stop]), np.array([p["amplitude"], 0.0])


class StepCurrentSource(_CurrentSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__
    kind = "step"
    translations = build_translations(("amplitudes", "amplitudes"), ("times", "times"))

    def _validate(self, p):
        super()._validate(p)
        times = np.atleast_1d(p.get("times", []))
        amps = np.atleast_1d(p.get("amplitudes", []))
        if times.shape != amps.shape:
            raise errors.InvalidParameterValueError(
                f"StepCurrentSource has {times.size} times but {amps.size} amplitudes: "
                "they must have the same length"
            )
        if (times < 0).any() or (np.diff(times) <= 0).any():
            raise errors.InvalidParameterValueError(
                f"StepCurrentSource times {times.tolist()!r} are not allowed: times must be "
                ">= 0 and strictly increasing"
            )

    def set_native_parameters(self, parameters):
        """Times are rounded to the time step when set, as the engine applies them; of
        two changes that round to one step the later amplitude wins (so what is read back
        is what is simulated)."""
        super().set_native_parameters(parameters)
        if "times" in self._native:
            dt = simulator.state.dt
            times = np.atleast_1d(self._native["times"]).astype(float)
            amps = np.atleast_1d(self._native["amplitudes"]).astype(float)
            steps = np.rint(times / dt).astype(np.int64)
            keep = np.append(steps[1:] != steps[:-1], True)
            self._native.update(times=steps[keep] * dt, amplitudes=amps[keep])

    def steps(self, dt):
        times = np.atleast_1d(self._native["times"])
        amps = np.atleast_1d(self._native["amplitudes"]).astype(float)
        steps = np.rint(times / dt).astype(np.int64)
        # Two changes that round to one step: the later amplitude wins.
        keep = np.append(steps[1:] != steps[:-1], True)
        return steps[keep], amps[keep]


class ACSource(_CurrentSource, electrodes.ACSource):
    __doc__ = electrodes.ACSource.__doc__
    kind = "ac"
    translations = build_translations(
        ("amplitude", "amplitude"),
        ("start", "start"),
        ("stop", "stop"),
        ("frequency", "frequency"),
        ("offset", "offset"),
        ("phase", "phase"),
    )


class NoisyCurrentSource(_CurrentSource, electrodes.NoisyCurrentSource):
    __doc__ = electrodes.NoisyCurrentSource.__doc__
    kind = "noisy"
    translations = build_translations(
        ("mean", "mean"), ("start", "start"), ("stop", "stop"), ("stdev", "stdev"), ("dt", "dt")
    )

    def _validate(self, p):
        super()._validate(p)
        if "dt" in p and p["dt"] is not None and p["dt"] < 0:
            raise errors.InvalidParameterValueError(
                f"NoisyCurrentSource.dt = {p['dt']!r} is not allowed: dt must be >= 0"
            )
