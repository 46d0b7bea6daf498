"""BrainPy's leaky integrator as a pure-JAX cell model.

.. math::

    \\tau \\frac{dv}{dt} = -(v - V_{rest}) + R\\,(I_{syn,E} + I_{syn,I} + i_{offset} + I_{inj})

    \\frac{dI_{syn,X}}{dt} = -\\frac{I_{syn,X}}{\\tau_{syn,X}}, \\qquad
    I_{syn,X} \\mathrel{+}= w \\text{ on each arriving spike}

Units: mV, ms, nA, MOhm; ``noise`` in mV/sqrt(ms) adds ``noise * dW`` to ``dv``.

The model is the Optax-style pair ``prepare(params, dt) -> Propagators`` (done once per
chunk, outside the step loop) and ``step(prop, state, ...) -> state``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

METHODS = ("exp_auto", "euler", "rk2", "rk4")


class LeakyParams(NamedTuple):
    V_rest: jax.Array  # (n,) mV
    R: jax.Array  # (n,) MOhm
    tau: jax.Array  # (n,) ms
    tau_syn_E: jax.Array  # (n,) ms
    tau_syn_I: jax.Array  # (n,) ms
    i_offset: jax.Array  # (n,) nA
    noise: jax.Array  # (n,) mV/sqrt(ms)


class LeakyState(NamedTuple):
    v: jax.Array  # (n,) mV
    isyn_exc: jax.Array  # (n,) nA
    isyn_inh: jax.Array  # (n,) nA


class Propagators(NamedTuple):
    """Per-cell coefficients of one step of length ``dt``; see :func:`prepare`."""

    params: LeakyParams
    dt: jax.Array  # () ms
    p_vv: jax.Array  # (n,) decay of v - V_rest
    p_vi: jax.Array  # (n,) MOhm, response of v to a current held constant over the step
    p_ve: jax.Array  # (n,) MOhm, response of v to isyn_exc decaying over the step
    p_vin: jax.Array  # (n,) MOhm, response of v to isyn_inh decaying over the step
    p_ee: jax.Array  # (n,) decay of isyn_exc
    p_ii: jax.Array  # (n,) decay of isyn_inh
    noise_sd: jax.Array  # (n,) mV, standard deviation of the noise increment


def _relative_expm1(x):
    """``(1 - exp(-x)) / x``, continuous at ``x = 0`` (where it is 1)."""
    small = jnp.abs(x) < 1e-6
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - 0.5 * x + x * x / 6.0, -jnp.expm1(-safe) / safe)


def _syn_to_v(R, a, dt, tau_syn):
    # Exact response of v after one step to a synaptic current i0*exp(-t/tau_syn):
    # R*a*(exp(-a) - exp(-b))/(b - a) with a = dt/tau, b = dt/tau_syn, written so that
    # tau == tau_syn (b == a) is not singular.
    b = dt / tau_syn
    return R * a * jnp.exp(-a) * _relative_expm1(b - a)


def prepare(params: LeakyParams, dt, method: str) -> Propagators:
    """Compute the step coefficients once per chunk (never inside the step loop)."""
    dt = jnp.asarray(dt, params.tau.dtype)
    a = dt / params.tau
    p_vv = jnp.exp(-a)
    if method == "exp_auto":
        noise_sd = params.noise * jnp.sqrt(0.5 * params.tau * -jnp.expm1(-2.0 * a))
    else:
        noise_sd = params.noise * jnp.sqrt(dt)
    return Propagators(
        params=params,
        dt=dt,
        p_vv=p_vv,
        p_vi=-params.R * jnp.expm1(-a),
        p_ve=_syn_to_v(params.R, a, dt, params.tau_syn_E),
        p_vin=_syn_to_v(params.R, a, dt, params.tau_syn_I),
        p_ee=jnp.exp(-dt / params.tau_syn_E),
        p_ii=jnp.exp(-dt / params.tau_syn_I),
        noise_sd=noise_sd,
    )


def init(n: int, dtype, v=None) -> LeakyState:
    """Initial state: v = 0 mV (the seed's ZeroInit) unless given, no synaptic current."""
    zeros = jnp.zeros((n,), dtype)
    v = zeros if v is None else jnp.asarray(v, dtype)
    return LeakyState(v=v, isyn_exc=zeros, isyn_inh=zeros)


def _derivative(p: LeakyParams, i_ext, y):
    v, ie, ii = y
    dv = (-(v - p.V_rest) + p.R * (ie + ii + i_ext)) / p.tau
    return dv, -ie / p.tau_syn_E, -ii / p.tau_syn_I


def _explicit(prop: Propagators, i_ext, y, method):
    p, h = prop.params, prop.dt
    f = lambda y_: _derivative(p, i_ext, y_)  # noqa: E731
    axpy = lambda y_, k, c: tuple(a + c * b for a, b in zip(y_, k))  # noqa: E731
    k1 = f(y)
    if method == "euler":
        return axpy(y, k1, h)
    if method == "rk2":  # Heun's method, as BrainPy's rk2
        k2 = f(axpy(y, k1, h))
        return tuple(a + 0.5 * h * (b + c) for a, b, c in zip(y, k1, k2))
    k2 = f(axpy(y, k1, 0.5 * h))
    k3 = f(axpy(y, k2, 0.5 * h))
    k4 = f(axpy(y, k3, h))
    return tuple(
        a + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
        for a, b1, b2, b3, b4 in zip(y, k1, k2, k3, k4)
    )


def step(
    prop: Propagators,
    state: LeakyState,
    i_inj,
    arrive_exc,
    arrive_inh,
    key,
    method: str,
    has_noise: bool,
) -> LeakyState:
    """Advance one step from t_k to t_k + dt.

    ``i_inj`` (nA) is the injected current held over the step; ``arrive_exc`` and
    ``arrive_inh`` (nA) are the weights of spikes arriving at t_k + dt, added to the
    synaptic currents after the step so that v first feels them one step later.
    """
    p = prop.params
    i_ext = p.i_offset + i_inj
    if method == "exp_auto":
        v = (
            p.V_rest
            + (state.v - p.V_rest) * prop.p_vv
            + prop.p_vi * i_ext
            + prop.p_ve * state.isyn_exc
            + prop.p_vin * state.isyn_inh
        )
        ie = state.isyn_exc * prop.p_ee
        ii = state.isyn_inh * prop.p_ii
    else:
        v, ie, ii = _explicit(prop, i_ext, (state.v, state.isyn_exc, state.isyn_inh), method)
    if has_noise:
        v = v + prop.noise_sd * jax.random.normal(key, v.shape, v.dtype)
    return LeakyState(v=v, isyn_exc=ie + arrive_exc, isyn_inh=ii + arrive_inh)


RECORDABLES = LeakyState._fields
