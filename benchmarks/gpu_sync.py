"""W1's run phase on the default device under the current loop settings (JSON lines).

Used by ``benchmarks/gpu_sync.sh`` to compare the delivery interval, XLA's
command-buffer flags and region analysis in copy insertion on a GPU, each in a fresh
process, and to split the step's cost: ``--cells``, ``--rate`` and ``--no-record`` vary
the network (W1 by default).
"""

import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))
import workloads  # noqa: E402

import pynn_leaky as sim  # noqa: E402
from pynn_leaky.engine import _network  # noqa: E402

warnings.simplefilter("ignore")


def w1_run(cells, rate, record, precision, t_ms=1000.0):
    """W1 (``benchmarks/workloads.py``) with `cells` cells and sources at `rate`: the
    times of two runs of `t_ms` and the engine layout used."""
    backend = "pynn_leaky32" if precision == "float32" else "pynn_leaky"
    workloads.w1(sim, backend, cells, t_ms, rate=rate, record=record)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        sim.run(t_ms)
        times.append(time.perf_counter() - t0)
    layout = sim.simulator.state.network.layout
    sim.end()
    return times, layout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--precision", default="float32")
    args = ap.parse_args()
    (first, second), layout = w1_run(args.cells, args.rate, not args.no_record,
                                     args.precision)
    print(json.dumps({"cells": args.cells, "rate": args.rate, "record": not args.no_record,
                      "precision": args.precision, "first_run_s": round(first, 3),
                      "second_run_s": round(second, 3), "us_per_step": round(second * 100, 1),
                      "interval": layout.interval, "batch": layout.spikes_per_batch,
                      # asked for, and kept (False: this jaxlib refused the option)
                      "region_analysis": [layout.region_analysis, _network._options_known[0]],
                      "env": {k: v for k, v in os.environ.items()
                              if k.startswith("PYNN_LEAKY") or k == "XLA_FLAGS"}}), flush=True)


if __name__ == "__main__":
    main()
