"""The emulated partition, ``setup(num_processes=N, rank=r)``: one process holds (and
simulates) what MPI rank r of N would hold, as pyNN.mock emulates it."""

import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim


@pytest.fixture(autouse=True)
def _end():
    yield
    sim.end()


def test_local_masks_are_round_robin_over_ids():
    assert sim.setup(num_processes=3, rank=2) == 2
    assert (sim.num_processes(), sim.rank()) == (3, 2)
    a = sim.Population(4, sim.IF_curr_exp())  # IDs 0..3
    b = sim.Population(5, sim.LeakyIntegrator())  # IDs 4..8
    np.testing.assert_array_equal(a._mask_local, [False, False, True, False])
    np.testing.assert_array_equal(b._mask_local, [False, True, False, False, True])
    assert [int(i) for i in b.local_cells] == [5, 8]
    assert b[[1, 2, 3]].local_size == 1


def test_parameters_held_for_local_cells_only():
    sim.setup(num_processes=2, rank=1)
    cells = sim.Population(4, sim.IF_curr_exp(tau_m=lambda i: 10.0 + i, cm=[1, 2, 3, 4]))
    tau_m, cm = cells.get(["tau_m", "cm"], gather=False)
    np.testing.assert_array_equal(tau_m, [11.0, 13.0])
    np.testing.assert_array_equal(cm, [2.0, 4.0])
    cells[[1, 2]].set(tau_m=30.0)
    np.testing.assert_array_equal(cells.get("tau_m"), [30.0, 13.0])  # gather: this rank


def test_connections_only_onto_local_targets():
    sim.setup(num_processes=2, rank=1)
    pre = sim.Population(3, sim.SpikeSourceArray())  # IDs 0..2
    post = sim.Population(4, sim.IF_curr_exp())  # IDs 3..6: local 3, 5 (indices 0, 2)
    prj = sim.Projection(pre, post, sim.AllToAllConnector(),
                         sim.StaticSynapse(weight=0.5, delay=1.0))
    assert sorted({j for _, j, _ in prj.get("weight", format="list")}) == [0, 2]
    assert len(prj) == 6  # from every source, onto the local targets only
    listed = sim.Projection(pre, post,
                            sim.FromListConnector([(0, 0), (1, 1), (2, 3), (2, 2)]),
                            sim.StaticSynapse(weight=0.5, delay=1.0))
    assert sorted((i, j) for i, j, _ in listed.get("weight", format="list")) == [(0, 0), (2, 2)]
    rng = sim.NumpyRNG(seed=7)
    dense = sim.Projection(pre, post, sim.FixedProbabilityConnector(0.5, rng=rng),
                           sim.StaticSynapse(weight=0.5, delay=1.0))
    assert {j for _, j, _ in dense.get("weight", format="list")} <= {0, 2}


def test_partition_simulates_the_local_cells():
    """The local cells run as in the full network whose non-local sources are silent:
    spikes of cells held by other ranks never arrive."""
    times = [[1.0, 3.0], [2.0, 2.5], [4.0], [5.0, 6.0]]

    def run(silent_others, **partition):
        sim.setup(timestep=0.1, **partition)
        given = [t if (i % 2 or not silent_others) else [] for i, t in enumerate(times)]
        src = sim.Population(4, sim.SpikeSourceArray(spike_times=given))  # IDs 0..3
        post = sim.Population(4, sim.IF_curr_exp(tau_m=lambda i: 10.0 + i, v_thresh=-64.0,
                                                 i_offset=[0.0, 0.1, 0.0, 0.2]))
        sim.DCSource(amplitude=0.3, start=2.0, stop=8.0).inject_into(post[[0, 1]])
        sim.Projection(src, post, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=lambda d: 1.0 + d, delay=0.5))
        post.initialize(v=lambda i: -65.0 - i)
        post.record(["v", "spikes"])
        sim.run(10.0)
        seg = post.get_data().segments[0]
        v = seg.filter(name="v")[0].magnitude
        spikes = {st.annotations["source_index"]: st.magnitude for st in seg.spiketrains}
        sim.end()
        return v, spikes

    v_rank, spikes_rank = run(False, num_processes=2, rank=1)  # IDs 5, 7: indices 1, 3
    v_full, spikes_full = run(True)
    assert v_rank.shape == (101, 2)
    np.testing.assert_array_equal(v_rank, v_full[:, [1, 3]])
    assert sorted(spikes_rank) == [1, 3]
    for i in (1, 3):
        assert spikes_rank[i].size > 0
        np.testing.assert_array_equal(spikes_rank[i], spikes_full[i])


@pytest.mark.parametrize("kwargs, fragments", [
    ({"num_processes": 0}, ["num_processes = 0", ">= 1"]),
    ({"num_processes": 2.0, "rank": 0}, ["num_processes = 2.0"]),
    ({"num_processes": True}, ["num_processes = True"]),
    ({"num_processes": 2, "rank": 2}, ["rank = 2", "0..1"]),
    ({"num_processes": 2, "rank": -1}, ["rank = -1", "0..1"]),
    ({"rank": 1}, ["rank = 1", "0..0"]),
])
def test_bad_partition_is_refused(kwargs, fragments):
    with pytest.raises(errors.InvalidParameterValueError) as info:
        sim.setup(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_plain_setup_afterwards_is_one_truthful_process():
    sim.setup(num_processes=2, rank=1)
    sim.end()
    assert sim.setup() == 0
    assert (sim.num_processes(), sim.rank()) == (1, 0)
    cells = sim.Population(5, sim.IF_curr_exp())
    assert cells._mask_local.all() and cells.local_size == 5
    prj = sim.Projection(cells, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1))
    assert len(prj) == 25


def test_trials_and_gradients_refuse_a_partition():
    sim.setup(num_processes=2, rank=0)
    sim.Population(2, sim.LeakyIntegrator())
    with pytest.raises(NotImplementedError, match="emulated partition"):
        sim.run_trials(1.0, trials=2)
    with pytest.raises(NotImplementedError, match="emulated partition"):
        sim.differentiable(1.0)
