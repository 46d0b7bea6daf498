"""The engine on its own and the compile-once promise of the adapter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pynn_leaky as sim
from pynn_leaky import engine
from pynn_leaky.engine import leaky


@pytest.fixture
def network():
    sim.setup(timestep=0.1, rng_seed=3, progress=False)
    cells = sim.Population(30, sim.LeakyIntegrator(tau=15.0, R=20.0))
    src = sim.Population(40, sim.SpikeSourcePoisson(rate=50.0))
    sim.Projection(src, cells, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(1)),
                   sim.StaticSynapse(weight=0.1, delay=1.5))
    cells.record(["v", "isyn_exc"])
    yield cells
    sim.end()


def test_repeated_runs_and_parameter_changes_do_not_recompile(network):
    sim.run(5.0)
    before = engine.run_chunk._cache_size()
    sim.run(5.0)
    sim.run(17.3)
    network.set(tau=12.0, R=25.0)  # parameters are data, not part of the compiled program
    sim.run(5.0)
    sim.reset()
    sim.run(50.0)
    assert engine.run_chunk._cache_size() == before


def test_parameter_change_between_runs_takes_effect(network):
    sim.run(10.0)
    network.set(i_offset=1.0, noise=0.0)
    sim.run(200.0)
    v = network.get_data().segments[0].filter(name="v")[0].magnitude
    # With V_rest = 0 the mean input settles v near R * (i_offset + mean synaptic drive) > 20 mV.
    assert v[-1].mean() > 20.0


def test_engine_simulate_is_differentiable_in_weights_and_tau():
    """`engine.simulate` with dense delivery: jax.grad against finite differences."""
    dtype = jnp.float64
    n_cells, n_src = 3, 2
    layout = engine.Layout(
        groups=(engine.GroupLayout(n=n_cells, method="exp_auto", has_noise=False),),
        n_array=n_src, array_kmax=2, n_poisson=0, poisson_terms=1,
        synapses=engine.synapses.SynapseLayout(n_pre=n_src, n_target=2 * n_cells, n_syn=4,
                                               ring=4, max_fanout=2, mode="dense"),
        chunk=1,
    )
    empty_i = jnp.zeros((0,), jnp.int32)
    empty_f = jnp.zeros((0,), dtype)

    def params(weight, tau):
        return engine.Params(
            dt=jnp.asarray(0.1, dtype),
            groups=(leaky.LeakyParams(
                V_rest=jnp.zeros(n_cells, dtype), R=jnp.full(n_cells, 10.0, dtype), tau=tau,
                tau_syn_E=jnp.full(n_cells, 2.0, dtype), tau_syn_I=jnp.full(n_cells, 3.0, dtype),
                i_offset=jnp.zeros(n_cells, dtype), noise=jnp.zeros(n_cells, dtype)),),
            schedule=engine.sources.ScheduleTable(step=jnp.array([3, 5], jnp.int32),
                                                  cell=jnp.array([0, 1], jnp.int32)),
            poisson=engine.sources.PoissonParams(empty_f, empty_i, empty_i),
            synapses=engine.synapses.SynapseTable.of(
                row_ptr=[0, 2, 4], target=[0, 1, 2, n_cells + 0], delay=[1, 2, 3, 1],
                weight=weight, layout=layout.synapses),
            currents=engine.currents.CurrentTables(
                steps=engine.currents.StepCurrents(jnp.zeros((0, 1), jnp.int32),
                                                   jnp.zeros((0, 1), dtype)),
                ac=engine.currents.ACCurrents(*[empty_f] * 4, empty_i, empty_i),
                noisy=engine.currents.NoisyCurrents(*[empty_f] * 2, empty_i, empty_i, empty_i),
                source=empty_i, target=empty_i),
            recording=engine.Recording(**{
                f: jnp.arange(n_cells, dtype=jnp.int32) if f == "v" else empty_i
                for f in engine.Recording._fields
            }),
            key=jax.random.key_data(jax.random.key(0)),
        )

    def loss(weight, tau):
        p = params(weight, tau)
        st = engine.init_state(layout, p)
        _, out = engine.simulate(layout, p, st, 0, 60)
        return jnp.sum(out.v ** 2)

    w = jnp.array([0.5, 0.2, 0.3, -0.4], dtype)
    tau = jnp.array([8.0, 10.0, 12.0], dtype)
    gw, gt = jax.grad(loss, argnums=(0, 1))(w, tau)
    eps = 1e-6
    for i in range(4):
        e = jnp.zeros(4, dtype).at[i].set(eps)
        fd = (loss(w + e, tau) - loss(w - e, tau)) / (2 * eps)
        np.testing.assert_allclose(gw[i], fd, rtol=1e-6)
    for i in range(3):
        e = jnp.zeros(3, dtype).at[i].set(eps)
        fd = (loss(w, tau + e) - loss(w, tau - e)) / (2 * eps)
        np.testing.assert_allclose(gt[i], fd, rtol=1e-6)
    assert float(jnp.abs(gw).min()) > 0  # every synapse influences the loss
