"""W1's run phase on the default device under the current loop settings (JSON lines).

Used by ``benchmarks/gpu_sync.sh`` to compare the delivery interval and XLA's
command-buffer flags on a GPU, each in a fresh process, and to split the step's cost:
``--cells``, ``--rate`` and ``--no-record`` vary the network (W1 by default).
"""

import argparse
import json
import os
import time
import warnings

import pynn_leaky as sim

warnings.simplefilter("ignore")


def w1_run(cells, rate, record, precision, t_ms=1000.0):
    sim.setup(timestep=0.1, min_delay=0.1, max_delay=5.0, rng_seed=1, precision=precision,
              progress=False)
    post = sim.Population(cells, sim.LeakyIntegrator(V_rest=-65.0, R=40.0, tau=20.0,
                                                     tau_syn_E=5.0, tau_syn_I=10.0))
    rng = sim.NumpyRNG(seed=42)
    delay = sim.RandomDistribution("uniform", (1.0, 5.0), rng=rng)
    for n, w, receptor in ((800, 0.02, "excitatory"), (200, -0.06, "inhibitory")):
        src = sim.Population(n, sim.SpikeSourcePoisson(rate=rate))
        sim.Projection(src, post, sim.FixedProbabilityConnector(0.1, rng=rng),
                       sim.StaticSynapse(weight=w, delay=delay), receptor_type=receptor)
    if record:
        post[:100].record("v")
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        sim.run(t_ms)
        times.append(time.perf_counter() - t0)
    interval = sim.simulator.state.network.layout.interval
    sim.end()
    return times, interval


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--precision", default="float32")
    args = ap.parse_args()
    (first, second), interval = w1_run(args.cells, args.rate, not args.no_record,
                                       args.precision)
    print(json.dumps({"cells": args.cells, "rate": args.rate, "record": not args.no_record,
                      "precision": args.precision, "first_run_s": round(first, 3),
                      "second_run_s": round(second, 3), "us_per_step": round(second * 100, 1),
                      "interval": interval,
                      "env": {k: v for k, v in os.environ.items()
                              if k.startswith("PYNN_LEAKY") or k == "XLA_FLAGS"}}), flush=True)


if __name__ == "__main__":
    main()
