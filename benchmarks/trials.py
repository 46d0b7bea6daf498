"""Batched trials against sequential runs: B trials of one network, wall times and ratio.

Usage: python benchmarks/trials.py [--trials 16] [--time 1000] [--cells 200] [--devices N]
                                   [--repeat 3]

The network is on one device (the fastest way to run one small network); the batched
run splits the trials over ``--devices`` devices (``run_trials(devices=...)``; default:
one per core on a CPU, each device then a core of its own, see README "Several
devices"; one on a GPU), and is also measured on one device. Runs alternate,
``--repeat`` times; the best time of each is reported.
"""

import argparse
import json
import os
import time

import jax

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
    ap.add_argument("--devices", type=int, default=None,
                    help="devices for the batched trials (default: one per core on a CPU, "
                         "1 on a GPU)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    # On a CPU, one device per core (or --devices), set before JAX starts
    jax.config.update("jax_num_cpu_devices", args.devices or len(os.sched_getaffinity(0)))
    if args.devices is None:
        args.devices = len(jax.devices()) if jax.default_backend() == "cpu" else 1
    seeds = list(range(args.trials))
    devices = args.devices if args.devices > 1 else None

    def sequential():
        for s in seeds:
            cells = network(args, s)
            sim.run(args.time)
            cells.get_data()

    def batched(on):
        network(args, 0)  # the network on one device, its trials split over `on`
        t0 = time.perf_counter()
        sim.run_trials(args.time, rng_seeds=seeds, devices=on)
        return time.perf_counter() - t0

    # warm-up: compile every path once, as a user's second call would
    for on in (devices, None):
        network(args, 0)
        sim.run_trials(10.0, rng_seeds=seeds, devices=on)
    network(args, 0)
    sim.run(10.0)
    times = {"sequential": [], "batched_1device": [], "batched": []}
    for _ in range(args.repeat):  # alternating, the best of each
        t0 = time.perf_counter()
        sequential()
        times["sequential"].append(time.perf_counter() - t0)
        times["batched_1device"].append(batched(None))
        if devices is not None:
            times["batched"].append(batched(devices))
    if devices is None:
        times["batched"] = times["batched_1device"]
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({"trials": args.trials, "cells": args.cells, "time_ms": args.time,
                      "devices": args.devices,
                      **{f"{k}_s": round(v, 3) for k, v in best.items()},
                      "speedup": round(best["sequential"] / best["batched"], 2),
                      "speedup_1device": round(best["sequential"] / best["batched_1device"], 2),
                      "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()}}))


if __name__ == "__main__":
    main()
