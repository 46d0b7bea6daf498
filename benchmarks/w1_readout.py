"""W1: LeakyIntegrator readout of 1000 Poisson sources (about 1 million synapses).

Usage: python benchmarks/w1_readout.py [pynn_leaky|nest|brian2] [--cells N] [--time MS]
Prints one JSON line: build, first run and second run wall times (s) and peak RSS (MiB).
On peers the LeakyIntegrator is IF_curr_exp with cm = tau/R and an unreachable threshold.
"""

import argparse
import importlib
import json
import os
import resource
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backend", nargs="?", default="pynn_leaky")
    ap.add_argument("--cells", type=int, default=10_000)
    ap.add_argument("--time", type=float, default=1000.0)
    ap.add_argument("--precision", default="float64")
    args = ap.parse_args()
    t0 = time.perf_counter()
    name = {"nest": "pyNN.nest", "brian2": "pyNN.brian2"}.get(args.backend, args.backend)
    sim = importlib.import_module(name)
    t_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    extra = {"threads": os.cpu_count()} if args.backend == "nest" else {}
    if args.backend == "pynn_leaky":
        extra = {"precision": args.precision, "rng_seed": 1}
    sim.setup(timestep=0.1, min_delay=0.1, max_delay=5.0, **extra)
    tau, R = 20.0, 40.0
    if args.backend == "pynn_leaky":
        celltype = sim.LeakyIntegrator(V_rest=-65.0, R=R, tau=tau, tau_syn_E=5.0, tau_syn_I=10.0)
        init = {"v": -65.0}
    else:
        celltype = sim.IF_curr_exp(v_rest=-65.0, cm=tau / R, tau_m=tau, tau_syn_E=5.0,
                                   tau_syn_I=10.0, v_thresh=1e9, v_reset=-65.0, tau_refrac=0.1)
        init = {"v": -65.0}
    cells = sim.Population(args.cells, celltype, initial_values=init)
    exc = sim.Population(800, sim.SpikeSourcePoisson(rate=20.0))
    inh = sim.Population(200, sim.SpikeSourcePoisson(rate=20.0))
    rng = sim.NumpyRNG(seed=42)
    delay = sim.RandomDistribution("uniform", (1.0, 5.0), rng=rng)
    sim.Projection(exc, cells, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=0.02, delay=delay), receptor_type="excitatory")
    sim.Projection(inh, cells, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=-0.06, delay=delay), receptor_type="inhibitory")
    cells[:100].record("v")
    t_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    sim.run(args.time)
    t_run1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(args.time)
    t_run2 = time.perf_counter() - t0
    v = cells.get_data().segments[0].analogsignals[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"backend": args.backend, "import_s": t_import, "build_s": t_build,
                      "run1_s": t_run1, "run2_s": t_run2, "peak_rss_mib": rss,
                      "samples": v.shape[0], "v_mean": float(v.magnitude.mean())}))
    sim.end()


if __name__ == "__main__":
    main()
