"""A synapse table whose synapses all have one weight keeps it as one value (shape (1,)):
delivery gives exactly what the per-synapse table gives, in both modes and under vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pynn_leaky.engine import _synapses


def _tables(n_pre=6, n_cells=5, ring=4, seed=0):
    rng = np.random.default_rng(seed)
    fan = rng.integers(0, 5, n_pre)  # 0..4 synapses per presynaptic cell, some empty
    row_ptr = np.concatenate([[0], np.cumsum(fan)])
    n_syn = int(row_ptr[-1])
    target = rng.integers(0, 2 * n_cells, n_syn)
    delay = rng.integers(1, ring, n_syn)
    layout = _synapses.SynapseLayout(n_pre=n_pre, n_target=2 * n_cells, n_syn=n_syn,
                                     ring=ring, max_fanout=int(fan.max()), mode="event",
                                     min_delay=int(delay.min()))
    weight = np.full(n_syn, -0.37)
    one = _synapses.SynapseTable.of(row_ptr, target, delay, weight, layout)
    # a JAX weight array is kept per synapse, as it is (the gradients' path)
    full = _synapses.SynapseTable.of(row_ptr, target, delay, jnp.asarray(weight), layout)
    return layout, one, full


def test_one_weight_for_all_is_kept_as_one_value():
    layout, one, full = _tables()
    assert one.weight.shape == (1,) and float(one.weight[0]) == -0.37
    assert full.weight.shape == (layout.n_syn,)


@pytest.mark.parametrize("mode", ["event", "dense"])
def test_delivery_with_one_weight_equals_the_per_synapse_table(mode):
    layout, one, full = _tables()
    layout = layout._replace(mode=mode)
    rng = np.random.default_rng(3)
    buffer = jnp.asarray(rng.random(layout.ring * layout.n_target))
    for k in range(5):
        counts = jnp.asarray(rng.integers(0, 3, layout.n_pre), jnp.int32)  # counts > 1 too
        a = jax.jit(_synapses.deliver, static_argnums=4)(one, buffer, counts, k, layout)
        b = jax.jit(_synapses.deliver, static_argnums=4)(full, buffer, counts, k, layout)
        assert np.array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(np.asarray(a), np.asarray(buffer)) or not counts.any()
    if mode == "event":  # a window of 3 rows, and trials under vmap
        window = jnp.asarray(rng.integers(0, 2, (3, layout.n_pre)), jnp.int32)
        a, b = (_synapses.deliver(t, buffer, window, 2, layout) for t in (one, full))
        assert np.array_equal(np.asarray(a), np.asarray(b))
        trials = jnp.asarray(rng.integers(0, 2, (4, layout.n_pre)), jnp.int32)
        a, b = (jax.vmap(lambda c, t=t: _synapses.deliver(t, buffer, c, 1, layout))(trials)
                for t in (one, full))
        assert np.array_equal(np.asarray(a), np.asarray(b))
