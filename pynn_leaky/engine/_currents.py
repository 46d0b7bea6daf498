"""Current sources injected into cells: step-wise, sinusoidal and noisy.

Each source has a value per step k; the value at step k is held over (t_k, t_k + dt],
so a source that starts at t_s first changes v at t_s + dt.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class StepCurrents(NamedTuple):
    """DCSource and StepCurrentSource: piecewise-constant amplitudes."""

    times: jax.Array  # (n, T) int32 step of each change, ascending, padded with NEVER
    amps: jax.Array  # (n, T) nA, amplitude from that step on


class ACCurrents(NamedTuple):
    amplitude: jax.Array  # (n,) nA
    offset: jax.Array  # (n,) nA
    frequency: jax.Array  # (n,) Hz
    phase: jax.Array  # (n,) degrees
    start: jax.Array  # (n,) int32 first active step
    stop: jax.Array  # (n,) int32 first inactive step


class NoisyCurrents(NamedTuple):
    mean: jax.Array  # (n,) nA
    stdev: jax.Array  # (n,) nA
    start: jax.Array  # (n,) int32 first active step
    stop: jax.Array  # (n,) int32 first inactive step
    period: jax.Array  # (n,) int32 steps between new noise values


class CurrentTables(NamedTuple):
    steps: StepCurrents
    ac: ACCurrents
    noisy: NoisyCurrents
    source: jax.Array  # (E,) int32 source index (step, then ac, then noisy sources)
    target: jax.Array  # (E,) int32 target cell (global LeakyIntegrator index)


def source_values(tables: CurrentTables, k, dt, key):
    """Value (nA) of every current source at step k, shape (n_sources,)."""
    st = tables.steps
    idx = jnp.sum(st.times <= k, axis=1) - 1
    step_vals = jnp.where(
        idx >= 0, jnp.take_along_axis(st.amps, jnp.maximum(idx, 0)[:, None], 1)[:, 0], 0.0
    )
    ac = tables.ac
    t = (k - ac.start) * dt  # PyNN: the phase is measured from the source's start
    ac_vals = ac.offset + ac.amplitude * jnp.sin(
        2.0 * jnp.pi * ac.frequency * t * 1e-3 + jnp.deg2rad(ac.phase)
    )
    ac_vals = jnp.where((k >= ac.start) & (k < ac.stop), ac_vals, 0.0)
    nz = tables.noisy
    n_noisy = nz.mean.shape[0]
    segment = (k - nz.start) // jnp.maximum(nz.period, 1)
    keys = jax.vmap(lambda i, s: jax.random.fold_in(jax.random.fold_in(key, i), s))(
        jnp.arange(n_noisy), segment
    )
    xi = jax.vmap(lambda kk: jax.random.normal(kk, (), nz.mean.dtype))(keys)
    nz_vals = jnp.where((k >= nz.start) & (k < nz.stop), nz.mean + nz.stdev * xi, 0.0)
    return jnp.concatenate([step_vals, ac_vals.astype(step_vals.dtype), nz_vals])


def injected(tables: CurrentTables, values, n_cells: int):
    """Total injected current per cell (n_cells,) from the source values."""
    out = jnp.zeros((n_cells,), values.dtype)
    if tables.source.shape[0] == 0:
        return out
    return out.at[tables.target].add(values[tables.source])
