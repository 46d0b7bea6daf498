"""Run one network on 1 device and on 4 (host-platform) devices; print the differences.

Must run in its own process: XLA_FLAGS has to be set before JAX starts.
"""

import json
import logging
import os
import warnings

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
warnings.simplefilter("ignore")

import jax  # noqa: E402
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


def trials(devices, split=None):
    """5 trials (seeds and a per-trial tau) of a network with Poisson sources, spiking
    cells with STDP and a readout: on 4 devices they are padded to 8, 2 per device."""
    sim.setup(timestep=0.1, rng_seed=2, progress=False, devices=devices)
    src = sim.Population(50, sim.SpikeSourcePoisson(rate=40.0))
    exc = sim.Population(30, sim.IF_curr_exp(i_offset=0.1))
    out = sim.Population(20, sim.LeakyIntegrator(R=20.0, tau=12.0))
    rng = sim.NumpyRNG(5)
    sim.Projection(src, exc, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=1.5, delay=1.0))
    sim.Projection(exc, out, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.3, delay=1.4))
    sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.STDPMechanism(
                       timing_dependence=sim.SpikePairRule(A_plus=0.05, A_minus=0.06),
                       weight_dependence=sim.AdditiveWeightDependence(w_max=1.0),
                       weight=0.2, delay=1.1))
    out.record("v")
    exc.record("spikes")
    sim.run(5.0)  # the trials start from a state after a run
    blocks = sim.run_trials(40.0, rng_seeds=[3, 1, 4, 1, 5],
                            parameters={out: {"tau": [8.0, 10.0, 12.0, 14.0, 16.0]}},
                            devices=split)
    v = np.stack([s.analogsignals[0].magnitude for s in blocks[out].segments])
    spikes = [[np.asarray(t).tolist() for t in s.spiketrains] for s in blocks[exc].segments]
    names = [s.name for s in blocks[out].segments]
    # a second call with other seeds and values compiles nothing
    compiled = []
    handler = logging.Handler()
    handler.emit = lambda r: compiled.append(r.getMessage()) if "ompil" in r.getMessage() \
        else None
    logging.getLogger("jax").addHandler(handler)
    with jax.log_compiles(True):
        sim.run_trials(40.0, rng_seeds=[2, 7, 1, 8, 2],
                       parameters={out: {"tau": [9.0, 11.0, 13.0, 15.0, 17.0]}}, devices=split)
    logging.getLogger("jax").removeHandler(handler)
    sim.end()
    return v, spikes, names, len(compiled)


v1, s1, _, info, w1 = run(None)
v4, s4, placed, _, w4 = run(4)
tv1, ts1, tn1, _ = trials(None)
tv4, ts4, tn4, c4 = trials(4)
tvs, tss, _, cs = trials(None, split=4)  # one-device network, trials split by run_trials
print(json.dumps({
    "trials_dv": max(float(np.abs(tv1 - tv4).max()), float(np.abs(tv1 - tvs).max())),
    "trials_spikes_equal": ts1 == ts4 == tss,
    "trials_n_spikes": sum(len(t) for s in ts1 for t in s),
    "trials_names": tn4,
    "trials_recompiles": c4 + cs,
    "trials_distinct": bool(np.abs(tv1[0] - tv1[1]).max() > 1e-3),
    "max_dv": float(np.abs(v1 - v4).max()),
    "max_dw": float(np.abs(w1 - w4).max()),
    "dw_learnt": float(np.abs(w1 - 0.3).max()),
    "spikes_equal": s1 == s4,
    "n_spikes": sum(len(s) for s in s1),
    "sharding": placed,
    **info,
}))
