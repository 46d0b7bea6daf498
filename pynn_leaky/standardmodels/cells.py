"""Cell types of pynn_leaky: the LeakyIntegrator and PyNN's spike sources."""

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, cells
from pyNN.standardmodels.base import StandardCellType

from ..engine import aeif as _aeif
from ..engine import hh as _hh
from ..engine import iaf as _iaf
from ..engine import iaf_alpha as _iaf_alpha
from ..engine import iaf_cond as _iaf_cond
from ..engine import iaf_delta as _iaf_delta
from ..engine import izhikevich as _izhikevich
from ..engine import leaky as _leaky

METHODS = _leaky.METHODS


def _identity(*names):
    return build_translations(*[(name, name) for name in names])


def _check(name, values, ok, allowed):
    """Raise InvalidParameterValueError for the first value of `values` not `ok`."""
    values = np.asarray(values, dtype=float)
    bad = ~(np.isfinite(values) & ok(values))
    if bad.any():
        first = float(values.ravel()[np.flatnonzero(bad.ravel())[0]])
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

    engine_model = "leaky"
    weight_units = "nA"

    def __init__(self, method="exp_auto", **parameters):
        if method not in METHODS:
            raise errors.InvalidParameterValueError(
                f"method = {method!r} is not allowed: method must be one of {', '.join(METHODS)}"
            )
        self.method = method
        super().__init__(**parameters)

    def can_record(self, variable, location=None):
        return variable in self.recordable

    @staticmethod
    def engine_parameters(p, dt):
        """Native parameter arrays -> the engine model's parameters (numpy)."""
        return _leaky.LeakyParams(
            *[np.asarray(p[name], float) for name in _leaky.LeakyParams._fields]
        )


IF_CHECKS = {
    "v_rest": _FINITE,
    "cm": _POSITIVE,
    "tau_m": _POSITIVE,
    "tau_refrac": _NON_NEGATIVE,
    "i_offset": _FINITE,
    "v_reset": _FINITE,
    "v_thresh": _FINITE,
}
"""Parameter checks of a leaky integrate-and-fire membrane (without its synapses)."""


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__ + """
    On pynn_leaky: exact integration as NEST's iaf_psc_exp (threshold checked at the end of
    each step, the spike carries that step's time, v held at v_reset for
    round(tau_refrac / dt) steps while the synaptic currents keep integrating).
    """

    translations = _identity(*cells.IF_curr_exp.default_parameters)
    engine_model = "iaf"
    method = "exp_auto"
    weight_units = "nA"
    relations = (("v_reset", "<", "v_thresh"),)
    checks = {**IF_CHECKS, "tau_syn_E": _POSITIVE, "tau_syn_I": _POSITIVE}
    initial_checks = {"v": _FINITE, "isyn_exc": _FINITE, "isyn_inh": _FINITE}

    @classmethod
    def engine_parameters(cls, p, dt):
        check_relations(cls, p)
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        return _iaf.IafParams(
            leaky=_leaky.LeakyParams(
                V_rest=f("v_rest"), R=f("tau_m") / f("cm"), tau=f("tau_m"),
                tau_syn_E=f("tau_syn_E"), tau_syn_I=f("tau_syn_I"), i_offset=f("i_offset"),
                noise=np.zeros_like(f("v_rest")),
            ),
            v_thresh=f("v_thresh"),
            v_reset=f("v_reset"),
            refrac=np.rint(f("tau_refrac") / dt).astype(np.int32),
        )


class IF_curr_delta(cells.IF_curr_delta):
    __doc__ = cells.IF_curr_delta.__doc__ + """
    On pynn_leaky: NEST's iaf_psc_delta, its update rule in its units and operation order
    (exact propagator for v). A spike of weight w (mV; excitatory >= 0, inhibitory <= 0)
    moves v by w at its arrival time; threshold checked at the end of each step (the spike
    carries that step's time), v held at v_reset for round(tau_refrac / dt) steps, and
    spikes arriving while the cell is refractory are discarded (NEST's default).
    """

    translations = _identity(*cells.IF_curr_delta.default_parameters)
    engine_model = "iaf_delta"
    method = "exp_auto"
    weight_units = "mV"
    relations = (("v_reset", "<", "v_thresh"),)
    checks = IF_CHECKS
    initial_checks = {"v": _FINITE}

    @classmethod
    def engine_parameters(cls, p, dt):
        check_relations(cls, p)
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        # NEST's units (pF, pA), converted as pyNN.nest does, so that the update rounds alike
        return _iaf_delta.IafDeltaParams(
            v_rest=f("v_rest"), c_m=f("cm") * 1000.0, tau_m=f("tau_m"),
            i_e=f("i_offset") * 1000.0, v_thresh=f("v_thresh"), v_reset=f("v_reset"),
            refrac=_steps(f("tau_refrac"), dt),
        )


class IF_curr_alpha(cells.IF_curr_alpha):
    __doc__ = cells.IF_curr_alpha.__doc__ + """
    On pynn_leaky: exact integration as NEST's iaf_psc_alpha (a spike of weight w nA gives
    the current w (t / tau_syn) exp(1 - t / tau_syn); threshold checked at the end of each
    step, the spike carries that step's time, v held at v_reset for round(tau_refrac / dt)
    steps while the synaptic currents keep integrating).
    """

    translations = _identity(*cells.IF_curr_alpha.default_parameters)
    engine_model = "iaf_alpha"
    method = "exp_auto"
    weight_units = "nA"
    relations = (("v_reset", "<", "v_thresh"),)
    checks = IF_curr_exp.checks
    initial_checks = IF_curr_exp.initial_checks

    @classmethod
    def engine_parameters(cls, p, dt):
        check_relations(cls, p)
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        return _iaf_alpha.IafAlphaParams(
            v_rest=f("v_rest"), cm=f("cm"), tau_m=f("tau_m"), tau_syn_E=f("tau_syn_E"),
            tau_syn_I=f("tau_syn_I"), i_offset=f("i_offset"), v_thresh=f("v_thresh"),
            v_reset=f("v_reset"), refrac=_steps(f("tau_refrac"), dt),
        )


_COND_CHECKS = {
    "v_rest": _FINITE,
    "cm": _POSITIVE,
    "tau_m": _POSITIVE,
    "tau_refrac": _NON_NEGATIVE,
    "tau_syn_E": _POSITIVE,
    "tau_syn_I": _POSITIVE,
    "e_rev_E": _FINITE,
    "e_rev_I": _FINITE,
    "v_thresh": _FINITE,
    "v_reset": _FINITE,
    "i_offset": _FINITE,
}
_COND_INITIAL_CHECKS = {"v": _FINITE, "gsyn_exc": _NON_NEGATIVE, "gsyn_inh": _NON_NEGATIVE}
_NEST_RKF45 = """
    Integrated as NEST does (there is no closed form): GSL's adaptive Runge-Kutta-Fehlberg
    4(5) with NEST's tolerances, repeated operation for operation (pynn_leaky.engine.gsl),
    so that results agree with pyNN.nest to rounding, not just to the integrator's error.
    """


def _cond_parameters(cls, p, dt):
    check_relations(cls, p)
    f = lambda name: np.asarray(p[name], float)  # noqa: E731
    return _iaf_cond.IafCondParams(
        v_rest=f("v_rest"), cm=f("cm"), g_leak=f("cm") / f("tau_m"), e_rev_E=f("e_rev_E"),
        e_rev_I=f("e_rev_I"), tau_syn_E=f("tau_syn_E"), tau_syn_I=f("tau_syn_I"),
        i_offset=f("i_offset"), v_thresh=f("v_thresh"), v_reset=f("v_reset"),
        refrac=_steps(f("tau_refrac"), dt),
    )


class IF_cond_exp(cells.IF_cond_exp):
    __doc__ = cells.IF_cond_exp.__doc__ + """
    On pynn_leaky: NEST's iaf_cond_exp. Weights are conductances (uS, >= 0 for both
    receptors) added to g on each spike; I_syn = g (E_rev - v). Threshold checked at the
    end of each step (the spike carries that step's time), v clamped to v_reset for
    round(tau_refrac / dt) steps.""" + _NEST_RKF45

    translations = _identity(*cells.IF_cond_exp.default_parameters)
    engine_model = "iaf_cond_exp"
    method = "rkf45"
    weight_units = "uS"
    relations = (("v_reset", "<", "v_thresh"),)
    checks = _COND_CHECKS
    initial_checks = _COND_INITIAL_CHECKS
    engine_parameters = classmethod(_cond_parameters)


class IF_cond_alpha(cells.IF_cond_alpha):
    __doc__ = cells.IF_cond_alpha.__doc__ + """
    On pynn_leaky: NEST's iaf_cond_alpha. A spike of weight w (uS, >= 0 for both receptors)
    gives the conductance w (t / tau_syn) e^(1 - t / tau_syn) (peak w at t = tau_syn);
    I_syn = g (E_rev - v). Threshold, reset and refractoriness as IF_cond_exp.""" + _NEST_RKF45

    translations = _identity(*cells.IF_cond_alpha.default_parameters)
    engine_model = "iaf_cond_alpha"
    method = "rkf45"
    weight_units = "uS"
    relations = (("v_reset", "<", "v_thresh"),)
    checks = _COND_CHECKS
    initial_checks = _COND_INITIAL_CHECKS
    engine_parameters = classmethod(_cond_parameters)


_EIF_CHECKS = {
    "cm": _POSITIVE,
    "tau_refrac": _NON_NEGATIVE,
    "v_spike": _FINITE,
    "v_reset": _FINITE,
    "v_rest": _FINITE,
    "tau_m": _POSITIVE,
    "i_offset": _FINITE,
    "a": _FINITE,
    "b": _FINITE,
    "delta_T": _NON_NEGATIVE,
    "tau_w": _POSITIVE,
    "v_thresh": _FINITE,
    "e_rev_E": _FINITE,
    "tau_syn_E": _POSITIVE,
    "e_rev_I": _FINITE,
    "tau_syn_I": _POSITIVE,
}
_EIF_INITIAL_CHECKS = {**_COND_INITIAL_CHECKS, "w": _FINITE}
_EIF_DOC = """
    On pynn_leaky: NEST's {nest}. Weights are conductances (uS, >= 0 for both receptors);
    a is in nS, b and w in nA. Spikes are detected (v >= v_spike) after every adaptive
    integration step inside a time step, as NEST does; with tau_refrac = 0 a cell can spike
    more than once per step. While refractory, v is clamped to v_reset.""" + _NEST_RKF45


def _eif_parameters(cls, p, dt):
    check_relations(cls, p)
    f = lambda name: np.asarray(p[name], float)  # noqa: E731
    return _aeif.AeifParams(
        v_rest=f("v_rest"), cm=f("cm"), g_leak=f("cm") / f("tau_m"), e_rev_E=f("e_rev_E"),
        e_rev_I=f("e_rev_I"), tau_syn_E=f("tau_syn_E"), tau_syn_I=f("tau_syn_I"),
        i_offset=f("i_offset"), a=f("a") * 1e-3, b=f("b"), delta_T=f("delta_T"),
        tau_w=f("tau_w"), v_thresh=f("v_thresh"), v_spike=f("v_spike"), v_reset=f("v_reset"),
        refrac=_steps(f("tau_refrac"), dt),
    )


class _EIF:
    """What the two EIF cell types share (NEST's aeif_cond_exp / aeif_cond_alpha)."""

    method = "rkf45"
    weight_units = "uS"
    relations = (("v_spike", ">=", "v_thresh"), ("v_reset", "<", "v_spike"))
    checks = _EIF_CHECKS
    initial_checks = _EIF_INITIAL_CHECKS
    engine_parameters = classmethod(_eif_parameters)


class EIF_cond_exp_isfa_ista(_EIF, cells.EIF_cond_exp_isfa_ista):
    __doc__ = cells.EIF_cond_exp_isfa_ista.__doc__ + _EIF_DOC.format(nest="aeif_cond_exp")
    translations = _identity(*cells.EIF_cond_exp_isfa_ista.default_parameters)
    engine_model = "aeif_cond_exp"


class EIF_cond_alpha_isfa_ista(_EIF, cells.EIF_cond_alpha_isfa_ista):
    __doc__ = cells.EIF_cond_alpha_isfa_ista.__doc__ + _EIF_DOC.format(nest="aeif_cond_alpha")
    translations = _identity(*cells.EIF_cond_alpha_isfa_ista.default_parameters)
    engine_model = "aeif_cond_alpha"


class HH_cond_exp(cells.HH_cond_exp):
    __doc__ = cells.HH_cond_exp.__doc__ + """
    On pynn_leaky: NEST's hh_cond_exp_traub. Weights are conductances (uS, >= 0 for both
    receptors). A spike is the step in which v, above v_offset + 30 mV, starts to fall;
    no spike is detected for 2 ms after it (NEST's t_ref). Also recordable here: the
    gating variables m, h, n. Gap junctions are not supported.""" + _NEST_RKF45

    translations = _identity(*cells.HH_cond_exp.default_parameters)
    recordable = [*cells.HH_cond_exp.recordable, "m", "h", "n"]
    receptor_types = ("excitatory", "inhibitory")
    engine_model = "hh_cond_exp_traub"
    method = "rkf45"
    weight_units = "uS"
    checks = {
        "gbar_Na": _NON_NEGATIVE,
        "gbar_K": _NON_NEGATIVE,
        "g_leak": _NON_NEGATIVE,
        "cm": _POSITIVE,
        "v_offset": _FINITE,
        "e_rev_Na": _FINITE,
        "e_rev_K": _FINITE,
        "e_rev_leak": _FINITE,
        "e_rev_E": _FINITE,
        "e_rev_I": _FINITE,
        "tau_syn_E": _POSITIVE,
        "tau_syn_I": _POSITIVE,
        "i_offset": _FINITE,
    }
    initial_checks = {**_COND_INITIAL_CHECKS, "m": _NON_NEGATIVE, "h": _NON_NEGATIVE,
                      "n": _NON_NEGATIVE}
    T_REF = 2.0  # ms, NEST's default t_ref for hh_cond_exp_traub (not a PyNN parameter)

    @classmethod
    def engine_parameters(cls, p, dt):
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        return _hh.HHParams(
            *[f(name) for name in _hh.HHParams._fields[:-1]],
            refrac=np.broadcast_to(_steps(cls.T_REF, dt), f("cm").shape),
        )


class IF_cond_exp_gsfa_grr(cells.IF_cond_exp_gsfa_grr):
    __doc__ = cells.IF_cond_exp_gsfa_grr.__doc__ + """
    On pynn_leaky: NEST's iaf_cond_exp_sfa_rr: IF_cond_exp plus two conductances g_s
    (adaptation, reversal e_rev_sfa) and g_r (relative refractoriness, reversal e_rev_rr)
    that decay with tau_sfa, tau_rr and jump by q_sfa, q_rr (nS) at each spike; g_s and g_r
    are recorded in nS.""" + _NEST_RKF45

    translations = _identity(*cells.IF_cond_exp_gsfa_grr.default_parameters)
    engine_model = "iaf_cond_exp_sfa_rr"
    method = "rkf45"
    weight_units = "uS"
    relations = (("v_reset", "<", "v_thresh"),)
    checks = {
        **_COND_CHECKS,
        "tau_sfa": _POSITIVE,
        "e_rev_sfa": _FINITE,
        "q_sfa": _NON_NEGATIVE,
        "tau_rr": _POSITIVE,
        "e_rev_rr": _FINITE,
        "q_rr": _NON_NEGATIVE,
    }
    initial_checks = {**_COND_INITIAL_CHECKS, "g_r": _NON_NEGATIVE, "g_s": _NON_NEGATIVE}

    @classmethod
    def engine_parameters(cls, p, dt):
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        return _iaf_cond.SfaRrParams(
            cond=_cond_parameters(cls, p, dt),
            **{name: f(name) for name in _iaf_cond.SfaRrParams._fields[1:]},
        )


class Izhikevich(cells.Izhikevich):
    __doc__ = cells.Izhikevich.__doc__ + """
    On pynn_leaky: NEST's izhikevich, step for step (forward Euler from the start of each
    step, as the model is defined; v >= 30 mV spikes and resets v = c, u += d). Weights are
    jumps of v in mV (excitatory >= 0, inhibitory <= 0). As on NEST, a current I (nA:
    i_offset and current sources) enters dv/dt as 1000 I (mV/ms).
    """

    translations = _identity(*cells.Izhikevich.default_parameters)
    engine_model = "izhikevich"
    method = "euler"
    weight_units = "mV"
    checks = {name: _FINITE for name in cells.Izhikevich.default_parameters}
    initial_checks = {"v": _FINITE, "u": _FINITE}

    @staticmethod
    def engine_parameters(p, dt):
        f = lambda name: np.asarray(p[name], float)  # noqa: E731
        return _izhikevich.IzhikevichParams(
            a=f("a"), b=f("b"), c=f("c"), d=f("d"), i_e=f("i_offset") * 1000.0,
        )


def _steps(duration, dt):
    """A duration (ms) in whole steps, rounded to the nearest (NEST's Time::get_steps)."""
    return np.rint(duration / dt).astype(np.int32)


def is_neuron(celltype):
    """Cells simulated by an engine cell model (they receive synapses and currents)."""
    return hasattr(celltype, "engine_model")


def is_spiking_neuron(celltype):
    return is_neuron(celltype) and "spikes" in celltype.recordable


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _identity("spike_times")
    checks = {}

    @staticmethod
    def exact_spike_times(population, ids, steps, dt):
        """The given times of recorded spikes (ids, steps): spike j of a cell in a step
        is that cell's j-th given time falling in the step (setup(spike_precision=
        'off_grid'))."""
        times = steps * dt
        seqs = np.broadcast_to(np.asarray(population._parameters["spike_times"],
                                          dtype=object), (population.size,))
        first = int(population.first_id)
        for cell in np.unique(ids):
            given = np.sort(np.asarray(getattr(seqs[cell - first], "value",
                                               seqs[cell - first]), float))
            given_steps = np.ceil(given / dt - 1e-6).astype(np.int64)
            where = np.flatnonzero(ids == cell)
            for i in where:  # the spikes of one cell are few; keep the order of steps
                match = np.flatnonzero(given_steps == steps[i])
                rank = np.count_nonzero(steps[where[where < i]] == steps[i])
                if rank < match.size:
                    times[i] = given[match[rank]]
        return times


_WINDOW = """
    It emits in the steps after ``start`` up to ``start + duration`` (both rounded to the
    grid); a spike carries the end of the step it falls in. Random numbers come from the
    simulator's ``rng_seed`` and the step, so runs are reproducible, split runs equal one
    long run, and every cell has its own stream. NEST's generators draw from another RNG:
    pyNN.nest and pynn_leaky agree in distribution, not spike for spike.
    """


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__ + """
    On pynn_leaky: the spike count of each step is Poisson(rate dt) (several spikes of one
    source in one step are all delivered).""" + _WINDOW
    translations = _identity("rate", "start", "duration")
    checks = {"rate": _NON_NEGATIVE, "start": _NON_NEGATIVE, "duration": _NON_NEGATIVE}

    @staticmethod
    def engine_source(p, dt):
        """Native parameter arrays -> (rate of events Hz, events per spike, dead steps,
        spike probability per free step); see pynn_leaky.engine.sources."""
        rate = np.asarray(p["rate"], float)
        return rate, np.ones(rate.shape, np.int32), np.full(rate.shape, -1, np.int32), \
            np.zeros(rate.shape)


_WHOLE = (lambda x: (x >= 1) & (x == np.round(x)) & (x < 2**31),
          "a whole number >= 1 (NEST's gamma_sup_generator has integer shapes)")


class SpikeSourceGamma(cells.SpikeSourceGamma):
    __doc__ = cells.SpikeSourceGamma.__doc__ + """
    On pynn_leaky: a renewal process with Gamma(alpha, beta) inter-spike intervals (mean
    alpha / beta, CV 1 / sqrt(alpha)), alpha a whole number as on NEST: a spike at every
    alpha-th event of a Poisson process of rate beta. The events of each step are drawn
    exactly (Poisson(beta dt)), so the binned process is exact and a step can hold several
    spikes. The process starts stationary at ``start`` (the first interval is the
    equilibrium forward recurrence time, so the rate is beta / alpha from the start; NEST
    starts its single-process generator one event before a spike instead).""" + _WINDOW
    # PyNN's default alpha is the int 2, which makes PyNN cast alpha = 2.5 to 2 silently; a
    # float default lets the check below see (and refuse) the value given.
    default_parameters = {**cells.SpikeSourceGamma.default_parameters, "alpha": 2.0}
    translations = _identity("alpha", "beta", "start", "duration")
    checks = {"alpha": _WHOLE, "beta": _NON_NEGATIVE, "start": _NON_NEGATIVE,
              "duration": _NON_NEGATIVE}

    @staticmethod
    def engine_source(p, dt):
        beta = np.asarray(p["beta"], float)
        return beta, np.asarray(p["alpha"], float).astype(np.int32), \
            np.full(beta.shape, -1, np.int32), np.zeros(beta.shape)


class SpikeSourcePoissonRefractory(cells.SpikeSourcePoissonRefractory):
    __doc__ = cells.SpikeSourcePoissonRefractory.__doc__ + """
    On pynn_leaky: NEST's ppd_sup_generator (one process per cell) in distribution. After
    each spike, D = round(tau_refrac / dt) steps without spikes; then a spike in each step
    with probability p = dt / (1000 / rate - D dt), so the mean rate is ``rate`` exactly
    (ISI = D + a geometric number >= 1 of steps; NEST floors D). rate * tau_refrac must be
    < 1000 (NEST's rule) and p <= 1. The process starts stationary at ``start`` (NEST's
    starts free of dead time).""" + _WINDOW
    translations = _identity("rate", "tau_refrac", "start", "duration")
    checks = {"rate": _NON_NEGATIVE, "tau_refrac": _NON_NEGATIVE, "start": _NON_NEGATIVE,
              "duration": _NON_NEGATIVE}

    @classmethod
    def check_values(cls, values):
        """NEST's rule: the mean interval 1000 / rate (ms) exceeds the dead time."""
        if "rate" in values and "tau_refrac" in values:
            rate, ref = np.broadcast_arrays(np.asarray(values["rate"], float),
                                            np.asarray(values["tau_refrac"], float))
            bad = rate * ref >= 1000.0
            if bad.any():
                i = np.flatnonzero(bad.ravel())[0]
                raise errors.InvalidParameterValueError(
                    f"rate = {float(rate.ravel()[i])!r} Hz is not allowed with tau_refrac = "
                    f"{float(ref.ravel()[i])!r} ms: rate must be < 1000 / tau_refrac "
                    f"(= {1000.0 / float(ref.ravel()[i])!r} Hz)"
                )

    @classmethod
    def engine_source(cls, p, dt):
        cls.check_values(p)
        rate = np.asarray(p["rate"], float)
        dead = _steps(np.asarray(p["tau_refrac"], float), dt)
        with np.errstate(divide="ignore"):
            free = np.where(rate > 0, 1000.0 / np.where(rate > 0, rate, 1.0), np.inf) - dead * dt
        bad = free < dt * (1 - 1e-12)
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise errors.InvalidParameterValueError(
                f"rate = {float(rate[i])!r} Hz is not allowed with tau_refrac = "
                f"{float(np.asarray(p['tau_refrac'], float)[i])!r} ms at dt = {dt!r} ms: "
                f"1000 / rate must be >= (round(tau_refrac / dt) + 1) dt = "
                f"{(int(dead[i]) + 1) * dt!r} ms"
            )
        return np.zeros(rate.shape), np.ones(rate.shape, np.int32), dead, \
            np.minimum(dt / free, 1.0)


RANDOM_SOURCES = (SpikeSourcePoisson, SpikeSourceGamma, SpikeSourcePoissonRefractory)


def is_random_source(celltype):
    return isinstance(celltype, RANDOM_SOURCES)


_ORDER = {"<": np.less, ">=": np.greater_equal}


def check_parameters(celltype, values: dict):
    """Validate native parameter arrays of a population (raises PyNN errors).

    Relations between two parameters (``celltype.relations``, NEST's own rules, e.g.
    v_reset < v_thresh) are checked when both are among ``values``, and again on all of a
    population's values when the engine parameters are built (``engine_parameters``).
    """
    for name, value in values.items():
        if name in celltype.checks:
            ok, allowed = celltype.checks[name]
            _check(name, value, ok, allowed)
        if name == "spike_times":
            check_spike_times(value)
    check_relations(celltype, values)
    check_values = getattr(celltype, "check_values", None)  # rules over several values
    if check_values is not None:
        check_values(values)


def check_relations(celltype, values: dict):
    """Relations between parameters (``celltype.relations``) among ``values``."""
    for name, op, other in getattr(celltype, "relations", ()):
        if name in values and other in values:
            a, b = np.broadcast_arrays(np.asarray(values[name], float),
                                       np.asarray(values[other], float))
            bad = ~_ORDER[op](a, b)
            if bad.any():
                i = np.flatnonzero(bad.ravel())[0]
                raise errors.InvalidParameterValueError(
                    f"{name} = {float(a.ravel()[i])!r} is not allowed: {name} must be {op} "
                    f"{other} (= {float(b.ravel()[i])!r})"
                )


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
            bad = float(times[~(np.isfinite(times) & (times >= 0))][0])
            raise errors.InvalidParameterValueError(
                f"spike_times of cell {i} contains {bad!r}: spike times must be finite and >= 0 ms"
            )
        if (np.diff(times) < 0).any():
            j = int(np.flatnonzero(np.diff(times) < 0)[0])
            raise errors.InvalidParameterValueError(
                f"spike_times of cell {i} are not sorted ({float(times[j])!r} before "
                f"{float(times[j + 1])!r}): "
                "spike times must be in increasing order"
            )
