"""A synapse table whose synapses all have one weight keeps it as one value (shape (1,)),
and one whose presynaptic cells each give all their synapses one weight keeps one per cell
(shape (n_pre, 1)): delivery gives exactly what the per-synapse table gives, in both modes
and under vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pynn_leaky.engine import _synapses


def _tables(n_pre=6, n_cells=5, ring=4, seed=0, per_row=False):
    rng = np.random.default_rng(seed)
    fan = rng.integers(0, 5, n_pre)  # 0..4 synapses per presynaptic cell, some empty
    row_ptr = np.concatenate([[0], np.cumsum(fan)])
    n_syn = int(row_ptr[-1])
    target = rng.integers(0, 2 * n_cells, n_syn)
    delay = rng.integers(1, ring, n_syn)
    layout = _synapses.SynapseLayout(n_pre=n_pre, n_target=2 * n_cells, n_syn=n_syn,
                                     ring=ring, max_fanout=int(fan.max()), mode="event",
                                     min_delay=int(delay.min()))
    # one weight for all, or one per presynaptic cell (its row: distinct values)
    weight = np.repeat(-0.1 - rng.random(n_pre), fan) if per_row else np.full(n_syn, -0.37)
    one = _synapses.SynapseTable.of(row_ptr, target, delay, weight, layout)
    # a JAX weight array is kept per synapse, as it is (the gradients' path)
    full = _synapses.SynapseTable.of(row_ptr, target, delay, jnp.asarray(weight), layout)
    return layout, one, full


def test_one_weight_for_all_is_kept_as_one_value():
    layout, one, full = _tables()
    assert one.weight.shape == (1,) and float(one.weight[0]) == -0.37
    assert full.weight.shape == (layout.n_syn,)


def test_one_weight_per_presynaptic_cell_is_kept_per_cell():
    layout, row, full = _tables(per_row=True)
    assert row.weight.shape == (layout.n_pre, 1)
    assert full.weight.shape == (layout.n_syn,)
    ptr = np.asarray(row.row_ptr)
    for i in range(layout.n_pre):  # every synapse of row i has the row's weight
        assert np.all(np.asarray(full.weight)[ptr[i]:ptr[i + 1]] == float(row.weight[i, 0]))


@pytest.mark.parametrize("weight, row_ptr, kept", [
    ([1.0, 1.0, 2.0, 2.0, 2.0], [0, 2, 5], "row"),
    ([1.0, 1.0, 2.0, 2.0, 2.0], [0, 2, 2, 2, 5], "row"),  # empty rows between
    ([1.0, 1.0, 2.0, 2.0, 2.0], [0, 0, 2, 5, 5], "row"),  # empty first and last rows
    ([1.0, 2.0, 2.0, 2.0, 2.0], [0, 2, 5], "synapse"),  # a change inside row 0
    ([1.0, 1.0, 2.0, 2.0, 3.0], [0, 2, 5], "synapse"),  # more changes than row starts
    ([1.0, 2.0, 3.0], [0, 1, 2, 3], "synapse"),  # a row per synapse: nothing saved
])
def test_per_row_weights_only_where_every_row_shares_one(weight, row_ptr, kept):
    weight, row_ptr = np.asarray(weight), np.asarray(row_ptr)
    out = _synapses._per_row(weight, row_ptr)
    if kept == "synapse":
        assert out is weight
    else:
        assert out.shape == (row_ptr.size - 1, 1)
        for i in range(row_ptr.size - 1):
            assert np.all(weight[row_ptr[i]:row_ptr[i + 1]] == out[i, 0])


@pytest.mark.parametrize("per_row", [False, True], ids=["one", "per-cell"])
@pytest.mark.parametrize("mode", ["event", "dense"])
def test_delivery_with_shared_weights_equals_the_per_synapse_table(mode, per_row):
    layout, one, full = _tables(per_row=per_row)
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


def test_a_table_keeps_its_own_copy_unless_given_the_arrays():
    """Offsets and weights not given to the table (the default) are copied: changing the
    caller's arrays afterwards leaves the table as it was. Given ones (new arrays from the
    build, 64-byte aligned) hold the same values."""
    from pynn_leaky._build import empty_aligned

    row_ptr = np.array([0, 300, 1000])
    for dtype in (np.int32, np.float64):
        for n in (0, 1, 1000):
            a = empty_aligned(n, dtype)
            assert a.dtype == dtype and a.shape == (n,)
            assert n == 0 or a.ctypes.data % 64 == 0
    offset, weight = empty_aligned(1000, np.int32), empty_aligned(1000, np.float64)
    offset[:], weight[:] = np.arange(1000), np.linspace(0.1, 1.0, 1000)
    own = _synapses.SynapseTable.of_offsets(row_ptr, offset, weight)
    given = _synapses.SynapseTable.of_offsets(row_ptr, offset, weight, given=True)
    for table in (own, given):
        assert np.array_equal(table.offset, np.arange(1000))
        assert np.array_equal(table.weight, np.linspace(0.1, 1.0, 1000))
    offset[:], weight[:] = -1, -1.0  # the caller's arrays change: a copy does not
    assert np.array_equal(own.offset, np.arange(1000))
    assert np.array_equal(own.weight, np.linspace(0.1, 1.0, 1000))
