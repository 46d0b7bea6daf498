"""A LeakyIntegrator readout of Poisson spike trains through heterogeneous delays.

Run:  python examples/leaky_readout.py [--output DIR] [--simulator pynn_leaky|nest]
Writes DIR/leaky_readout.png (membrane potentials and input spike raster).
"""

import argparse
import importlib
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default="out")
    ap.add_argument("--simulator", default="pynn_leaky")
    ap.add_argument("--time", type=float, default=500.0)
    args = ap.parse_args()
    sim = importlib.import_module("pyNN.nest" if args.simulator == "nest" else args.simulator)
    t0 = time.perf_counter()
    sim.setup(timestep=0.1, rng_seed=7) if args.simulator == "pynn_leaky" else sim.setup(0.1)

    inputs = sim.Population(200, sim.SpikeSourcePoisson(rate=15.0), label="inputs")
    if args.simulator == "pynn_leaky":
        readout = sim.Population(20, sim.LeakyIntegrator(V_rest=-65.0, R=40.0, tau=20.0,
                                                         tau_syn_E=5.0, tau_syn_I=10.0),
                                 initial_values={"v": -65.0}, label="readout")
    else:  # the same cells on a peer: IF_curr_exp that never reaches threshold
        readout = sim.Population(20, sim.IF_curr_exp(v_rest=-65.0, cm=0.5, tau_m=20.0,
                                                     tau_syn_E=5.0, tau_syn_I=10.0,
                                                     v_thresh=1e9, v_reset=-65.0),
                                 initial_values={"v": -65.0}, label="readout")
    rng = sim.NumpyRNG(seed=3)
    delays = sim.RandomDistribution("uniform", (1.0, 5.0), rng=rng)
    sim.Projection(inputs[:160], readout, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=0.05, delay=delays), receptor_type="excitatory")
    sim.Projection(inputs[160:], readout, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=-0.1, delay=delays), receptor_type="inhibitory")
    sim.DCSource(amplitude=0.1, start=100.0, stop=300.0).inject_into(readout[:5])
    readout.record("v")
    inputs[:50].record("spikes")
    sim.run(args.time)

    v = readout.get_data().segments[0].analogsignals[0]
    spikes = inputs.get_data().segments[0].spiketrains
    wall = time.perf_counter() - t0
    sim.end()

    os.makedirs(args.output, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    for i, train in enumerate(spikes):
        ax1.plot(train.times, [i] * len(train), "|", color="k", markersize=3)
    ax1.set_ylabel("input cell")
    ax2.plot(v.times, v.magnitude[:, :8])
    ax2.set_xlabel("time (ms)")
    ax2.set_ylabel("v (mV)")
    ax1.set_title(f"LeakyIntegrator readout on {args.simulator} ({wall:.2f} s wall)")
    path = os.path.join(args.output, "leaky_readout.png")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}; {v.shape[0]} samples of {v.shape[1]} cells; {wall:.2f} s wall")


if __name__ == "__main__":
    main()
