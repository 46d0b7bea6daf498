"""sim.differentiable: the network as a pure function, equal to run() and differentiable."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim


@pytest.fixture
def net():
    sim.setup(timestep=0.1, rng_seed=1, progress=False)
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=50.0))
    hidden = sim.Population(20, sim.IF_curr_exp(i_offset=0.5))
    out = sim.Population(2, sim.LeakyIntegrator(R=20.0, tau=10.0, tau_syn_E=3.0))
    sim.Projection(src, hidden, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(2)),
                   sim.StaticSynapse(weight=1.0, delay=1.0))
    prj = sim.Projection(hidden, out, sim.AllToAllConnector(),
                         sim.StaticSynapse(weight=0.1, delay=1.3))
    out.record("v")
    yield out, prj
    sim.end()


def test_traces_equal_an_ordinary_run(net):
    out, prj = net
    f = sim.differentiable(80.0)
    traces = np.asarray(f()[out]["v"])
    sim.run(80.0)
    v = out.get_data().segments[0].filter(name="v")[0].magnitude
    np.testing.assert_array_equal(traces, v[1:])  # run() also has the initial sample
    assert np.ptp(v) > 1.0


def test_gradients_match_finite_differences(net):
    out, prj = net
    f = sim.differentiable(60.0)

    def loss(w, tau):
        v = f(weights={prj: w}, parameters={out: {"tau": tau}})[out]["v"]
        return jnp.mean((v - 5.0) ** 2)

    w = jnp.full(len(prj), 0.1)
    tau = jnp.asarray([10.0, 14.0])
    gw, gt = jax.grad(loss, argnums=(0, 1))(w, tau)
    eps = 1e-6
    for i in (0, 7, len(prj) - 1):
        e = jnp.zeros_like(w).at[i].set(eps)
        np.testing.assert_allclose(gw[i], (loss(w + e, tau) - loss(w - e, tau)) / (2 * eps),
                                   rtol=1e-5)
    for i in range(2):
        e = jnp.zeros_like(tau).at[i].set(eps)
        np.testing.assert_allclose(gt[i], (loss(w, tau + e) - loss(w, tau - e)) / (2 * eps),
                                   rtol=1e-5)


def test_only_leaky_parameters(net):
    out, prj = net
    f = sim.differentiable(5.0)
    hidden = prj.pre
    with pytest.raises(errors.InvalidParameterValueError, match="LeakyIntegrator"):
        f(parameters={hidden: {"tau_m": 5.0}})
    with pytest.raises(errors.NonExistentParameterError):
        f(parameters={out: {"tau_m": 5.0}})
