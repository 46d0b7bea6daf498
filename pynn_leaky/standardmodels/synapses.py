"""Synapse types of pynn_leaky.

Every type keeps PyNN's standard parameter names and units (weights in nA or uS, times
in ms). ``engine_kind`` names the engine's plastic synapse kind (None: static).
The plastic kinds follow NEST's models (see :mod:`pynn_leaky.engine._plastic`):
TsodyksMarkramSynapse = ``tsodyks_synapse`` with ``tau_psc`` taken from the
postsynaptic cell's ``tau_syn_E``/``tau_syn_I``, STDPMechanism = ``stdp_synapse``,
SimpleStochasticSynapse = ``bernoulli_synapse``.
"""

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, synapses

from .. import simulator


def _identity(*names):
    return build_translations(*[(n, n) for n in names])


class _MinimumDelay:
    def _get_minimum_delay(self):
        return simulator.state.min_delay_or_dt


class StaticSynapse(_MinimumDelay, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = _identity("weight", "delay")
    engine_kind = None


class TsodyksMarkramSynapse(_MinimumDelay, synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__
    translations = _identity("weight", "delay", "U", "tau_rec", "tau_facil")
    engine_kind = "tsodyks"
    checks = {
        "U": (lambda v: (v >= 0) & (v <= 1), "0 <= U <= 1"),
        "tau_rec": (lambda v: v > 0, "tau_rec > 0 ms"),
        "tau_facil": (lambda v: v >= 0, "tau_facil >= 0 ms (0: no facilitation)"),
    }


class SimpleStochasticSynapse(_MinimumDelay, synapses.SimpleStochasticSynapse):
    __doc__ = synapses.SimpleStochasticSynapse.__doc__
    translations = _identity("weight", "delay", "p")
    engine_kind = "stochastic"
    checks = {"p": (lambda v: (v >= 0) & (v <= 1), "0 <= p <= 1")}


class STDPMechanism(_MinimumDelay, synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = _identity("weight", "delay", "dendritic_delay_fraction")
    engine_kind = "stdp"

    def __init__(self, timing_dependence=None, weight_dependence=None,
                 voltage_dependence=None, dendritic_delay_fraction=1.0,
                 weight=0.0, delay=None):
        if timing_dependence is None or weight_dependence is None:
            raise errors.InvalidModelError(
                "STDPMechanism needs a timing_dependence (SpikePairRule) and a "
                "weight_dependence (e.g. AdditiveWeightDependence)")
        if voltage_dependence is not None:
            raise NotImplementedError("pynn_leaky has no voltage-dependent STDP")
        if dendritic_delay_fraction != 1:
            raise errors.InvalidParameterValueError(
                f"dendritic_delay_fraction = {dendritic_delay_fraction!r} is not supported: "
                "pynn_leaky (like NEST) treats the whole delay as dendritic; use 1.0")
        super().__init__(timing_dependence, weight_dependence, voltage_dependence,
                         dendritic_delay_fraction, weight, delay)

    @property
    def checks(self):
        return {**self.timing_dependence.checks, **self.weight_dependence.checks}

    def _build_translations(self):
        # a copy: PyNN's version updates the class attribute in place
        self.translations = dict(self.base_translations)
        for component in (self.timing_dependence, self.weight_dependence):
            self.translations.update(component.translations)


_W_CHECKS = {
    "w_min": (lambda v: v >= 0, "w_min >= 0 (weights are magnitudes)"),
    "w_max": (lambda v: v >= 0, "w_max >= w_min >= 0"),
}


class _WeightDependence:
    """``mu`` = (mu_plus, mu_minus) of NEST's stdp_synapse for this weight dependence."""

    mu = (0.0, 0.0)
    possible_models = {"stdp"}
    extra_parameters = {}
    checks = _W_CHECKS

    def exponents(self, params):
        return self.mu


class AdditiveWeightDependence(_WeightDependence, synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = _identity("w_min", "w_max")


class MultiplicativeWeightDependence(_WeightDependence, synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    translations = _identity("w_min", "w_max")
    mu = (1.0, 1.0)


class AdditivePotentiationMultiplicativeDepression(
        _WeightDependence, synapses.AdditivePotentiationMultiplicativeDepression):
    __doc__ = synapses.AdditivePotentiationMultiplicativeDepression.__doc__
    translations = _identity("w_min", "w_max")
    mu = (0.0, 1.0)


class GutigWeightDependence(_WeightDependence, synapses.GutigWeightDependence):
    __doc__ = synapses.GutigWeightDependence.__doc__
    translations = _identity("w_min", "w_max", "mu_plus", "mu_minus")
    checks = {**_W_CHECKS,
              "mu_plus": (lambda v: v >= 0, "mu_plus >= 0"),
              "mu_minus": (lambda v: v >= 0, "mu_minus >= 0")}

    def exponents(self, params):
        return params["mu_plus"], params["mu_minus"]


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = _identity("tau_plus", "tau_minus", "A_plus", "A_minus")
    possible_models = {"stdp"}
    extra_parameters = {}
    checks = {
        "tau_plus": (lambda v: v > 0, "tau_plus > 0 ms"),
        "tau_minus": (lambda v: v > 0, "tau_minus > 0 ms"),
        "A_plus": (lambda v: v >= 0, "A_plus >= 0"),
        "A_minus": (lambda v: v >= 0, "A_minus >= 0"),
    }


def check_values(synapse_type, values):
    """Raise a PyNN error for the first value outside its allowed range."""
    for name, (ok, rule) in getattr(synapse_type, "checks", {}).items():
        if name not in values:
            continue
        v = np.asarray(values[name], float)
        bad = ~(np.isfinite(v) & ok(v))
        if bad.any():
            raise errors.InvalidParameterValueError(
                f"{name} = {float(v[bad].ravel()[0])!r} is not allowed for "
                f"{type(synapse_type).__name__}: {rule}")
    if "w_min" in values and "w_max" in values:
        lo, hi = np.asarray(values["w_min"], float), np.asarray(values["w_max"], float)
        bad = np.broadcast_to(lo > hi, np.broadcast_shapes(lo.shape, hi.shape))
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            raise errors.InvalidParameterValueError(
                f"w_min = {float(np.broadcast_to(lo, bad.shape).ravel()[i])!r} > w_max = "
                f"{float(np.broadcast_to(hi, bad.shape).ravel()[i])!r} is not allowed: "
                "w_min <= w_max")
