"""Cell types of pynn_leaky: the LeakyIntegrator and PyNN's spike sources."""

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, cells
from pyNN.standardmodels.base import StandardCellType

from ..engine import leaky as _leaky

METHODS = _leaky.METHODS


def _identity(*names):
    return build_translations(*[(name, name) for name in names])


def _check(name, values, ok, allowed):
    """Raise InvalidParameterValueError for the first value of `values` not `ok`."""
    values = np.asarray(values, dtype=float)
    bad = ~(np.isfinite(values) & ok(values))
    if bad.any():
        first = values.ravel()[np.flatnonzero(bad.ravel())[0]]
        raise errors.InvalidParameterValueError(
            f"{name} = {first!r} is not allowed: {name} must be {allowed}"
        )


_POSITIVE = (lambda x: x > 0, "a finite number > 0")
_FINITE = (lambda x: np.ones(x.shape, bool), "a finite number")
_NON_NEGATIVE = (lambda x: x >= 0, "a finite number >= 0")


class LeakyIntegrator(StandardCellType):
    """BrainPy's leaky integrator: a membrane that integrates input and never spikes.

    .. math::

        \\tau \\frac{dv}{dt} = -(v - V_{rest}) + R\\,I(t),\\qquad
        I = I_{syn,E} + I_{syn,I} + i_{offset} + I_{inj}

    with exponentially decaying synaptic currents (time constants ``tau_syn_E``,
    ``tau_syn_I``) that jump by the synaptic weight (nA) on each arriving spike, and
    optional white noise ``noise`` (mV/sqrt(ms)) on v.

    Parameters (units, default): V_rest (mV, 0.0), R (MOhm, 1.0), tau (ms, 10.0),
    tau_syn_E (ms, 5.0), tau_syn_I (ms, 5.0), i_offset (nA, 0.0),
    noise (mV/sqrt(ms), 0.0). ``method`` selects the integrator: 'exp_auto' (exact,
    the default), 'euler', 'rk2' or 'rk4'.

    It is the sub-threshold part of IF_curr_exp with ``cm = tau / R``, ``tau_m = tau``.
    """

    default_parameters = {
        "V_rest": 0.0,
        "R": 1.0,
        "tau": 10.0,
        "tau_syn_E": 5.0,
        "tau_syn_I": 5.0,
        "i_offset": 0.0,
        "noise": 0.0,
    }
    default_initial_values = {"v": 0.0, "isyn_exc": 0.0, "isyn_inh": 0.0}
    recordable = ["v", "isyn_exc", "isyn_inh"]
    receptor_types = ("excitatory", "inhibitory")
    conductance_based = False
    injectable = True
    units = {
        "v": "mV",
        "isyn_exc": "nA",
        "isyn_inh": "nA",
        "V_rest": "mV",
        "R": "MOhm",
        "tau": "ms",
        "tau_syn_E": "ms",
        "tau_syn_I": "ms",
        "i_offset": "nA",
        "noise": "mV/ms**0.5",
    }
    translations = _identity(*default_parameters)
    checks = {
        "V_rest": _FINITE,
        "R": _POSITIVE,
        "tau": _POSITIVE,
        "tau_syn_E": _POSITIVE,
        "tau_syn_I": _POSITIVE,
        "i_offset": _FINITE,
        "noise": _NON_NEGATIVE,
    }
    initial_checks = {"v": _FINITE, "isyn_exc": _FINITE, "isyn_inh": _FINITE}

    def __init__(self, method="exp_auto", **parameters):
        if method not in METHODS:
            raise errors.InvalidParameterValueError(
                f"method = {method!r} is not allowed: method must be one of {', '.join(METHODS)}"
            )
        self.method = method
        super().__init__(**parameters)

    def can_record(self, variable, location=None):
        return variable in self.recordable


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _identity("spike_times")
    checks = {}


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = _identity("rate", "start", "duration")
    checks = {"rate": _NON_NEGATIVE, "start": _NON_NEGATIVE, "duration": _NON_NEGATIVE}


def check_parameters(celltype, values: dict):
    """Validate native parameter arrays of a population (raises PyNN errors)."""
    for name, value in values.items():
        if name in celltype.checks:
            ok, allowed = celltype.checks[name]
            _check(name, value, ok, allowed)
        if name == "spike_times":
            check_spike_times(value)


def check_initial_values(celltype, name, value):
    checks = getattr(celltype, "initial_checks", {})
    if name in checks:
        ok, allowed = checks[name]
        _check(name, value, ok, allowed)


def check_spike_times(sequences):
    for i, seq in enumerate(np.atleast_1d(sequences)):
        times = np.asarray(getattr(seq, "value", seq), dtype=float)
        if times.size == 0:
            continue
        if not np.isfinite(times).all() or (times < 0).any():
            bad = times[~(np.isfinite(times) & (times >= 0))][0]
            raise errors.InvalidParameterValueError(
                f"spike_times of cell {i} contains {bad!r}: spike times must be finite and >= 0 ms"
            )
        if (np.diff(times) < 0).any():
            j = int(np.flatnonzero(np.diff(times) < 0)[0])
            raise errors.InvalidParameterValueError(
                f"spike_times of cell {i} are not sorted ({times[j]!r} before {times[j + 1]!r}): "
                "spike times must be in increasing order"
            )
