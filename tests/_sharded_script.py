"""Run one network on 1 device and on 4 (host-platform) devices; print the differences.

Must run in its own process: XLA_FLAGS has to be set before JAX starts.
"""

import json
import os
import warnings

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402

import pynn_leaky as sim  # noqa: E402


def run(devices):
    sim.setup(timestep=0.1, rng_seed=2, progress=False, devices=devices)
    src = sim.Population(120, sim.SpikeSourcePoisson(rate=30.0))
    exc = sim.Population(80, sim.IF_curr_exp(i_offset=0.2))
    out = sim.Population(200, sim.LeakyIntegrator(R=20.0, tau=12.0, noise=0.1))
    rng = sim.NumpyRNG(3)
    sim.Projection(src, exc, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=1.0, delay=1.0))
    sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=-0.4, delay=2.0), receptor_type="inhibitory")
    stdp = sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.1, rng=rng),
                          sim.STDPMechanism(
                              timing_dependence=sim.SpikePairRule(A_plus=0.05, A_minus=0.06),
                              weight_dependence=sim.MultiplicativeWeightDependence(w_max=1.0),
                              weight=0.3, delay=1.2))
    sim.Projection(exc, out, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.1, delay=1.7))
    sim.Projection(src, out, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.TsodyksMarkramSynapse(weight=0.2, delay=0.8, U=0.3, tau_facil=50.0))
    sim.DCSource(amplitude=0.05, start=5.0, stop=50.0).inject_into(out[:40])
    out.record("v")
    exc.record("spikes")
    sim.run(60.0)
    v = out.get_data().segments[0].analogsignals[0].magnitude
    spikes = [np.asarray(s).tolist() for s in exc.get_data().segments[0].spiketrains]
    weights = np.asarray(stdp.get("weight", format="list"))[:, 2]
    placed = str(sim.simulator.state.engine_state.groups[0].v.sharding)
    info = {"num_processes": sim.num_processes(), "rank": sim.rank()}
    sim.end()
    return v, spikes, placed, info, weights


v1, s1, _, info, w1 = run(None)
v4, s4, placed, _, w4 = run(4)
print(json.dumps({
    "max_dv": float(np.abs(v1 - v4).max()),
    "max_dw": float(np.abs(w1 - w4).max()),
    "dw_learnt": float(np.abs(w1 - 0.3).max()),
    "spikes_equal": s1 == s4,
    "n_spikes": sum(len(s) for s in s1),
    "sharding": placed,
    **info,
}))
