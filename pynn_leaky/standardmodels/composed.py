"""PyNN's composed point neurons: ``PointNeuron(neuron, **receptors)``.

Supported compositions (the ones NEST offers as multisynapse models):

* ``LIF`` with ``CurrExpPostSynapticResponse`` receptors (NEST iaf_psc_exp_multisynapse);
* ``AdExp`` with ``CondAlphaPostSynapticResponse`` (``AlphaPSR``) receptors (NEST
  aeif_cond_alpha_multisynapse),

with 1 to 8 named receptor types. Parameters are named as in PyNN: the neuron's (``tau_m``)
and the receptors' with their name (``AMPA.tau_syn``, ``GABAA.e_syn``); so are recordables
(``AMPA.isyn``, ``NMDA.gsyn``). Projections choose a receptor with ``receptor_type="AMPA"``.
"""

import numpy as np
from pyNN import errors
from pyNN.parameters import ParameterSpace
from pyNN.standardmodels import build_translations, cells, receptors

from ..engine import _multisynapse as _multi
from .cells import (
    _FINITE,
    _NON_NEGATIVE,
    _POSITIVE,
    IF_CHECKS,
    _identity,
    _steps,
    check_relations,
)


class LIF(cells.LIF):
    __doc__ = cells.LIF.__doc__
    translations = _identity(*cells.LIF.default_parameters)
    recordable = ["spikes", "v"]
    checks = IF_CHECKS
    relations = (("v_reset", "<", "v_thresh"),)


class AdExp(cells.AdExp):
    __doc__ = cells.AdExp.__doc__
    translations = _identity(*cells.AdExp.default_parameters)
    recordable = ["spikes", "v", "w"]
    checks = {"cm": _POSITIVE, "tau_refrac": _NON_NEGATIVE, "v_spike": _FINITE,
              "v_reset": _FINITE, "v_rest": _FINITE, "tau_m": _POSITIVE, "i_offset": _FINITE,
              "a": _FINITE, "b": _FINITE, "delta_T": _NON_NEGATIVE, "tau_w": _POSITIVE,
              "v_thresh": _FINITE}
    relations = (("v_spike", ">=", "v_thresh"), ("v_reset", "<", "v_spike"))


class CurrExpPostSynapticResponse(receptors.CurrExpPostSynapticResponse):
    __doc__ = receptors.CurrExpPostSynapticResponse.__doc__
    translations = _identity("locations", "tau_syn")
    recordable = ["isyn"]
    variable = "isyn"
    checks = {"tau_syn": _POSITIVE}


class _Conductance:
    """What the conductance-based responses share: parameters, checks, the variable."""

    translations = _identity("locations", "e_syn", "tau_syn")
    recordable = ["gsyn"]
    variable = "gsyn"
    checks = {"tau_syn": _POSITIVE, "e_syn": _FINITE}


class CondExpPostSynapticResponse(_Conductance, receptors.CondExpPostSynapticResponse):
    __doc__ = receptors.CondExpPostSynapticResponse.__doc__


class CondAlphaPostSynapticResponse(_Conductance, receptors.CondAlphaPostSynapticResponse):
    __doc__ = receptors.CondAlphaPostSynapticResponse.__doc__


ExpPSR = CondExpPostSynapticResponse
AlphaPSR = CondAlphaPostSynapticResponse

def _pick(name):
    return lambda **parameters: parameters[name]


_SUPPORTED = {
    (LIF, CurrExpPostSynapticResponse): ("lif_exp_multi", "exp_auto", "nA"),
    (AdExp, CondAlphaPostSynapticResponse): ("aeif_alpha_multi", "rkf45", "uS"),
}


class PointNeuron(cells.PointNeuron):
    __doc__ = """A point neuron composed of a neuron model and named synapse types.

    On pynn_leaky: ``LIF`` with ``CurrExpPostSynapticResponse`` receptors (NEST's
    iaf_psc_exp_multisynapse, exact integration) or ``AdExp`` with
    ``CondAlphaPostSynapticResponse``/``AlphaPSR`` receptors (NEST's
    aeif_cond_alpha_multisynapse, NEST's adaptive RKF45), 1 to 8 receptor types.
    """
    multisynapse = True
    initial_checks = {}

    def __init__(self, neuron, **post_synaptic_receptors):
        kinds = {type(psr) for psr in post_synaptic_receptors.values()}
        key = (type(neuron), kinds.pop() if len(kinds) == 1 else None)
        if key not in _SUPPORTED or not 1 <= len(post_synaptic_receptors) <= _multi.R_MAX:
            given = ", ".join(f"{k}={type(v).__name__}"
                              for k, v in post_synaptic_receptors.items())
            raise errors.InvalidModelError(
                f"PointNeuron({type(neuron).__name__}, {given}) is not available on "
                "pynn_leaky: use LIF with CurrExpPostSynapticResponse or "
                f"AdExp with CondAlphaPostSynapticResponse receptors (1 to {_multi.R_MAX})")
        super().__init__(neuron, **post_synaptic_receptors)
        model, self.method, self.weight_units = _SUPPORTED[key]
        self.engine_model = f"{model}{len(post_synaptic_receptors)}"
        values, self.checks = {}, dict(neuron.checks)
        for name, value in neuron.parameter_space.items():
            values[name] = value
        for rec in self.receptor_types:
            psr = self.post_synaptic_receptors[rec]
            for name, value in psr.parameter_space.items():
                if name != "locations":
                    values[f"{rec}.{name}"] = value
                    if name in psr.checks:
                        self.checks[f"{rec}.{name}"] = psr.checks[name]
        self.translations = build_translations(
            *[(n, n, _pick(n), _pick(n)) for n in values])  # dotted names: not expressions
        self.relations = neuron.relations
        self.parameter_space = ParameterSpace(
            {k: v.base_value for k, v in values.items()}, self.get_schema(), shape=None)

    def get_parameter_names(self):
        return list(self.translations)

    def get_schema(self):
        return dict.fromkeys(self.translations, float)

    @property
    def default_parameters(self):
        out = dict(self.neuron.default_parameters)
        for rec in self.receptor_types:
            for name, value in self.post_synaptic_receptors[rec].default_parameters.items():
                if name != "locations":
                    out[f"{rec}.{name}"] = value
        return out

    # -- engine fields: receptor r's variable is syn{r} --------------------------------
    def engine_variable(self, name):
        rec, _, variable = name.rpartition(".")
        if rec in self.post_synaptic_receptors and variable == \
                self.post_synaptic_receptors[rec].variable:
            return f"syn{self.receptor_types.index(rec)}"
        return name

    def pynn_variable(self, field):
        if field.startswith("syn") and field[3:].isdigit() \
                and int(field[3:]) < len(self.receptor_types):
            rec = self.receptor_types[int(field[3:])]
            return f"{rec}.{self.post_synaptic_receptors[rec].variable}"
        return field

    def engine_parameters(self, p, dt):
        check_relations(self, p)
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        stack = lambda name: np.stack(  # noqa: E731
            [f(f"{rec}.{name}") for rec in self.receptor_types], axis=-1)
        refrac = _steps(f("tau_refrac"), dt)
        if self.engine_model.startswith("lif"):
            return _multi.LifMultiParams(
                v_rest=f("v_rest"), R=f("tau_m") / f("cm"), tau_m=f("tau_m"),
                i_offset=f("i_offset"), v_thresh=f("v_thresh"), v_reset=f("v_reset"),
                refrac=refrac, tau_syn=stack("tau_syn"))
        return _multi.AdexMultiParams(
            v_rest=f("v_rest"), cm=f("cm"), g_leak=f("cm") / f("tau_m"),
            i_offset=f("i_offset"), a=f("a") * 1e-3, b=f("b"), delta_T=f("delta_T"),
            tau_w=f("tau_w"), v_thresh=f("v_thresh"), v_spike=f("v_spike"),
            v_reset=f("v_reset"), refrac=refrac, e_syn=stack("e_syn"), tau_syn=stack("tau_syn"))
