"""Memory of long and large runs: peak RSS and wall time (a benchmark, not a test).

  long:   10^6 steps (100 s at dt = 0.1 ms) of 10 LeakyIntegrator cells driven by 50
          Poisson sources, v of 5 cells recorded
  large:  10^5 SpikeSourcePoisson sources at 10 Hz, spikes of all recorded, 1000 ms

Usage: python benchmarks/memory.py [long|large ...] [--steps N] [--sources N] [--no-materialize]
Each case runs in a fresh process (peak RSS is per process) and prints one JSON line;
the parent prints a table at the end. RSS "before run" is after building the network;
peaks are the process's maximum resident set size up to that point.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

MIB = 1024 * 1024
# Peaks as in a script's first run: programs compiled, not loaded from the on-disk compile
# cache (set PYNN_LEAKY_COMPILE_CACHE to a directory to measure a run again).
os.environ.setdefault("PYNN_LEAKY_COMPILE_CACHE", "0")


def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def rss_peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def recorder_bytes(population):
    """Bytes of the host buffers holding what the recorder has received."""
    rec = population.recorder
    signals = sum(v.nbytes + i.nbytes for blocks in rec._signals.values() for i, _, v in blocks)
    spikes = sum(i.nbytes + s.nbytes for i, s in rec._spikes)
    return (signals + spikes) / MIB


def case_long(args):
    import pynn_leaky as sim

    sim.setup(timestep=0.1, rng_seed=1, progress=False)
    inputs = sim.Population(50, sim.SpikeSourcePoisson(rate=20.0))
    cells = sim.Population(10, sim.LeakyIntegrator(V_rest=-65.0, R=40.0, tau=20.0),
                           initial_values={"v": -65.0})
    sim.Projection(inputs, cells, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(1)),
                   sim.StaticSynapse(weight=0.02, delay=1.0))
    cells[:5].record("v")
    base = rss_now()
    t0 = time.perf_counter()
    sim.run(args.steps * 0.1)
    t_run = time.perf_counter() - t0
    peak_run = rss_peak()
    held = recorder_bytes(cells)
    t0 = time.perf_counter()
    v = cells.get_data().segments[0].analogsignals[0]
    t_get = time.perf_counter() - t0
    return {
        "case": "long", "steps": args.steps, "recorded": "v of 5 cells",
        "samples": v.shape[0], "chunk": sim.simulator.state.network.layout.chunk,
        "rss_before_run_MiB": round(base, 1), "peak_after_run_MiB": round(peak_run, 1),
        "recorder_MiB": round(held, 1), "peak_after_get_data_MiB": round(rss_peak(), 1),
        "run_s": round(t_run, 2), "get_data_s": round(t_get, 2),
    }


def case_large(args):
    import pynn_leaky as sim

    sim.setup(timestep=0.1, rng_seed=1, progress=False)
    sources = sim.Population(args.sources, sim.SpikeSourcePoisson(rate=10.0))
    sources.record("spikes")
    base = rss_now()
    t0 = time.perf_counter()
    sim.run(1000.0)
    t_run = time.perf_counter() - t0
    peak_run = rss_peak()
    held = recorder_bytes(sources)
    chunk = sim.simulator.state.network.layout.chunk
    t0 = time.perf_counter()
    segment = sources.get_data().segments[0]
    t_get = time.perf_counter() - t0
    peak_get = rss_peak()
    # PyNN hands neo a multiplexed SpikeTrainList: (ids, times) arrays, no per-cell objects
    t0 = time.perf_counter()
    ids, times = segment.spiketrains.multiplexed
    t_mux = time.perf_counter() - t0
    out = {
        "case": "large", "sources": args.sources, "recorded": "spikes of all",
        "spikes": int(times.size), "chunk": chunk,
        "dense_spike_block_MiB": round(chunk * args.sources * 4 / MIB, 1),
        "rss_before_run_MiB": round(base, 1), "peak_after_run_MiB": round(peak_run, 1),
        "recorder_MiB": round(held, 1), "peak_after_get_data_MiB": round(peak_get, 1),
        "run_s": round(t_run, 2), "get_data_s": round(t_get, 2),
        "multiplexed_s": round(t_mux, 2),
    }
    if args.materialize:
        # Iterating builds one neo.SpikeTrain per cell (neo masks the whole array per cell).
        t0 = time.perf_counter()
        out["spiketrains"] = len(list(segment.spiketrains))
        out["materialize_s"] = round(time.perf_counter() - t0, 2)
        out["peak_after_materialize_MiB"] = round(rss_peak(), 1)
    return out


CASES = {"long": case_long, "large": case_large}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*", default=list(CASES), help="long, large (default: both)")
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--sources", type=int, default=100_000)
    ap.add_argument("--no-materialize", dest="materialize", action="store_false",
                    help="large: do not build the per-cell SpikeTrain objects (slow in neo)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case {unknown[0]!r}: choose from {', '.join(CASES)}")
    if args.child:
        t0 = time.perf_counter()
        out = CASES[args.cases[0]](args)
        out["total_s"] = round(time.perf_counter() - t0, 2)
        print(json.dumps(out))
        return
    results = []
    for case in args.cases:
        cmd = [sys.executable, __file__, case, "--child", "--steps", str(args.steps),
               "--sources", str(args.sources)] + ([] if args.materialize else ["--no-materialize"])
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(line.strip().splitlines()[-1]))
        print(line.strip(), flush=True)
    print(f"\n{'case':6} {'run s':>7} {'get_data s':>10} {'RSS before MiB':>14} "
          f"{'peak after run':>14} {'after get_data':>14} {'recorder MiB':>12}")
    for r in results:
        print(f"{r['case']:6} {r['run_s']:7.2f} {r['get_data_s']:10.2f} "
              f"{r['rss_before_run_MiB']:14.1f} {r['peak_after_run_MiB']:14.1f} "
              f"{r['peak_after_get_data_MiB']:14.1f} {r['recorder_MiB']:12.1f}")


if __name__ == "__main__":
    main()
