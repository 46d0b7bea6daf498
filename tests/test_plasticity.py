"""Plastic synapses: Tsodyks-Markram, STDP and stochastic synapses against the equations,
and their life cycle (weights after a run, reset, set, rebuild, checkpoint, errors)."""

import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim

DT = 0.1


def _jumps(pop, tau_syn, name="isyn_exc"):
    """Synaptic input arriving at each step, from the recorded exponential current."""
    i = np.asarray(pop.get_data().segments[-1].filter(name=name)[0].magnitude)
    jumps = i[1:] - i[:-1] * np.exp(-DT / tau_syn)
    return np.arange(1, i.shape[0]) * DT, jumps


def _tsodyks_reference(times, U, tau_rec, tau_fac, tau_psc):
    """u * x released at each spike: the model of Tsodyks, Uziel & Markram (2000),
    with its three resource states integrated exactly between spikes."""
    u, x, y, last, out = 0.0, 1.0, 0.0, 0.0, []
    for t in times:
        h = t - last
        z = 1.0 - x - y
        # y decays with tau_psc into z, z recovers into x with tau_rec
        y_new = y * np.exp(-h / tau_psc)
        z_new = (z * np.exp(-h / tau_rec)
                 + y * tau_rec / (tau_psc - tau_rec)
                 * (np.exp(-h / tau_psc) - np.exp(-h / tau_rec)))
        x, y = 1.0 - y_new - z_new, y_new
        u = u * (np.exp(-h / tau_fac) if tau_fac > 0 else 0.0)
        u += U * (1.0 - u)
        out.append(u * x)
        x -= u * x
        y += out[-1]
        last = t
    return np.array(out)


@pytest.mark.parametrize("U,tau_rec,tau_fac", [(0.5, 100.0, 0.0), (0.1, 50.0, 300.0)])
def test_tsodyks_markram_amplitudes_follow_the_model(U, tau_rec, tau_fac):
    sim.setup(timestep=DT)
    times = [5.0, 15.0, 25.0, 30.0, 32.0, 80.0, 200.0]
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=times))
    post = sim.Population(1, sim.LeakyIntegrator(tau_syn_E=4.0))
    sim.Projection(src, post, sim.OneToOneConnector(),
                   sim.TsodyksMarkramSynapse(weight=2.0, delay=0.5, U=U, tau_rec=tau_rec,
                                             tau_facil=tau_fac))
    post.record("isyn_exc")
    sim.run(250.0)
    t, jumps = _jumps(post, 4.0)
    arrived = np.abs(jumps[:, 0]) > 1e-12
    np.testing.assert_allclose(t[arrived], np.array(times) + 0.5, atol=1e-9)
    expected = 2.0 * _tsodyks_reference(times, U, tau_rec, tau_fac, 4.0)
    np.testing.assert_allclose(jumps[arrived, 0], expected, rtol=1e-9)
    # depressing synapses weaken along a burst, facilitating ones strengthen
    if tau_fac == 0:
        assert expected[2] < expected[1] < expected[0]
    else:
        assert expected[3] > expected[0]
    sim.end()


def _driven_post(pre_times, post_drive, stdp, d=1.0):
    """One source -> one IF_curr_exp through `stdp`; the cell is made to fire by a strong
    static input at the times `post_drive`."""
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=pre_times))
    drive = sim.Population(1, sim.SpikeSourceArray(spike_times=post_drive))
    cell = sim.Population(1, sim.IF_curr_exp(tau_refrac=2.0, tau_syn_E=0.5))
    sim.Projection(drive, cell, sim.OneToOneConnector(), sim.StaticSynapse(weight=40.0, delay=0.1))
    prj = sim.Projection(pre, cell, sim.OneToOneConnector(), stdp)
    cell.record("spikes")
    return prj, cell


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_stdp_pair_update_follows_the_rule(rule):
    sim.setup(timestep=DT)
    tau_plus, tau_minus, a_plus, a_minus, w_max, w0, d = 16.0, 30.0, 0.1, 0.12, 1.0, 0.5, 1.0
    wd = (sim.AdditiveWeightDependence(w_min=0.0, w_max=w_max) if rule == "additive"
          else sim.MultiplicativeWeightDependence(w_min=0.0, w_max=w_max))
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=tau_plus, tau_minus=tau_minus,
                                            A_plus=a_plus, A_minus=a_minus),
        weight_dependence=wd, weight=w0, delay=d)
    prj, cell = _driven_post([10.0, 60.0], [20.0, 40.0], stdp, d)
    sim.run(100.0)
    post = np.asarray(cell.get_data().segments[0].spiketrains[0].magnitude)
    assert post.size == 2 and 20.0 < post[0] < 22.0 and 40.0 < post[1] < 42.0
    # Pre at 10 ms: nothing to pair with. Pre at 60 ms: potentiation by each post spike s
    # (seen at s + d, after the pre spike at 10), then depression by the post trace at
    # 60 - d. The weight carried and kept is the result.
    w = w0 / w_max
    for s in post:
        k = np.exp(-(s + d - 10.0) / tau_plus)
        w += a_plus * k * (1.0 if rule == "additive" else 1.0 - w)
    k_minus = sum(np.exp(-(60.0 - d - s) / tau_minus) for s in post)
    w -= a_minus * k_minus * (1.0 if rule == "additive" else w)
    assert prj.get("weight", format="list")[0][2] == pytest.approx(w * w_max, rel=1e-12)
    assert abs(w * w_max - w0) > 1e-3
    sim.end()


@pytest.mark.parametrize("a_plus,a_minus,pre_times,bound", [
    (5.0, 0.0, [10.0, 60.0], 0.9),  # potentiation stops at w_max
    (0.0, 5.0, [30.0, 60.0], 0.2),  # depression stops at w_min
])
def test_stdp_weights_are_clipped_to_the_bounds(a_plus, a_minus, pre_times, bound):
    sim.setup(timestep=DT)
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(A_plus=a_plus, A_minus=a_minus),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.2, w_max=0.9),
        weight=0.5, delay=1.0)
    prj, _ = _driven_post(pre_times, [20.0], stdp)
    sim.run(100.0)
    assert prj.get("weight", format="list")[0][2] == pytest.approx(bound, abs=1e-12)
    sim.end()


def _stdp_network(seed=3):
    rng = np.random.default_rng(seed)
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=40.0))
    cells = sim.Population(20, sim.IF_curr_exp(i_offset=rng.uniform(0.3, 0.9, 20),
                                               tau_refrac=2.0))
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0,
                                            A_plus=0.02, A_minus=0.021),
        weight_dependence=sim.AdditivePotentiationMultiplicativeDepression(w_max=2.0),
        weight=sim.RandomDistribution("uniform", (0.05, 0.3), rng=sim.NumpyRNG(seed)),
        delay=1.5)
    prj = sim.Projection(src, cells, sim.FixedProbabilityConnector(
        0.5, rng=sim.NumpyRNG(seed + 2)), stdp)
    tm = sim.Projection(src, cells, sim.FixedProbabilityConnector(
        0.2, rng=sim.NumpyRNG(seed + 4)), sim.TsodyksMarkramSynapse(weight=0.5, delay=1.0),
        receptor_type="excitatory")
    cells.record("spikes")
    return prj, tm, cells


def _weights(prj):
    return np.array([c[2] for c in prj.get("weight", format="list")])


def _learnt_weights(duration):
    """The STDP weights of _stdp_network after one uninterrupted run of `duration`."""
    sim.setup(timestep=DT, rng_seed=5)
    prj, _, _ = _stdp_network()
    sim.run(duration)
    weights = _weights(prj)
    sim.end()
    return weights


def test_split_runs_equal_one_run_and_reset_restores_weights():
    sim.setup(timestep=DT, rng_seed=5)
    prj, _, cells = _stdp_network()
    w0 = _weights(prj)
    sim.run(300.0)
    whole = _weights(prj)
    spikes_whole = cells.get_data().segments[0].spiketrains
    assert np.abs(whole - w0).max() > 1e-3
    sim.reset()
    np.testing.assert_array_equal(_weights(prj), w0)  # back to the initial weights
    sim.run(120.0)
    sim.run(180.0)
    np.testing.assert_array_equal(_weights(prj), whole)
    for a, b in zip(cells.get_data().segments[-1].spiketrains, spikes_whole):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    sim.end()


def test_rebuild_during_a_run_keeps_learnt_weights():
    whole = _learnt_weights(300.0)

    sim.setup(timestep=DT, rng_seed=5)
    prj, _, cells = _stdp_network()
    sim.run(150.0)
    cells.set(tau_m=20.0)  # same value: forces a rebuild of the engine network
    sim.Population(3, sim.IF_curr_exp())  # a new population shifts nothing learnt
    sim.run(150.0)
    np.testing.assert_array_equal(_weights(prj), whole)
    sim.end()


def test_set_weight_during_a_run_replaces_learnt_value():
    sim.setup(timestep=DT, rng_seed=5)
    prj, _, _ = _stdp_network()
    sim.run(100.0)
    learnt = _weights(prj)
    prj.set(weight=0.7)
    np.testing.assert_array_equal(_weights(prj), 0.7)
    sim.run(50.0)
    assert not np.allclose(_weights(prj), learnt)
    sim.end()


def test_checkpoint_round_trip_with_plastic_synapses(tmp_path):
    whole = _learnt_weights(250.0)

    sim.setup(timestep=DT, rng_seed=5)
    prj, tm, cells = _stdp_network()
    sim.run(100.0)
    sim.save_state(tmp_path / "c.npz")
    sim.end()
    sim.setup(timestep=DT, rng_seed=5)
    prj, tm, cells = _stdp_network()
    sim.load_state(tmp_path / "c.npz")
    sim.run(150.0)
    np.testing.assert_array_equal(_weights(prj), whole)
    sim.end()


def test_stochastic_synapse_transmits_with_probability_p():
    sim.setup(timestep=DT, rng_seed=11)
    n_spikes = 4000
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=np.arange(1, n_spikes + 1) * 1.0))
    post = sim.Population(3, sim.LeakyIntegrator(tau_syn_E=2.0))
    for j, p in enumerate([0.0, 0.3, 1.0]):
        sim.Projection(src, post[j:j + 1], sim.AllToAllConnector(),
                       sim.SimpleStochasticSynapse(weight=1.0, delay=0.5, p=p))
    post.record("isyn_exc")
    sim.run(n_spikes + 2.0)
    _, jumps = _jumps(post, 2.0)
    received = (jumps > 0.5).sum(axis=0)
    assert received[0] == 0 and received[2] == n_spikes
    se = np.sqrt(n_spikes * 0.3 * 0.7)
    assert abs(received[1] - 0.3 * n_spikes) < 5 * se
    sim.end()


@pytest.mark.parametrize("make,match", [
    (lambda: sim.TsodyksMarkramSynapse(U=1.5), "U = 1.5"),
    (lambda: sim.TsodyksMarkramSynapse(tau_rec=-1.0), "tau_rec = -1.0"),
    (lambda: sim.SimpleStochasticSynapse(p=2.0), "p = 2.0"),
    (lambda: sim.STDPMechanism(timing_dependence=sim.SpikePairRule(A_plus=-0.1),
                               weight_dependence=sim.AdditiveWeightDependence()),
     "A_plus = -0.1"),
    (lambda: sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                               weight_dependence=sim.AdditiveWeightDependence(w_min=2.0,
                                                                              w_max=1.0)),
     "w_min = 2.0"),
])
def test_bad_synapse_parameters_raise(make, match):
    sim.setup(timestep=DT)
    a = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    b = sim.Population(2, sim.IF_curr_exp())
    with pytest.raises(errors.InvalidParameterValueError, match=match):
        sim.Projection(a, b, sim.AllToAllConnector(), make())
    assert len(sim.simulator.state.projections) == 0
    sim.run(5.0)  # the simulator is still usable
    sim.end()


def test_dendritic_delay_fraction_other_than_one_is_refused():
    sim.setup(timestep=DT)
    with pytest.raises(errors.InvalidParameterValueError, match="dendritic_delay_fraction = 0"):
        sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                          weight_dependence=sim.AdditiveWeightDependence(),
                          dendritic_delay_fraction=0)
    sim.end()


def test_tau_minus_clash_and_tau_rec_equal_tau_syn_are_refused():
    sim.setup(timestep=DT)
    a = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    b = sim.Population(2, sim.IF_curr_exp(tau_syn_E=5.0))
    for tau_minus in (20.0, 30.0):
        sim.Projection(a, b, sim.AllToAllConnector(), sim.STDPMechanism(
            timing_dependence=sim.SpikePairRule(tau_minus=tau_minus),
            weight_dependence=sim.AdditiveWeightDependence()))
    with pytest.raises(errors.InvalidParameterValueError, match="tau_minus = 30.0"):
        sim.run(5.0)
    sim.end()
    sim.setup(timestep=DT)
    a = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    b = sim.Population(2, sim.IF_curr_exp(tau_syn_E=5.0))
    sim.Projection(a, b, sim.AllToAllConnector(), sim.TsodyksMarkramSynapse(tau_rec=5.0))
    with pytest.raises(errors.InvalidParameterValueError, match="tau_rec = 5.0"):
        sim.run(5.0)
    sim.end()


@pytest.mark.parametrize("rule", ["additive", "gutig"])
def test_short_history_gives_the_same_weights(rule):
    """A cell firing far more often than its presynaptic partners overflows a short
    history; the dropped spikes are applied when dropped, so the weights at every
    presynaptic spike (and all that follows) equal those of a long history."""
    results = []
    for history in (1, 1000):  # 1: the minimum, the delay ring's length (11 steps)
        sim.setup(timestep=DT, stdp_history=history)
        pre = sim.Population(3, sim.SpikeSourceArray(
            spike_times=[[10.0, 500.0, 990.0], [200.0, 990.0], [700.0, 990.0]]))
        cell = sim.Population(2, sim.IF_curr_exp(i_offset=[1.5, 2.5], tau_refrac=2.0))
        wd = (sim.AdditiveWeightDependence(w_max=1.0) if rule == "additive"
              else sim.GutigWeightDependence(w_max=1.0, mu_plus=0.3, mu_minus=0.8))
        prj = sim.Projection(pre, cell, sim.AllToAllConnector(), sim.STDPMechanism(
            timing_dependence=sim.SpikePairRule(tau_plus=100.0, A_plus=0.01, A_minus=0.012),
            weight_dependence=wd, weight=0.3, delay=1.0))
        cell.record(["spikes", "v"])
        sim.run(995.0)
        seg = cell.get_data().segments[0]
        results.append((_weights(prj), np.asarray(seg.filter(name="v")[0]),
                        [np.asarray(t) for t in seg.spiketrains]))
        sim.end()
    (w_short, v_short, s_short), (w_long, v_long, s_long) = results
    assert min(len(t) for t in s_long) > 60  # >> 11 postsynaptic spikes between pre spikes
    np.testing.assert_allclose(w_short, w_long, rtol=0, atol=1e-13)
    assert np.abs(w_long - 0.3).max() > 1e-2
    np.testing.assert_allclose(v_short, v_long, rtol=0, atol=1e-12)
    for a, b in zip(s_short, s_long):
        np.testing.assert_array_equal(a, b)


def test_stdp_history_must_be_a_positive_integer():
    with pytest.raises(errors.InvalidParameterValueError, match="stdp_history = 0"):
        sim.setup(stdp_history=0)


def test_trials_with_plastic_synapses_equal_ordinary_runs():
    runs = {}
    for seed in (21, 22):
        sim.setup(timestep=DT, rng_seed=seed)
        prj, _, cells = _stdp_network()
        sim.run(100.0)
        runs[seed] = [np.asarray(s) for s in cells.get_data().segments[0].spiketrains]
        sim.end()
    sim.setup(timestep=DT, rng_seed=21)
    prj, _, cells = _stdp_network()
    blocks = sim.run_trials(100.0, rng_seeds=[21, 22])
    for b, seed in enumerate((21, 22)):
        for a, ref in zip(blocks[cells].segments[b].spiketrains, runs[seed]):
            np.testing.assert_array_equal(np.asarray(a), ref)
    sim.end()


def test_gradients_refuse_plastic_networks():
    sim.setup(timestep=DT)
    _stdp_network()
    with pytest.raises(NotImplementedError, match="plastic synapses"):
        sim.differentiable(10.0)
    sim.end()


def test_inhibitory_current_stdp_works_on_magnitudes():
    """Weights of inhibitory current synapses are <= 0; STDP bounds and steps apply to
    their magnitude, so potentiation makes them more negative."""
    sim.setup(timestep=DT)
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=16.0, A_plus=0.1, A_minus=0.0),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=1.0),
        weight=-0.5, delay=1.0)
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=[10.0, 60.0]))
    drive = sim.Population(1, sim.SpikeSourceArray(spike_times=[20.0]))
    cell = sim.Population(1, sim.IF_curr_exp(tau_refrac=2.0, tau_syn_E=0.5))
    sim.Projection(drive, cell, sim.OneToOneConnector(), sim.StaticSynapse(weight=40.0, delay=0.1))
    prj = sim.Projection(pre, cell, sim.OneToOneConnector(), stdp, receptor_type="inhibitory")
    cell.record("spikes")
    sim.run(100.0)
    (s,) = np.asarray(cell.get_data().segments[0].spiketrains[0].magnitude)
    expected = -(0.5 + 0.1 * np.exp(-(s + 1.0 - 10.0) / 16.0))
    assert prj.get("weight", format="list")[0][2] == pytest.approx(expected, rel=1e-12)
    sim.end()
