"""Point neurons with any number R of synapse types (PyNN's PointNeuron compositions).

* ``lif_exp_multi{R}`` — leaky integrate-and-fire with R exponential synaptic currents
  (NEST's iaf_psc_exp_multisynapse): the exact integration of :mod:`._iaf` with one
  current per receptor, each with its own ``tau_syn``.
* ``aeif_alpha_multi{R}`` — adaptive exponential integrate-and-fire with R alpha-shaped
  conductances (NEST's aeif_cond_alpha_multisynapse), each with its own ``tau_syn`` and
  reversal potential ``e_syn``, integrated as :mod:`._aeif` (NEST's adaptive RKF45 with
  spikes detected after every integration step).

Receptor r of a cell receives the ring buffer's row r (``target = r * n_cells + cell``);
its state is the field ``syn{r}`` (nA for currents, uS for conductances; ``dsyn{r}`` is
the alpha conductance's derivative), so that each receptor can be recorded on its own.
Parameters are (n, R) arrays: cells first, so that populations concatenate and shard
along the cell axis.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _aeif, _gsl, _leaky

R_MAX = 8


class LifMultiParams(NamedTuple):
    v_rest: jax.Array  # (n,) mV
    R: jax.Array  # (n,) MOhm, tau_m / cm
    tau_m: jax.Array  # (n,) ms
    i_offset: jax.Array  # (n,) nA
    v_thresh: jax.Array  # (n,) mV
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 steps
    tau_syn: jax.Array  # (n, R) ms


class AdexMultiParams(NamedTuple):
    v_rest: jax.Array  # (n,) mV
    cm: jax.Array  # (n,) nF
    g_leak: jax.Array  # (n,) uS
    i_offset: jax.Array  # (n,) nA
    a: jax.Array  # (n,) uS
    b: jax.Array  # (n,) nA
    delta_T: jax.Array  # (n,) mV
    tau_w: jax.Array  # (n,) ms
    v_thresh: jax.Array  # (n,) mV
    v_spike: jax.Array  # (n,) mV
    v_reset: jax.Array  # (n,) mV
    refrac: jax.Array  # (n,) int32 steps
    e_syn: jax.Array  # (n, R) mV
    tau_syn: jax.Array  # (n, R) ms


def _state_class(name, fields):
    return NamedTuple(name, [(f, jax.Array) for f in fields])


LIF_STATES = {r: _state_class(f"LifExpMulti{r}State",
                              ["v", *[f"syn{i}" for i in range(r)], "refrac"])
              for r in range(1, R_MAX + 1)}
ADEX_STATES = {r: _state_class(f"AdexAlphaMulti{r}State",
                               ["v", *[f"syn{i}" for i in range(r)],
                                *[f"dsyn{i}" for i in range(r)], "w", "refrac", "h_ode"])
               for r in range(1, R_MAX + 1)}


def _zeros_state(cls, n, dtype):
    return cls(**{f: jnp.zeros((n,), jnp.int32 if f == "refrac" else dtype)
                  for f in cls._fields})


# -- LIF with exponential currents ------------------------------------------------------
def prepare_lif(params: LifMultiParams, dt, method):
    dt = jnp.asarray(dt, params.tau_m.dtype)
    a = dt / params.tau_m
    p_vs = jax.vmap(lambda tau: _leaky._syn_to_v(params.R, a, dt, tau), in_axes=1,
                    out_axes=1)(params.tau_syn)
    return params, jnp.exp(-a), -params.R * jnp.expm1(-a), p_vs, jnp.exp(-dt / params.tau_syn)


def step_lif(prepared, state, i_inj, arrivals, _unused, key, method, has_noise):
    """Advance one step; ``arrivals`` (R, n). Return (state, spikes (n,) bool)."""
    p, p_vv, p_vi, p_vs, p_ss = prepared
    r = p.tau_syn.shape[1]
    syn = [getattr(state, f"syn{i}") for i in range(r)]
    v = p.v_rest + (state.v - p.v_rest) * p_vv + p_vi * (p.i_offset + i_inj)
    for i in range(r):
        v = v + p_vs[:, i] * syn[i]
    refractory = state.refrac > 0
    v = jnp.where(refractory, state.v, v)
    spikes = (v >= p.v_thresh) & ~refractory
    refrac = jnp.where(refractory, state.refrac - 1, 0)
    new = {f"syn{i}": syn[i] * p_ss[:, i] + arrivals[i] for i in range(r)}
    return type(state)(v=jnp.where(spikes, p.v_reset, v), **new,
                       refrac=jnp.where(spikes, p.refrac, refrac)), spikes


# -- AdEx with alpha conductances -------------------------------------------------------
def prepare_adex(params: AdexMultiParams, dt, method):
    return params, jnp.asarray(dt, params.cm.dtype)


_TOL = 1e-6


def step_adex(prepared, state, i_inj, arrivals, _unused, key, method, has_noise):
    """Advance one step; ``arrivals`` (R, n) uS. Return (state, spike counts (n,) int32)."""
    p, _ = prepared
    r = p.tau_syn.shape[1]
    control = _gsl.yp_control((_TOL,) + (_TOL * 1e-3,) * (2 * r + 1), _TOL)

    def f(y, aux):
        v, g, dg, w = y[0], y[1:1 + r], y[1 + r:1 + 2 * r], y[-1]
        refractory = aux[0] > 0
        v = jnp.where(refractory, p.v_reset, jnp.minimum(v, p.v_spike))
        i_syn = 0.0
        for i in range(r):  # NEST's order: sum of g_i (E_i - V)
            i_syn = i_syn + g[i] * (p.e_syn[:, i] - v)
        plain = p.delta_T == 0.0
        delta = jnp.where(plain, 1.0, p.delta_T)
        i_spike = jnp.where(plain, 0.0,
                            p.g_leak * p.delta_T * jnp.exp((v - p.v_thresh) / delta))
        dv = (-p.g_leak * (v - p.v_rest) + i_spike + i_syn - w + p.i_offset + i_inj) / p.cm
        dw = (p.a * (v - p.v_rest) - w) / p.tau_w
        d_g = tuple(dg[i] - g[i] / p.tau_syn[:, i] for i in range(r))
        d_dg = tuple(-dg[i] / p.tau_syn[:, i] for i in range(r))
        return (jnp.where(refractory, 0.0, dv), *d_g, *d_dg, dw)

    y0 = (state.v, *[getattr(state, f"syn{i}") for i in range(r)],
          *[getattr(state, f"dsyn{i}") for i in range(r)], state.w)
    y, h, refrac, count = _aeif._integrate(prepared, y0, state, i_inj, f, control)
    new = {f"syn{i}": y[1 + i] for i in range(r)}
    new.update({f"dsyn{i}": y[1 + r + i] + arrivals[i] * (jnp.e / p.tau_syn[:, i])
                for i in range(r)})
    return type(state)(v=y[0], **new, w=y[-1], refrac=refrac, h_ode=h), count


def models(model_class):
    """The MODELS entries of this module, for every R (``model_class`` builds one)."""
    out = {}
    for r in range(1, R_MAX + 1):
        out[f"lif_exp_multi{r}"] = model_class(
            prepare_lif, step_lif, lambda n, dt, c=LIF_STATES[r]: _zeros_state(c, n, dt),
            LIF_STATES[r], True, ("v", *[f"syn{i}" for i in range(r)]), r)
        out[f"aeif_alpha_multi{r}"] = model_class(
            prepare_adex, step_adex, lambda n, dt, c=ADEX_STATES[r]: _zeros_state(c, n, dt),
            ADEX_STATES[r], True, ("v", "w", *[f"syn{i}" for i in range(r)]), r)
    return out
