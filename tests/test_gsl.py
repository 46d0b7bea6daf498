"""engine.gsl against GSL itself: the libgsl that NEST's wheels bundle, through ctypes.

The same ODE (an iaf_cond_exp cell in NEST's units, with conductance jumps and current
steps between calls, so that steps are rejected and shrunk) is integrated step by step by
``gsl_odeiv_evolve_apply`` (rkf45, standard control, as NEST calls it) and by
``engine.gsl.evolve``. They agree to rounding: XLA may fuse multiply-adds and round the
error estimate differently, which moves the step size in its last bits (measured: v 9e-14
mV, h 6e-7 relative). Skipped when no libgsl is found next to NEST.
"""

import ctypes
import glob
import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pynn_leaky.engine import gsl

_spec = importlib.util.find_spec("nest")
_LIBS = (os.path.join(os.path.dirname(os.path.dirname(_spec.origin)), "nest_simulator.libs")
         if _spec else "")
if not glob.glob(os.path.join(_LIBS, "libgsl-*")):  # pragma: no cover
    pytest.skip("no libgsl bundled with NEST", allow_module_level=True)

_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_double, ctypes.POINTER(ctypes.c_double),
                         ctypes.POINTER(ctypes.c_double), ctypes.c_void_p)


class _System(ctypes.Structure):
    _fields_ = [("function", _FUNC), ("jacobian", ctypes.c_void_p),
                ("dimension", ctypes.c_size_t), ("params", ctypes.c_void_p)]


def _libgsl():
    # libgsl's own dependencies, loaded globally first (their names carry wheel hashes)
    for pattern in ("libquadmath-*", "libgfortran-*", "libsatlas-*", "libgslcblas-*"):
        for path in glob.glob(os.path.join(_LIBS, pattern)):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(glob.glob(os.path.join(_LIBS, "libgsl-*"))[0])
    lib.gsl_odeiv_step_alloc.restype = ctypes.c_void_p
    lib.gsl_odeiv_step_alloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.gsl_odeiv_control_y_new.restype = ctypes.c_void_p
    lib.gsl_odeiv_control_y_new.argtypes = [ctypes.c_double, ctypes.c_double]
    lib.gsl_odeiv_evolve_alloc.restype = ctypes.c_void_p
    lib.gsl_odeiv_evolve_alloc.argtypes = [ctypes.c_size_t]
    lib.gsl_odeiv_evolve_apply.argtypes = [ctypes.c_void_p] * 4 + [
        ctypes.POINTER(ctypes.c_double), ctypes.c_double, ctypes.POINTER(ctypes.c_double),
        ctypes.POINTER(ctypes.c_double)]
    return lib


# iaf_cond_exp in NEST's units (nS, pF, pA), strong fast synapses
G_L, E_L, E_EX, E_IN, C_M, TAU_EX, TAU_IN, I_E = 16.6667, -70.0, 0.0, -85.0, 250.0, 0.2, 2.0, 300.0


def _rhs(xp, v, ge, gi, i_stim):
    dv = (-G_L * (v - E_L) + i_stim + I_E - ge * (v - E_EX) - gi * (v - E_IN)) / C_M
    return dv, -ge / TAU_EX, -gi / TAU_IN


def test_evolve_repeats_gsl_odeiv_evolve_apply():
    lib = _libgsl()
    stim = [0.0]

    def c_rhs(t, y, dydt, params):
        for i, d in enumerate(_rhs(np, y[0], y[1], y[2], stim[0])):
            dydt[i] = d
        return 0

    callback = _FUNC(c_rhs)
    system = _System(callback, None, 3, None)
    rkf45 = ctypes.c_void_p.in_dll(lib, "gsl_odeiv_step_rkf45")
    step = lib.gsl_odeiv_step_alloc(rkf45, 3)
    control = lib.gsl_odeiv_control_y_new(1e-3, 0.0)
    evolve = lib.gsl_odeiv_evolve_alloc(3)

    control_jax = gsl.y_control((1e-3, 1e-3, 1e-3), 0.0)
    one_step = jax.jit(lambda y, h, s: gsl.evolve(
        lambda yy, aux: _rhs(jnp, *yy, s), y, h, 0.1, control_jax)[:2])

    rng = np.random.default_rng(0)
    y_c, h_c = np.array([-70.0, 0.0, 0.0]), 0.1
    y_j, h_j = tuple(jnp.array([x]) for x in y_c), jnp.array([0.1])
    dv, dh, shrunk = 0.0, 0.0, 0
    for _ in range(1500):
        t, h_before = ctypes.c_double(0.0), h_c
        while t.value < 0.1:
            h = ctypes.c_double(h_c)
            arr = (ctypes.c_double * 3)(*y_c)
            assert lib.gsl_odeiv_evolve_apply(evolve, control, step, ctypes.byref(system),
                                              ctypes.byref(t), 0.1, ctypes.byref(h), arr) == 0
            y_c, h_c = np.array(arr[:]), h.value
        shrunk += h_c < min(h_before, 0.1)
        y_j, h_j = one_step(y_j, h_j, stim[0])
        dv = max(dv, abs(float(y_j[0][0]) - y_c[0]))
        dh = max(dh, abs(float(h_j[0]) - h_c) / h_c)
        # between steps, as NEST: spikes arrive, the input current changes, v resets
        jumps = (rng.random(2) < (0.1, 0.05)) * rng.uniform(0, 60, 2)
        y_c[1:] += jumps
        y_j = (y_j[0], y_j[1] + jumps[0], y_j[2] + jumps[1])
        if y_c[0] >= -55.0:
            y_c[0] = -70.0
            y_j = (jnp.where(y_j[0] >= -55.0, -70.0, y_j[0]),) + y_j[1:]
        if rng.random() < 0.02:
            stim[0] = rng.uniform(-100, 100)
    assert shrunk > 50  # the control did reject and shrink steps
    assert dv < 1e-11, dv
    assert dh < 1e-5, dh
