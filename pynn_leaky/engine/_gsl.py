"""NEST's adaptive ODE integration (GSL's Runge-Kutta-Fehlberg 4(5)), vectorised over cells.

NEST integrates its conductance-based and nonlinear neuron models (iaf_cond_exp,
iaf_cond_alpha, aeif_cond_*, hh_cond_exp_traub, ...) by calling GSL's
``gsl_odeiv_evolve_apply`` with the ``rkf45`` stepper and the ``standard`` step-size
control until the end of each simulation step; the integration step size is kept from
one simulation step to the next. Those models have no closed-form solution, so NEST's
results carry the error of that scheme (its absolute tolerance is 1e-3 mV for the iaf
models). Integrating the same equations more accurately would *not* agree with NEST to
better than that; doing exactly what GSL does does. This module repeats GSL's arithmetic
operation for operation (GSL 1.15, the old ``gsl_odeiv`` interface NEST uses; checked
against the libgsl bundled with NEST's wheels in tests/test_gsl.py, where they agree to
rounding):

* stepper: Fehlberg's 4(5) pair, the derivative at the start evaluated afresh in every
  call (``rkf45_apply`` with ``dydt_in``), error estimate ``yerr = h sum(ec_i k_i)``;
* control (``std_control_hadjust``): ``D_i = eps_rel (a_y |y_i| + a_dydt |h y'_i|) +
  eps_abs_i``, ``r = max_i |yerr_i| / D_i``; ``r > 1.1``: ``h *= max(0.9 r^(-1/5), 0.2)``
  and the trial is rejected (unless the step would not change t); ``r < 0.5``:
  ``h *= min(max(0.9 r^(-1/6), 1), 5)``;
* evolve: a trial step longer than the time left is cut to it (and then ends exactly at
  the end of the simulation step); the adjusted h is kept for the next call.

``eps_abs`` is per component so that state variables can be kept in PyNN's units (uS, nA)
while the tolerance acts as it does on NEST's (nS, pA). Every cell takes its own trial
steps; the loop runs until the slowest cell has reached the end of the step (done cells
are masked).
"""

from typing import NamedTuple

import jax.numpy as jnp
from jax import lax

# Runge-Kutta-Fehlberg coefficients, exactly as GSL's ode-initval/rkf45.c writes them.
_AH = (1.0 / 4.0, 3.0 / 8.0, 12.0 / 13.0, 1.0, 1.0 / 2.0)
_B3 = (3.0 / 32.0, 9.0 / 32.0)
_B4 = (1932.0 / 2197.0, -7200.0 / 2197.0, 7296.0 / 2197.0)
_B5 = (8341.0 / 4104.0, -32832.0 / 4104.0, 29440.0 / 4104.0, -845.0 / 4104.0)
_B6 = (-6080.0 / 20520.0, 41040.0 / 20520.0, -28352.0 / 20520.0, 9295.0 / 20520.0,
       -5643.0 / 20520.0)
_C = (902880.0 / 7618050.0, 0.0, 3953664.0 / 7618050.0, 3855735.0 / 7618050.0,
      -1371249.0 / 7618050.0, 277020.0 / 7618050.0)
_EC = (1.0 / 360.0, 0.0, -128.0 / 4275.0, -2197.0 / 75240.0, 1.0 / 50.0, 2.0 / 55.0)
_ORDER = 5

MAX_TRIALS = 10_000
"""Trial steps per simulation step after which a cell is given up (its v becomes NaN)."""


class Control(NamedTuple):
    """GSL's standard step-size control (``gsl_odeiv_control_standard_new``)."""

    eps_abs: tuple  # per state component, in that component's units
    eps_rel: float
    a_y: float
    a_dydt: float


def y_control(eps_abs, eps_rel):
    """``gsl_odeiv_control_y_new``: the tolerance acts on the values."""
    return Control(tuple(eps_abs), eps_rel, 1.0, 0.0)


def yp_control(eps_abs, eps_rel):
    """``gsl_odeiv_control_yp_new``: the tolerance acts on the derivatives (times h)."""
    return Control(tuple(eps_abs), eps_rel, 0.0, 1.0)


def _sum(coefficients, ks, i):
    """``c_0 k_0[i] + c_1 k_1[i] + ...`` summed left to right (zero terms left out), as GSL."""
    acc = None
    for c, k in zip(coefficients, ks):
        if c != 0.0:
            acc = c * k[i] if acc is None else acc + c * k[i]
    return acc


def _combine(y, h, coefficients, ks):
    """``y_i + h * (c_0 k_0 + c_1 k_1 + ...)`` for every component."""
    return tuple(yi + h * _sum(coefficients, ks, i) for i, yi in enumerate(y))


def _rkf45(f, y, aux, h, k1, need_dydt_out):
    """One trial step of length h (per cell); returns (y_new, yerr, dydt at y_new)."""
    k2 = f(tuple(yi + _AH[0] * h * ki for yi, ki in zip(y, k1)), aux)
    k3 = f(_combine(y, h, _B3, (k1, k2)), aux)
    k4 = f(_combine(y, h, _B4, (k1, k2, k3)), aux)
    k5 = f(_combine(y, h, _B5, (k1, k2, k3, k4)), aux)
    k6 = f(_combine(y, h, _B6, (k1, k2, k3, k4, k5)), aux)
    ks = (k1, k2, k3, k4, k5, k6)
    y_new = _combine(y, h, _C, ks)
    # difference between the 4th and 5th order solutions
    yerr = tuple(h * _sum(_EC, ks, i) for i in range(len(y)))
    dydt_out = f(y_new, aux) if need_dydt_out else None
    return y_new, yerr, dydt_out


def _hadjust(control: Control, y, yerr, dydt, h):
    """GSL's ``std_control_hadjust``: (new h, whether it asks for a smaller step)."""
    dtype = h.dtype
    rmax = jnp.full(h.shape, jnp.finfo(dtype).tiny, dtype)
    for i in range(len(y)):
        scale = control.a_y * jnp.abs(y[i]) if control.a_y else 0.0
        if control.a_dydt:
            scale = scale + control.a_dydt * jnp.abs(h * dydt[i])
        d0 = control.eps_rel * scale + control.eps_abs[i]
        r = jnp.abs(yerr[i]) / jnp.abs(d0)
        rmax = jnp.where(r > rmax, r, rmax)  # GSL_MAX_DBL: a NaN ratio is ignored
    dec = rmax > 1.1
    inc = rmax < 0.5
    r_dec = jnp.maximum(0.9 / jnp.power(rmax, 1.0 / _ORDER), 0.2)
    r_inc = jnp.maximum(jnp.minimum(0.9 / jnp.power(rmax, 1.0 / (_ORDER + 1.0)), 5.0), 1.0)
    h_new = jnp.where(dec, r_dec * h, jnp.where(inc, r_inc * h, h))
    return h_new, dec


def evolve(f, y, h, dt, control: Control, aux=None, after_step=None):
    """Integrate ``dy/dt = f(y, aux)`` over one simulation step (0, dt], as NEST does.

    Parameters
    ----------
    f : callable ``(y, aux) -> dy/dt``, both tuples of (n,) arrays (the model's equations).
    y : tuple of (n,) arrays, the state at the start of the step.
    h : (n,) integration step size carried over from the previous step (ms).
    dt : the simulation step (ms).
    aux : pytree of per-cell values that ``f`` reads and ``after_step`` may change (e.g.
        a refractory count); constant during a trial step.
    after_step : optional ``(y, aux, accepted) -> (y, aux)``, called after every trial
        with the mask of cells whose step was accepted (NEST's aeif models detect spikes
        there, inside the integration loop).

    Returns
    -------
    (y, h, aux): the state at the end of the step, the step size to start the next step
    with, and ``aux``. A cell that needs more than MAX_TRIALS trials gets v = NaN.
    """
    need_dydt_out = bool(control.a_dydt)
    t0 = jnp.zeros_like(h)

    def cond(c):
        return jnp.any(c[1] < dt) & (c[0] < MAX_TRIALS)

    def body(c):
        it, t, h, y, aux = c
        active = t < dt
        left = dt - t
        final = h > left
        h0 = jnp.where(final, left, h)
        k1 = f(y, aux)
        y_new, yerr, dydt = _rkf45(f, y, aux, h0, k1, need_dydt_out)
        t_new = jnp.where(final, dt, t + h0)
        h_adj, dec = _hadjust(control, y_new, yerr, dydt, h0)
        retry = dec & (h_adj < h0) & (t_new + h_adj != t_new)
        accepted = active & ~retry
        y = tuple(jnp.where(accepted, a, b) for a, b in zip(y_new, y))
        t = jnp.where(accepted, t_new, t)
        h = jnp.where(active, h_adj, h)
        if after_step is not None:
            y, aux = after_step(y, aux, accepted)
        return it + 1, t, h, y, aux

    _, t, h, y, aux = lax.while_loop(cond, body, (jnp.asarray(0, jnp.int32), t0, h, y, aux))
    unfinished = t < dt
    y = (jnp.where(unfinished, jnp.nan, y[0]),) + tuple(y[1:])
    return y, h, aux


def start_step(h, h_initial):
    """The stored step size, or ``h_initial`` where none is stored yet (h == 0)."""
    return jnp.where(h > 0, h, h_initial)
