"""Every point-neuron connector of PyNN builds on pynn_leaky.

Connectors without a vectorised builder go through PyNN's own code, so with the same
seeded RNG they must give exactly the connections pyNN.mock gives. The vectorised ones
(AllToAll, OneToOne, FixedProbability, FixedNumberPre) are checked for their defining
property instead.
"""

import numpy as np
import pyNN.mock as mock
import pytest
from pyNN import connectors, space
from pyNN.random import NumpyRNG

import pynn_leaky as sim

N_PRE, N_POST = 16, 9


def _build(backend, make_connector, tmp_path):
    backend.setup(timestep=0.1)
    pre = backend.Population(N_PRE, backend.SpikeSourceArray(spike_times=[1.0]),
                             structure=space.Grid2D())
    post_type = sim.LeakyIntegrator() if backend is sim else backend.IF_curr_exp()
    post = backend.Population(N_POST, post_type, structure=space.Grid2D())
    prj = backend.Projection(pre, post, make_connector(tmp_path),
                             backend.StaticSynapse(weight=0.5, delay=0.3))
    conns = sorted((int(i), int(j), float(w), round(float(d), 9))
                   for i, j, w, d in prj.get(["weight", "delay"], format="list"))
    if backend is sim:
        post.record("v")
        backend.run(5.0)
        assert post.get_data().segments[0].analogsignals[0].shape == (51, N_POST)
    backend.end()
    return conns


def _from_file(tmp_path):
    path = tmp_path / "conns.txt"
    np.savetxt(path, np.array([[0, 1, 0.5, 0.3], [3, 2, 0.5, 0.3], [15, 8, 0.5, 0.3]]))
    return connectors.FromFileConnector(str(path))


GENERIC = {
    "FromList": lambda _: connectors.FromListConnector([(0, 0, 0.5, 0.3), (5, 4, 0.5, 0.3),
                                                        (5, 4, 0.5, 0.3)]),
    "FromFile": _from_file,
    "Array": lambda _: connectors.ArrayConnector(
        np.random.RandomState(1).rand(N_PRE, N_POST) > 0.5),
    "FixedNumberPost": lambda _: connectors.FixedNumberPostConnector(3, rng=NumpyRNG(5)),
    "FixedTotalNumber": lambda _: connectors.FixedTotalNumberConnector(20, rng=NumpyRNG(5)),
    "DistanceDependentProbability": lambda _: connectors.DistanceDependentProbabilityConnector(
        "exp(-d)", rng=NumpyRNG(5)),
    "DisplacementDependentProbability":
        lambda _: connectors.DisplacementDependentProbabilityConnector(
            lambda d: np.exp(-np.abs(d[0])), rng=NumpyRNG(5)),
    "IndexBasedProbability": lambda _: connectors.IndexBasedProbabilityConnector(
        _Diagonal(), rng=NumpyRNG(5)),
}


class _Diagonal(connectors.IndexBasedExpression):
    def __call__(self, i, j):
        return (i % N_POST == j).astype(float)


@pytest.mark.parametrize("name", sorted(GENERIC))
def test_generic_connectors_match_pynn_mock(name, tmp_path):
    try:
        expected = _build(mock, GENERIC[name], tmp_path)
    except Exception as err:  # pragma: no cover - depends on PyNN
        pytest.skip(f"pyNN.mock cannot build {name}: {err}")
    got = _build(sim, GENERIC[name], tmp_path)
    assert got == expected


def test_clone_connector_copies_the_reference():
    sim.setup(timestep=0.1)
    pre = sim.Population(N_PRE, sim.SpikeSourceArray(spike_times=[1.0]))
    post = sim.Population(N_POST, sim.LeakyIntegrator())
    ref = sim.Projection(pre, post, connectors.FixedProbabilityConnector(0.4, rng=NumpyRNG(2)),
                         sim.StaticSynapse(weight=0.5, delay=0.3))
    clone = sim.Projection(pre, post, connectors.CloneConnector(ref),
                           sim.StaticSynapse(weight=0.7, delay=0.2))
    pairs = lambda p: sorted((int(c[0]), int(c[1])) for c in p.get("weight", format="list"))  # noqa: E731, E501
    assert pairs(clone) == pairs(ref) and len(ref) > 0
    sim.end()


def test_vectorised_connectors_have_their_defining_property():
    sim.setup(timestep=0.1)
    pre = sim.Population(300, sim.SpikeSourcePoisson(rate=5.0))
    post = sim.Population(200, sim.LeakyIntegrator())
    syn = sim.StaticSynapse(weight=0.1, delay=1.0)
    a2a = sim.Projection(pre, post, connectors.AllToAllConnector(), syn)
    assert len(a2a) == 300 * 200
    assert np.isfinite(a2a.get("weight", format="array")).all()
    o2o = sim.Projection(pre[:200], post, connectors.OneToOneConnector(), syn)
    assert sorted((int(c[0]), int(c[1])) for c in o2o.get("weight", format="list")) == [
        (i, i) for i in range(200)
    ]
    fp = sim.Projection(pre, post, connectors.FixedProbabilityConnector(0.1, rng=NumpyRNG(3)),
                        syn)
    n = 300 * 200
    assert abs(len(fp) - 0.1 * n) < 5 * np.sqrt(n * 0.1 * 0.9)
    fnp = sim.Projection(pre, post, connectors.FixedNumberPreConnector(7, rng=NumpyRNG(3)), syn)
    w = fnp.get("weight", format="array")
    assert (np.isfinite(w).sum(axis=0) == 7).all()  # exactly 7 distinct sources per target
    # the cell indices are held in 4 bytes each, whichever connector drew them
    for prj in (a2a, o2o, fp, fnp):
        assert prj._pre.dtype == np.int32 and prj._post.dtype == np.int32
    sim.end()


@pytest.mark.parametrize("n", [2, 5])  # drawn with rejection (n <= 8 / 4), or by keys
def test_fixed_number_pre_draws_every_subset_equally_often(n):
    from itertools import combinations

    sim.setup(timestep=0.1)
    pre = sim.Population(8, sim.SpikeSourcePoisson(rate=5.0))
    post = sim.Population(20000, sim.LeakyIntegrator())
    prj = sim.Projection(pre, post, connectors.FixedNumberPreConnector(n, rng=NumpyRNG(11)),
                         sim.StaticSynapse(weight=0.1, delay=1.0))
    i, j = np.array(prj.get("weight", format="list"))[:, :2].astype(int).T
    sim.end()
    rows = np.zeros((20000, 8), bool)
    rows[j, i] = True
    assert (rows.sum(axis=1) == n).all()  # n distinct sources per target
    share = n / 8  # each source is chosen for this share of the targets
    sd = np.sqrt(20000 * share * (1 - share))
    assert (np.abs(rows.sum(axis=0) - 20000 * share) < 5 * sd).all(), rows.sum(axis=0)
    subsets = {c: k for k, c in enumerate(combinations(range(8), n))}
    code = np.array([subsets[tuple(np.flatnonzero(r))] for r in rows])
    counts = np.bincount(code, minlength=len(subsets))
    expected = 20000 / len(subsets)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    dof = len(subsets) - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)  # uniform over the subsets


@pytest.mark.parametrize("n, n_pre, n_rows", [
    (100, 1000, 3000),  # nearly every row repeats at first: redrawn in place
    (20, 1000, 3000),  # about a fifth repeat: near the switch to copied rows
    (3, 1000, 3000),  # few repeat: copied rows from the start
    (1, 10, 50), (50, 200, 0),
])
def test_distinct_draws_are_those_of_redrawing_the_repeating_rows(n, n_pre, n_rows):
    """The FixedNumberPre draw (redraws in place while many rows repeat) gives, seed for
    seed, what redrawing just the rows that still repeat gives: the plain form of the
    rejection sampling, written out here."""
    from pynn_leaky._connect import _distinct_draws

    def plain(rs):
        pre = rs.randint(0, n_pre, size=(n_rows, n), dtype=np.int32)
        pre.sort(axis=1)
        while True:
            repeat = pre[:, 1:] == pre[:, :-1]
            rows = np.flatnonzero(repeat.any(axis=1))
            if rows.size == 0:
                return pre
            sub = pre[rows]
            sub[:, 1:][repeat[rows]] = rs.randint(0, n_pre, size=int(repeat.sum()),
                                                  dtype=np.int32)
            sub.sort(axis=1)
            pre[rows] = sub

    for seed in (1, 2):
        got = _distinct_draws(np.random.RandomState(seed), n, n_pre, n_rows)
        assert got.shape == (n_rows, n) and got.dtype == np.int32
        assert np.array_equal(got, plain(np.random.RandomState(seed)))
        assert (np.diff(got, axis=1) > 0).all()  # distinct, sorted


def test_stable_order_equals_a_stable_argsort():
    from pynn_leaky._build import stable_order

    rs = np.random.RandomState(0)
    for n_keys in (1, 300, 2**16 - 1, 2**16, 300_000):
        keys = rs.randint(0, n_keys + 1, 50_000)
        assert np.array_equal(stable_order(keys, n_keys), np.argsort(keys, kind="stable"))


@pytest.mark.parametrize("n_keys", [0, 1, 300, 2**16 - 1, 2**16, 300_000, 2**31 - 2])
def test_stable_order_by_blocks_equals_a_stable_argsort(monkeypatch, n_keys):
    """The counting sort of large arrays (here made to run on small ones, in many blocks
    and for keys of one to two 16-bit digits), including the key n_keys itself."""
    from pynn_leaky import _build

    monkeypatch.setattr(_build, "_SORT_MIN", 1)
    monkeypatch.setattr(_build, "_SORT_BLOCK", 1000)
    monkeypatch.setattr(_build, "_PIECE", 777)  # the digits taken in pieces too
    rs = np.random.RandomState(n_keys % 1000)
    for dtype in (np.int32, np.int64):
        keys = rs.randint(0, n_keys + 1, 20_011).astype(dtype)
        keys[:50] = n_keys
        keys[50:100] = 0
        order = _build.stable_order(keys, n_keys)
        assert order.dtype == np.int32
        assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert _build.stable_order(np.zeros(0, np.int32), n_keys).size == 0


def test_bincount_in_pieces_equals_numpy(monkeypatch):
    from pynn_leaky import _build

    monkeypatch.setattr(_build, "_PIECE", 1000)
    rs = np.random.RandomState(3)
    keys = rs.randint(0, 500, 10_500).astype(np.int32)
    keys[-3:] = 700  # beyond minlength, in the last piece only
    for minlength in (0, 400, 1000):
        assert np.array_equal(_build.bincount(keys, minlength),
                              np.bincount(keys, minlength=minlength))
    assert np.array_equal(_build.bincount(np.zeros(0, np.int32), 5), np.zeros(5))


@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize("n_keys", [1, 300, 2**16, 300_000])
def test_sorted_by_equals_a_gather_by_the_stable_order(monkeypatch, n_keys, blocks):
    """Arrays carried through the sort (by blocks: the counting sort, one or two digits)
    come out as a gather by np.argsort(kind="stable") puts them, each in its own dtype."""
    from pynn_leaky import _build

    if blocks:
        monkeypatch.setattr(_build, "_SORT_MIN", 1)
        monkeypatch.setattr(_build, "_SORT_BLOCK", 1000)
        monkeypatch.setattr(_build, "_PIECE", 777)
    rs = np.random.RandomState(n_keys % 997)
    keys = rs.randint(0, n_keys + 1, 20_011).astype(np.int32)
    offset = rs.randint(0, 2**31 - 1, keys.size).astype(np.int32)
    weight = rs.standard_normal(keys.size)
    order = np.argsort(keys, kind="stable")
    out = _build.sorted_by(keys, n_keys, offset, weight)
    assert [a.dtype for a in out] == [np.int32, np.float64]
    assert np.array_equal(out[0], offset[order]) and np.array_equal(out[1], weight[order])
    assert _build.sorted_by(keys, n_keys) == []
    assert [a.size for a in _build.sorted_by(keys[:0], n_keys, offset[:0])] == [0]


@pytest.mark.filterwarnings("ignore:.*not multiples of the time step")
@pytest.mark.parametrize("one_delay", [False, True])
def test_network_table_by_blocks_equals_the_plain_sort(monkeypatch, one_delay):
    """The synapse table of a network with random weights and random delays (or one delay
    for all: the targets become the offsets in place), built through the blocked sort
    (as for >= 2^20 synapses), holds what the sort by np.argsort gives, and the same run
    follows."""
    from pynn_leaky import _build

    def build():
        sim.setup(timestep=0.1, min_delay=0.1, max_delay=3.0)
        src = sim.Population(30, sim.SpikeSourcePoisson(rate=200.0))
        cells = sim.Population(40, sim.LeakyIntegrator(tau=10.0, R=10.0))
        rng = NumpyRNG(seed=4)
        for rec, low, high in (("excitatory", 0.01, 0.5), ("inhibitory", -0.5, -0.01)):
            synapse = sim.StaticSynapse(
                weight=sim.RandomDistribution("uniform", (low, high), rng=rng),
                delay=1.3 if one_delay else sim.RandomDistribution("uniform", (0.1, 3.0),
                                                                   rng=rng))
            sim.Projection(src, cells, sim.FixedProbabilityConnector(0.5, rng=rng), synapse,
                           receptor_type=rec)
        cells.record("v")
        sim.run(30.0)
        table = sim.simulator.state.network.syn_table
        v = cells.get_data().segments[0].analogsignals[0].magnitude
        sim.end()
        return table, v

    plain_table, plain_v = build()
    monkeypatch.setattr(_build, "_SORT_MIN", 1)
    monkeypatch.setattr(_build, "_SORT_BLOCK", 100)
    blocked_table, blocked_v = build()
    assert plain_table.weight.shape == plain_table.offset.shape  # per synapse
    for field in ("row_ptr", "offset", "weight"):
        assert np.array_equal(getattr(plain_table, field), getattr(blocked_table, field))
    assert np.array_equal(plain_v, blocked_v)


def test_small_world_is_not_implemented_by_pynn_itself():
    """PyNN 0.13's SmallWorldConnector.connect raises NotImplementedError on every backend."""
    sim.setup(timestep=0.1)
    pre = sim.Population(4, sim.SpikeSourceArray(spike_times=[1.0]))
    post = sim.Population(4, sim.LeakyIntegrator())
    with pytest.raises(NotImplementedError):
        sim.Projection(pre, post, connectors.SmallWorldConnector(1.5, 0.2, rng=NumpyRNG(5)))
    sim.end()


def test_native_rng_is_reproducible_and_seeded_from_setup():
    import pynn_leaky as sim

    def weights(rng):
        sim.setup(timestep=0.1, rng_seed=7)
        a, b = sim.Population(20, sim.SpikeSourcePoisson()), sim.Population(20, sim.IF_curr_exp())
        prj = sim.Projection(a, b, sim.FixedProbabilityConnector(0.3, rng=rng()),
                             sim.StaticSynapse(weight=sim.RandomDistribution(
                                 "uniform", (0.1, 0.2), rng=rng())))
        out = np.array(prj.get("weight", format="list"))
        sim.end()
        return out

    first, again = weights(lambda: sim.NativeRNG()), weights(lambda: sim.NativeRNG())
    np.testing.assert_array_equal(first, again)
    assert 0.1 <= first[:, 2].min() and first[:, 2].max() <= 0.2
    other = weights(lambda: sim.NativeRNG(seed=8))
    assert first.shape != other.shape or not np.array_equal(first, other)
