"""The LeakyIntegrator on PyNN's reference backends: pyNN.nest, pyNN.neuron, pyNN.brian2.

``register_celltypes(sim)`` adds a ``LeakyIntegrator`` cell type to one of those modules,
with pynn_leaky's parameter names, units, defaults and recordables (DESIGN.md), so that
one PyNN script runs on every simulator::

    import pyNN.nest as sim
    from pynn_leaky import register_celltypes
    register_celltypes(sim)
    cells = sim.Population(10, sim.LeakyIntegrator(tau=20.0, R=40.0))

How each simulator realises it (README, "Comparing simulators", lists the differences
this causes):

* NEST: ``iaf_psc_exp`` with an unreachable threshold (``C_m = tau / R``,
  ``tau_m = tau``), exact propagators, as pyNN.nest's ``IF_curr_exp``.
* NEURON: a single-compartment section (``pas`` leak, ``IClamp`` for ``i_offset``, as
  pyNN.neuron's ``IF_curr_exp``) with two ``LeakyISyn`` point processes (exponential
  current synapses whose state is the positive synaptic current, compiled from this
  module's NMODL by :func:`ensure_neuron_mechanisms`), integrated by NEURON's fixed-step
  method (or CVODE with ``setup(use_cvode=True)``).
* Brian2: a ``NeuronGroup``; with ``method='exp_auto'`` its state is advanced by the exact
  propagator (Brian2's own ``'exact'`` solver divides by ``tau - tau_syn`` and returns NaN
  when they are equal, so the propagator is written with ``exprel``), with ``'euler'``,
  ``'rk2'`` (Brian2's ``'heun'``) or ``'rk4'`` by Brian2's state updaters.

``noise`` works on Brian2 (exact Ornstein-Uhlenbeck update with ``exp_auto``,
Euler-Maruyama with ``euler``/``rk2``); NEST and NEURON have no white-noise term on v and
raise ``NotImplementedError`` for ``noise != 0``.
"""

import functools
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from pyNN import errors
from pyNN.standardmodels import StandardCellType, build_translations

from .standardmodels.cells import LeakyIntegrator as _LeakyIntegrator

__all__ = ["register_celltypes", "ensure_neuron_mechanisms", "SIMULATORS"]

#: Short simulator names and the PyNN modules that implement them.
SIMULATORS = {
    "leaky": "pynn_leaky",
    "nest": "pyNN.nest",
    "neuron": "pyNN.neuron",
    "brian2": "pyNN.brian2",
}


def register_celltypes(sim):
    """Add a ``LeakyIntegrator`` cell type to the PyNN backend module `sim`; return it.

    `sim` is ``pyNN.nest``, ``pyNN.neuron`` or ``pyNN.brian2`` (``pynn_leaky`` itself is
    accepted and returns its own class). Calling it again returns the same class.
    """
    name = getattr(sim, "__name__", repr(sim))
    builders = {
        "pynn_leaky": lambda sim: _LeakyIntegrator,
        "pyNN.nest": _nest_celltype,
        "pyNN.neuron": _neuron_celltype,
        "pyNN.brian2": _brian2_celltype,
    }
    if name not in builders:
        raise ValueError(
            f"register_celltypes: {name} is not a supported simulator module; "
            f"supported: {', '.join(builders)}"
        )
    existing = getattr(sim, "LeakyIntegrator", None)
    if existing is not None and (existing is _LeakyIntegrator
                                 or issubclass(existing, _PeerLeakyIntegrator)):
        return existing
    cls = builders[name](sim)
    sim.LeakyIntegrator = cls
    return cls


# -- the parts every simulator shares --------------------------------------------------------


def _reject_nonzero(name, simulator, zero=0.0, reason="it has no white-noise term on v"):
    """A forward transform that accepts only `name` == 0 (PyNN's 'UNSUPPORTED' idiom)."""

    def check(**parameters):
        value = parameters[name]
        base = getattr(value, "base_value", value)
        values = np.asarray(value.evaluate(simplify=True) if not np.isscalar(base) else base,
                            dtype=float)
        if np.any(values != 0.0):
            first = float(values.ravel()[np.flatnonzero(values)[0]])
            raise NotImplementedError(
                f"LeakyIntegrator: {name} = {first:g} is not supported on {simulator} "
                f"({reason}); use noise = 0, or pynn_leaky / pyNN.brian2"
            )
        return zero

    return check


def _check_method(method, allowed, simulator):
    if method not in allowed:
        raise errors.InvalidParameterValueError(
            f"method = {method!r} is not available for LeakyIntegrator on {simulator}: "
            f"method must be one of {', '.join(allowed)}"
        )


class _PeerLeakyIntegrator(StandardCellType):
    """The parts of pynn_leaky's LeakyIntegrator that every peer simulator shares."""

    __doc__ = _LeakyIntegrator.__doc__
    default_parameters = dict(_LeakyIntegrator.default_parameters)
    default_initial_values = dict(_LeakyIntegrator.default_initial_values)
    recordable = list(_LeakyIntegrator.recordable)
    receptor_types = _LeakyIntegrator.receptor_types
    conductance_based = False
    injectable = True
    units = dict(_LeakyIntegrator.units)
    methods = ("exp_auto",)
    simulator_name = ""

    def __init__(self, method="exp_auto", **parameters):
        _check_method(method, self.methods, self.simulator_name)
        self.method = method
        super().__init__(**parameters)

    def can_record(self, variable, location=None):
        return variable in self.recordable


# -- NEST -------------------------------------------------------------------------------------

_UNREACHABLE_THRESHOLD = 1e9  # mV


def _nest_celltype(sim):
    class LeakyIntegrator(_PeerLeakyIntegrator):
        translations = build_translations(
            ("V_rest", "E_L"),
            ("R", "C_m", "1000.0 * tau / R", "1000.0 * tau_m / C_m"),  # C_m in pF
            ("tau", "tau_m"),
            ("tau_syn_E", "tau_syn_ex"),
            ("tau_syn_I", "tau_syn_in"),
            ("i_offset", "I_e", 1000.0),  # I_e in pA
            ("noise", "UNSUPPORTED", _reject_nonzero("noise", "NEST"), None),
        )
        # iaf_psc_exp for both spike precisions: it records I_syn_ex/I_syn_in
        # (iaf_psc_exp_ps records V_m only) and, never spiking, has no use for offsets.
        nest_name = {"on_grid": "iaf_psc_exp", "off_grid": "iaf_psc_exp"}
        # V_reset must lie below V_th; neither is ever used
        extra_parameters = {"V_th": _UNREACHABLE_THRESHOLD, "V_reset": 0.0, "t_ref": 0.1}
        variable_map = {"v": "V_m", "isyn_exc": "I_syn_ex", "isyn_inh": "I_syn_in"}
        scale_factors = {"v": 1, "isyn_exc": 0.001, "isyn_inh": 0.001}
        standard_receptor_type = True
        simulator_name = "NEST"

        def get_native_names(self, *names):
            # 'UNSUPPORTED' (noise) is no NEST parameter: never ask NEST for it
            return [n for n in super().get_native_names(*names) if n != "UNSUPPORTED"]

        def reverse_translate(self, native_parameters):
            parameters = super().reverse_translate(native_parameters)
            parameters.update(noise=0.0)  # the only value NEST accepts
            return parameters

    return LeakyIntegrator


# -- NEURON -----------------------------------------------------------------------------------

#: An exponential current synapse whose state ``isyn`` is the current into the cell
#: (positive = depolarising, as PyNN's isyn_exc/isyn_inh); pyNN's ExpISyn keeps the
#: membrane-current sign instead. ``isyn0`` is the initial value.
LEAKY_ISYN_MOD = """\
COMMENT
Exponentially decaying current synapse of pynn_leaky's LeakyIntegrator on NEURON:
d isyn/dt = -isyn/tau, isyn += weight on each event; isyn > 0 depolarises.
ENDCOMMENT

NEURON {
    POINT_PROCESS LeakyISyn
    RANGE tau, isyn, isyn0
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
}

PARAMETER {
    tau = 5 (ms) <1e-9,1e9>
    isyn0 = 0 (nA)
}

ASSIGNED {
    i (nA)
}

STATE {
    isyn (nA)
}

INITIAL {
    isyn = isyn0
}

BREAKPOINT {
    SOLVE state METHOD cnexp
    i = -isyn
}

DERIVATIVE state {
    isyn' = -isyn / tau
}

NET_RECEIVE(weight (nA)) {
    isyn = isyn + weight
}
"""


def _cache_root():
    base = os.environ.get("PYNN_LEAKY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pynn_leaky")
    return Path(base)


def _nrnivmodl():
    """The nrnivmodl of the running Python's NEURON (a venv's bin/ need not be on PATH)."""
    beside = Path(sys.executable).with_name("nrnivmodl")
    found = str(beside) if beside.exists() else shutil.which("nrnivmodl")
    if not found:
        raise RuntimeError(
            "nrnivmodl not found (beside the Python executable or on PATH): install NEURON "
            "(pip install 'pynn_leaky[compare]')"
        )
    return found


def _is_compiled(directory):
    """Whether `directory` holds an nrnivmodl build (NEURON's own search, without loading)."""
    import neuron

    libname = f"{neuron.mechanism_prefix}nrnmech{neuron.mechanism_suffix}"
    archs = [platform.machine(), "i686", "x86_64", "powerpc", "umac"]
    return any((Path(directory) / arch / libname).exists() for arch in archs)


def _compile(directory):
    """Run nrnivmodl in `directory`, holding a lock so parallel processes build it once."""
    import fcntl  # POSIX only, as nrnivmodl

    directory = Path(directory)
    with open(directory / ".pynn_leaky_nrnivmodl.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_compiled(directory):
            return
        result = subprocess.run([_nrnivmodl()], cwd=directory, capture_output=True, text=True)
        if result.returncode != 0 or not _is_compiled(directory):
            raise RuntimeError(
                f"nrnivmodl failed in {directory} (exit status {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )


def pynn_nmodl_dir():
    """The installed pyNN/neuron/nmodl directory (found without importing pyNN.neuron)."""
    spec = importlib.util.find_spec("pyNN")
    if spec is None:
        raise ModuleNotFoundError("PyNN is not installed")
    return Path(spec.submodule_search_locations[0]) / "neuron" / "nmodl"


def ensure_neuron_mechanisms(load=False):
    """Compile the NMODL mechanisms pyNN.neuron and the LeakyIntegrator need, if missing.

    * pyNN's own (``pyNN/neuron/nmodl``): pyNN.neuron compiles them on first import only
      if ``nrnivmodl`` is on PATH, which it is not for a venv that was not activated; this
      runs the nrnivmodl beside ``sys.executable``. Call it before ``import pyNN.neuron``.
    * ``LeakyISyn`` (:data:`LEAKY_ISYN_MOD`): compiled once per NEURON version into
      ``$PYNN_LEAKY_CACHE`` (default ``~/.cache/pynn_leaky``).

    With ``load=True`` the LeakyISyn library is loaded into NEURON. Returns its directory.
    """
    if importlib.util.find_spec("neuron") is None:
        raise ModuleNotFoundError(
            "NEURON is not installed: pip install 'pynn_leaky[compare]' (or 'neuron')")
    import neuron

    pynn_dir = pynn_nmodl_dir()
    if not _is_compiled(pynn_dir):
        _compile(pynn_dir)

    digest = hashlib.sha256(LEAKY_ISYN_MOD.encode()).hexdigest()[:12]
    leaky_dir = _cache_root() / f"nmodl-{neuron.__version__}-{platform.machine()}-{digest}"
    if not _is_compiled(leaky_dir):
        leaky_dir.parent.mkdir(parents=True, exist_ok=True)
        # build in a private directory, then move it into place in one step
        build = Path(tempfile.mkdtemp(prefix="build-", dir=leaky_dir.parent))
        (build / "leaky_isyn.mod").write_text(LEAKY_ISYN_MOD)
        _compile(build)
        try:
            build.rename(leaky_dir)
        except OSError:  # another process got there first
            shutil.rmtree(build, ignore_errors=True)
    if load and not neuron.load_mechanisms(str(leaky_dir), warn_if_already_loaded=False):
        raise RuntimeError(f"NEURON could not load the mechanisms in {leaky_dir}")
    return leaky_dir


def _neuron_celltype(sim):
    ensure_neuron_mechanisms(load=True)
    from neuron import h
    from pyNN.neuron.cells import LeakySingleCompartmentNeuron
    from pyNN.recording import Variable

    class LeakyCell(LeakySingleCompartmentNeuron):
        """One compartment with a passive leak, i_offset as IClamp, two LeakyISyn."""

        def __init__(self, tau_m=10.0, c_m=10.0, v_rest=0.0, i_offset=0.0,
                     tau_e=5.0, tau_i=5.0, noise=0.0):
            LeakySingleCompartmentNeuron.__init__(self, tau_m, c_m, v_rest, i_offset)
            self.source = self.seg._ref_v  # never spikes; PyNN needs a gid source
            self.rec = None
            self.excitatory = h.LeakyISyn(0.5, sec=self)
            self.inhibitory = h.LeakyISyn(0.5, sec=self)
            self.recordable = {
                Variable("isyn_exc", None, None): self.excitatory._ref_isyn,
                Variable("isyn_inh", None, None): self.inhibitory._ref_isyn,
            }
            self.initial_values.update(isyn_exc=0.0, isyn_inh=0.0)
            self.parameters.update(tau_e=tau_e, tau_i=tau_i, noise=noise)
            self.set_parameters()

        def get_threshold(self):
            return _UNREACHABLE_THRESHOLD

        def memb_init(self):
            # runs before the INITIAL blocks, which copy isyn0 into isyn
            super().memb_init()
            self.excitatory.isyn0 = self.initial_values["isyn_exc"]
            self.inhibitory.isyn0 = self.initial_values["isyn_inh"]

        tau_e = property(lambda self: self.excitatory.tau,
                         lambda self, value: setattr(self.excitatory, "tau", value))
        tau_i = property(lambda self: self.inhibitory.tau,
                         lambda self, value: setattr(self.inhibitory, "tau", value))

        @property
        def noise(self):
            return 0.0

        @noise.setter
        def noise(self, value):
            if value != 0.0:
                raise NotImplementedError(
                    f"LeakyIntegrator: noise = {float(value):g} is not supported on NEURON (it has "
                    "no white-noise term on v); use noise = 0, or pynn_leaky / pyNN.brian2")

    class LeakyIntegrator(_PeerLeakyIntegrator):
        translations = build_translations(
            ("V_rest", "v_rest"),
            ("R", "c_m", "tau / R", "tau_m / c_m"),  # nF
            ("tau", "tau_m"),
            ("tau_syn_E", "tau_e"),
            ("tau_syn_I", "tau_i"),
            ("i_offset", "i_offset"),
            ("noise", "noise"),
        )
        model = LeakyCell
        simulator_name = "NEURON"

    return LeakyIntegrator


# -- Brian2 -----------------------------------------------------------------------------------

_BRIAN2_PARAMETERS = """
    V_rest    : volt
    R         : ohm
    tau       : second
    tau_syn_e : second
    tau_syn_i : second
    i_offset  : amp
    i_inj     : amp
    noise     : volt / second ** 0.5
"""

#: method='exp_auto': the state is plain variables advanced by the exact propagator.
#: The synaptic coupling, (dt / tau) exp(-dt / tau) exprel(dt / tau - dt / tau_syn), is
#: finite when tau_syn == tau, where the closed form of Brian2's 'exact' divides by zero.
_BRIAN2_EXACT_VARIABLES = """
    v  : volt
    ie : amp
    ii : amp
"""
_BRIAN2_EXACT_CODE = """
    decay = exp(-dt / tau)
    v_inf = V_rest + R * (i_offset + i_inj)
    v = v_inf + (v - v_inf) * decay \
        + R * ie * (dt / tau) * decay * exprel(dt / tau - dt / tau_syn_e) \
        + R * ii * (dt / tau) * decay * exprel(dt / tau - dt / tau_syn_i) \
        + noise * sqrt(tau / 2 * (1 - decay ** 2)) * randn()
    ie = ie * exp(-dt / tau_syn_e)
    ii = ii * exp(-dt / tau_syn_i)
"""
_BRIAN2_ODES = """
    dv/dt = (-(v - V_rest) + R * (ie + ii + i_offset + i_inj)) / tau {noise} : volt
    die/dt = -ie / tau_syn_e : amp
    dii/dt = -ii / tau_syn_i : amp
"""
#: pynn_leaky method -> Brian2 state updater ('rk2' in pynn_leaky is Heun's method)
_BRIAN2_METHODS = {"exp_auto": None, "euler": "euler", "rk2": "heun", "rk4": "rk4"}


def _brian2_celltype(sim):
    import brian2
    from brian2 import Mohm, ms, mV, nA
    from pyNN.brian2.cells import BaseNeuronGroup

    class LeakyNeuronGroup(BaseNeuronGroup):
        """A NeuronGroup that never spikes; exact propagator unless a Brian2 method."""

        def __init__(self, n, equations, brian2_method=None, **parameters):
            BaseNeuronGroup.__init__(self, n, equations, threshold=None, reset=None,
                                     refractory=False, method=brian2_method or "euler",
                                     **parameters)
            if brian2_method is None:
                self.run_regularly(_BRIAN2_EXACT_CODE, when="groups")

    class LeakyIntegrator(_PeerLeakyIntegrator):
        translations = build_translations(
            ("V_rest", "V_rest", mV),
            ("R", "R", Mohm),
            ("tau", "tau", ms),
            ("tau_syn_E", "tau_syn_e", ms),
            ("tau_syn_I", "tau_syn_i", ms),
            ("i_offset", "i_offset", nA),
            ("noise", "noise", mV / ms ** 0.5),
        )
        state_variable_translations = build_translations(
            ("v", "v", mV),
            ("isyn_exc", "ie", nA),
            ("isyn_inh", "ii", nA),
        )
        post_synaptic_variables = {"excitatory": "ie", "inhibitory": "ii"}
        methods = tuple(_BRIAN2_METHODS)
        simulator_name = "Brian2"

        def __init__(self, method="exp_auto", **parameters):
            super().__init__(method, **parameters)
            brian2_method = _BRIAN2_METHODS[method]
            if brian2_method is None:
                variables = _BRIAN2_EXACT_VARIABLES
            else:
                # Brian2's rk4 has no stochastic form: no noise term, noise must be 0
                noise = "+ noise * xi" if brian2_method != "rk4" else ""
                variables = _BRIAN2_ODES.format(noise=noise)
                if brian2_method == "rk4":
                    check = _reject_nonzero("noise", "Brian2 with method='rk4'",
                                            0.0 * mV / ms ** 0.5,
                                            "Brian2's rk4 is not a stochastic method")
                    self.translations = dict(
                        self.translations,
                        **build_translations(("noise", "noise", check, "noise")))
            self.eqs = brian2.Equations(variables + _BRIAN2_PARAMETERS)
            self.brian2_model = functools.partial(LeakyNeuronGroup,
                                                  brian2_method=brian2_method)

    return LeakyIntegrator
