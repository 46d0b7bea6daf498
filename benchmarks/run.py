"""Run the benchmark workloads on pynn_leaky and on the installed peers; print a table.

Usage:
    python benchmarks/run.py [--workloads W1,W2,W2c,W3,W4,W5] [--backends pynn_leaky,nest]
                             [--peer-python PATH] [--max-size brian2=2000,brainpy:W1=2000]
                             [--repeat 1]
                             [--quick]

Each (workload, backend) runs in its own process, backends alternating, so that every
ratio compares runs made in the same period on the same machine. Results go to
benchmarks/results/latest.json and latest.md, and W3's growth curves to w3_growth.png.
The peers brian2 (pyNN.brian2), brainpy, brainpy64 and brainpy1d (BrainPy's own API,
benchmarks/brainpy_workloads.py) run from ``--peer-python``, by default the environment
that ``bash benchmarks/peers_venv.sh`` creates (brian2 needs numpy < 2.4). A backend runs
only the workloads it has (SUPPORTS) and only up to its ``--max-size``. pynn_leaky
backends compile every program, as a script's first run does; pynn_leaky_warm runs the
workload twice in a new compile cache and measures the second run, as a script run again
(see README "Compile cache").
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).parent
SIZES = {
    "W1": [2_000, 10_000], "W2": [1_000, 4_000], "W2c": [1_000, 4_000],
    "W3": [1_000, 10_000, 100_000, 1_000_000],
    "W4": [100_000, 1_000_000, 10_000_000], "W4n": [100_000, 1_000_000, 10_000_000],
    "W5": [1_000], "W6": [4_000],
}
QUICK = {"W1": [2_000], "W2": [1_000], "W2c": [1_000], "W3": [1_000, 10_000],
         "W4": [100_000], "W4n": [100_000], "W5": [1_000], "W6": [4_000]}
MODULE = {"nest": "nest", "brian2": "brian2", "brainpy": "brainpy", "brainpy64": "brainpy",
          "brainpy1d": "brainpy"}
PEERS = ("brian2", "brainpy", "brainpy64", "brainpy1d")  # run with --peer-python
ALL = {"W1", "W2", "W2c", "W3", "W4", "W4n", "W5", "W6"}
SUPPORTS = {"brian2": {"W1", "W2", "W2c", "W3"}, "brainpy": {"W1", "W2", "W3"},
            "brainpy64": {"W1", "W2", "W3"}, "brainpy1d": {"W1"}}
PEER_VENV = HERE / ".peers-venv" / "bin" / "python"


def installed(backend, python):
    if python != sys.executable:
        return pathlib.Path(python).exists()
    mod = MODULE.get(backend)
    return mod is None or importlib.util.find_spec(mod) is not None


def run_one(workload, backend, size, t_ms, python, timeout):
    if backend.endswith("_warm"):  # a run fills a compile cache, the next one is measured
        with tempfile.TemporaryDirectory(prefix="pynn_leaky_bench_cache_") as cache:
            _run_process(workload, backend, size, t_ms, python, timeout, cache)
            return _run_process(workload, backend, size, t_ms, python, timeout, cache)
    return _run_process(workload, backend, size, t_ms, python, timeout)


def _run_process(workload, backend, size, t_ms, python, timeout, cache=None):
    script = "brainpy_workloads.py" if backend.startswith("brainpy") else "workloads.py"
    cmd = [python, str(HERE / script), workload, backend, "--size", str(size),
           "--time", str(t_ms)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if cache is not None:
        env["PYNN_LEAKY_COMPILE_CACHE"] = cache
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"workload": workload, "backend": backend, "size": size,
                "error": [f"not finished after {timeout:g} s (killed)"]}
    lines = [line for line in res.stdout.splitlines() if line.startswith("{")]
    if res.returncode != 0 or not lines:
        return {"workload": workload, "backend": backend, "size": size,
                "error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def table(results, reference="pynn_leaky"):
    cols = ["build_s", "run1_s", "run2_s", "total_s", "peak_rss_mib"]
    rows = ["| workload | size | backend | " + " | ".join(cols)
            + " | pynn_leaky time / this backend's time |",
            "|---" * (len(cols) + 4) + "|"]
    by_key = {}
    for r in results:
        by_key.setdefault((r["workload"], r["size"]), []).append(r)
    for (w, size), rs in by_key.items():
        ref = next((r for r in rs if r["backend"] == reference and "error" not in r), None)
        for r in rs:
            if "error" in r:
                rows.append(f"| {w} | {size} | {r['backend']} | failed: {r['error']} |")
                continue
            vals = [f"{r[c]:.3g}" if c in r else "-" for c in cols]
            ratio = "-"
            key = "run2_s" if "run2_s" in r else "build_s"
            if ref is not None and r is not ref and key in r and key in ref:
                ratio = f"{ref[key] / r[key]:.3g} x ({key})"
            rows.append(f"| {w} | {size or 'default'} | {r['backend']} | "
                        + " | ".join(vals) + f" | {ratio} |")
    return "\n".join(rows)


def plot_w3(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for backend in sorted({r["backend"] for r in results}):
        rs = sorted((r for r in results if r["workload"] == "W3" and r["backend"] == backend
                     and "s_per_step" in r), key=lambda r: r["size"])
        if rs:
            a1.loglog([r["size"] for r in rs], [r["s_per_step"] for r in rs], "o-",
                      label=backend)
            a2.loglog([r["size"] for r in rs], [r["peak_rss_mib"] for r in rs], "o-",
                      label=backend)
    a1.set_xlabel("cells")
    a1.set_ylabel("s per simulated step")
    a2.set_xlabel("cells")
    a2.set_ylabel("peak RSS (MiB)")
    a1.legend()
    fig.suptitle("W3: LeakyIntegrator cells, fan-in 100 from 1000 Poisson sources at 10 Hz")
    fig.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", default="W1,W2,W2c,W3,W4,W5")
    ap.add_argument("--backends",
                    default="pynn_leaky,pynn_leaky32,nest,brian2,brainpy,brainpy1d")
    ap.add_argument("--peer-python",
                    default=str(PEER_VENV) if PEER_VENV.exists() else sys.executable)
    ap.add_argument("--max-size", default="brian2=2000",
                    help="size caps per backend or backend:workload, e.g. brian2=2000,nest:W3=1e5")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per run, s")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--time", type=float, default=1000.0)
    ap.add_argument("--quick", action="store_true", help="small sizes, 200 ms")
    ap.add_argument("--peer-max-size", type=int, default=10**12,
                    help="run peers only up to this size (e.g. NEST at 10^6 cells is slow)")
    ap.add_argument("--output", default=str(HERE / "results"))
    args = ap.parse_args()
    t_ms = 200.0 if args.quick else args.time
    sizes = QUICK if args.quick else SIZES
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    caps = {k: float(v) for k, v in (kv.split("=") for kv in args.max_size.split(",") if kv)}
    results = []
    for w in args.workloads.split(","):
        for size in sizes[w]:
            for _ in range(args.repeat):
                for b in args.backends.split(","):
                    python = args.peer_python if b in PEERS else sys.executable
                    cap = int(caps.get(f"{b}:{w}", caps.get(b, 10**12)))
                    if w not in SUPPORTS.get(b, ALL) or size > cap:
                        continue
                    if not b.startswith("pynn_leaky") and size > args.peer_max_size:
                        continue
                    if not installed(b, python):
                        print(f"skip {b}: not installed", file=sys.stderr)
                        continue
                    r = run_one(w, b, size, t_ms, python, args.timeout)
                    print(json.dumps(r), file=sys.stderr, flush=True)
                    results.append(r)
    out = pathlib.Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "time_ms": t_ms,
            "load_avg_1min_start_end": [load0, os.getloadavg()[0]],
            "wall_s": time.perf_counter() - t0, "argv": sys.argv[1:]}
    (out / "latest.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    md = (f"Machine: {meta['cpus']} CPUs ({meta['machine']}), {meta['date']}, "
          f"{t_ms:g} ms simulated per run, load average {load0:.1f} at the start and "
          f"{meta['load_avg_1min_start_end'][1]:.1f} at the end, {meta['wall_s']:.0f} s in "
          f"all\n\n" + table(results))
    (out / "latest.md").write_text(md + "\n")
    if any(r["workload"] == "W3" for r in results):
        plot_w3(results, out / "w3_growth.png")
    print(md)


if __name__ == "__main__":
    main()
