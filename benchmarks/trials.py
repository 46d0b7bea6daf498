"""Batched trials against sequential runs: B trials of one network, wall times and ratio.

Usage: python benchmarks/trials.py [--trials 16] [--time 1000] [--cells 200]
"""

import argparse
import json
import time

import pynn_leaky as sim


def network(args, seed):
    sim.setup(timestep=0.1, rng_seed=seed, progress=False)
    src = sim.Population(100, sim.SpikeSourcePoisson(rate=20.0))
    cells = sim.Population(args.cells, sim.LeakyIntegrator(V_rest=-65.0, R=40.0, tau=20.0),
                           initial_values={"v": -65.0})
    rng = sim.NumpyRNG(seed=1)
    sim.Projection(src, cells, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=0.05, delay=1.5))
    cells[:10].record("v")
    return cells


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--time", type=float, default=1000.0)
    ap.add_argument("--cells", type=int, default=200)
    args = ap.parse_args()
    seeds = list(range(args.trials))

    network(args, 0)  # warm-up: compile both paths once, as a user's second call would
    sim.run(10.0)
    sim.run_trials(10.0, rng_seeds=seeds)

    t0 = time.perf_counter()
    for s in seeds:
        cells = network(args, s)
        sim.run(args.time)
        cells.get_data()
    sequential = time.perf_counter() - t0

    network(args, 0)
    t0 = time.perf_counter()
    sim.run_trials(args.time, rng_seeds=seeds)
    batched = time.perf_counter() - t0
    print(json.dumps({"trials": args.trials, "cells": args.cells, "time_ms": args.time,
                      "sequential_s": round(sequential, 3), "batched_s": round(batched, 3),
                      "speedup": round(sequential / batched, 2)}))


if __name__ == "__main__":
    main()
