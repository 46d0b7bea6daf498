"""GPU check: the same network on the CPU and on JAX's default device, and throughput.

Usage:
    python benchmarks/gpu_check.py            # on a machine with a GPU (a few minutes)
    python benchmarks/gpu_check.py --small    # quick self-test, also on a CPU-only machine

1. Correctness: a recurrent IF_curr_exp network with Poisson input and a LeakyIntegrator
   readout runs once on the CPU and twice on the default device (the GPU when JAX sees
   one), the second time with whole delivery windows run as blocks and region analysis
   in copy insertion (``PYNN_LEAKY_WINDOW_BLOCKS=1``, ``PYNN_LEAKY_REGION_ANALYSIS=1``);
   prints the max |v difference| (float64) and whether
   all spikes agree.
2. Throughput on the default device: W1 (10 000 LeakyIntegrator cells, ~1M synapses,
   1000 ms) and W3-large (10^6 LeakyIntegrator cells, fan-in 100 from 1000 Poisson
   sources = 10^8 synapses, 1000 ms), float64 and float32.
Prints one JSON object per line and a summary table; exit status 1 if the check fails.
"""

import argparse
import json
import os
import sys
import time
import warnings

import jax
import numpy as np

import pynn_leaky as sim

warnings.simplefilter("ignore")


def correctness(device, small):
    with jax.default_device(device):
        sim.setup(timestep=0.1, rng_seed=5, progress=False)
        src = sim.Population(100 if small else 1000, sim.SpikeSourcePoisson(rate=20.0))
        exc = sim.Population(80 if small else 2000, sim.IF_curr_exp(i_offset=0.2))
        out = sim.Population(20 if small else 500, sim.LeakyIntegrator(R=20.0, tau=15.0))
        rng = sim.NumpyRNG(9)
        sim.Projection(src, exc, sim.FixedProbabilityConnector(0.1, rng=rng),
                       sim.StaticSynapse(weight=0.9, delay=1.0))
        sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.05, rng=rng),
                       sim.StaticSynapse(weight=-0.3, delay=1.5), receptor_type="inhibitory")
        sim.Projection(exc, out, sim.FixedProbabilityConnector(0.2, rng=rng),
                       sim.StaticSynapse(weight=0.05, delay=2.0))
        out.record("v")
        exc.record("spikes")
        sim.run(100.0 if small else 500.0)
        v = out.get_data().segments[0].filter(name="v")[0].magnitude
        spikes = [np.asarray(s) for s in exc.get_data().segments[0].spiketrains]
        placed = str(sim.simulator.state.engine_state.ring.devices())
        sim.end()
    return v, spikes, placed


def throughput(name, n_cells, fan_in_or_p, t_ms, precision, small):
    sim.setup(timestep=0.1, min_delay=0.1, max_delay=5.0, rng_seed=1, precision=precision,
              progress=False)
    t0 = time.perf_counter()
    cells = sim.Population(n_cells, sim.LeakyIntegrator(V_rest=-65.0, R=40.0, tau=20.0,
                                                        tau_syn_E=5.0, tau_syn_I=10.0),
                           initial_values={"v": -65.0})
    src = sim.Population(1000, sim.SpikeSourcePoisson(rate=20.0 if name == "W1" else 10.0))
    rng = sim.NumpyRNG(seed=42)
    delay = sim.RandomDistribution("uniform", (1.0, 5.0), rng=rng)
    if name == "W1":
        conn = sim.FixedProbabilityConnector(fan_in_or_p, rng=rng)
    else:
        conn = sim.FixedNumberPreConnector(fan_in_or_p, with_replacement=True, rng=rng)
    prj = sim.Projection(src, cells, conn, sim.StaticSynapse(weight=0.02, delay=delay))
    cells[:100].record("v")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(t_ms)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(t_ms)
    second = time.perf_counter() - t0
    n_syn = len(prj)
    stats = jax.devices()[0].memory_stats() or {}
    sim.end()
    return {"peak_device_GiB": round(stats.get("peak_bytes_in_use", 0) / 2**30, 2),
            "workload": name, "precision": precision, "cells": n_cells, "synapses": n_syn,
            "sim_ms": t_ms, "build_s": round(build, 2), "first_run_s": round(first, 2),
            "second_run_s": round(second, 3),
            "realtime_factor": round(second / (t_ms / 1000.0), 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="tiny sizes (self-test)")
    args = ap.parse_args()
    default = jax.devices()[0]
    cpu = jax.devices("cpu")[0]
    print(json.dumps({"default_device": str(default), "platform": default.platform,
                      "device_kind": getattr(default, "device_kind", ""),
                      "jax": jax.__version__, "xla_flags": os.environ.get("XLA_FLAGS", "")}))
    try:
        v_cpu, s_cpu, _ = correctness(cpu, args.small)
        v_dev, s_dev, placed = correctness(default, args.small)
        max_dv = float(np.abs(v_cpu - v_dev).max())
        spikes_equal = len(s_cpu) == len(s_dev) and all(
            np.array_equal(a, b) for a, b in zip(s_cpu, s_dev))
        check = {"check": "cpu_vs_default_device", "engine_on": placed, "max_dv_mV": max_dv,
                 "spikes_equal": spikes_equal, "n_spikes": int(sum(len(s) for s in s_cpu))}
    except Exception as exc:  # still measure throughput below
        max_dv, spikes_equal, v_cpu = float("nan"), False, None
        check = {"check": "cpu_vs_default_device", "error": f"{type(exc).__name__}: {exc}"}
    if v_cpu is not None:  # the same on the device, whole delivery windows run as blocks,
        # compiled with region analysis in copy insertion
        os.environ.update(PYNN_LEAKY_WINDOW_BLOCKS="1", PYNN_LEAKY_REGION_ANALYSIS="1")
        try:
            v_blk, s_blk, _ = correctness(default, args.small)
            blocks_dv = float(np.abs(v_cpu - v_blk).max())
            blocks_equal = len(s_cpu) == len(s_blk) and all(
                np.array_equal(a, b) for a, b in zip(s_cpu, s_blk))
            check.update(window_blocks_max_dv_mV=blocks_dv,
                         window_blocks_spikes_equal=blocks_equal)
        except Exception as exc:
            blocks_dv, blocks_equal = float("nan"), False
            check["window_blocks_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            del os.environ["PYNN_LEAKY_WINDOW_BLOCKS"], os.environ["PYNN_LEAKY_REGION_ANALYSIS"]
        max_dv, spikes_equal = max(max_dv, blocks_dv), spikes_equal and blocks_equal
    print(json.dumps(check), flush=True)
    rows = []
    sizes = [("W1", 2_000 if args.small else 10_000, 0.1, 100.0 if args.small else 1000.0),
             ("W3", 5_000 if args.small else 1_000_000, 100, 100.0 if args.small else 1000.0)]
    for name, n, conn, t_ms in sizes:
        for precision in ("float64", "float32"):
            try:
                r = throughput(name, n, conn, t_ms, precision, args.small)
            except Exception as exc:  # report and go on: one failure must not hide the rest
                print(json.dumps({"workload": name, "precision": precision,
                                  "error": f"{type(exc).__name__}: {exc}"[:2000]}), flush=True)
                continue
            print(json.dumps(r), flush=True)
            rows.append(r)
    print("\n| workload | precision | cells | synapses | build s | first run s | "
          "second run s | s per simulated s | peak device GiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workload']} | {r['precision']} | {r['cells']} | {r['synapses']} | "
              f"{r['build_s']} | {r['first_run_s']} | {r['second_run_s']} | "
              f"{r['realtime_factor']} | {r['peak_device_GiB']} |")
    ok = spikes_equal and max_dv <= 1e-9
    print(f"\ncheck {'passed' if ok else 'FAILED'}: max |dv| = {max_dv:.3g} mV, "
          f"spikes equal: {spikes_equal} (device: {default})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
