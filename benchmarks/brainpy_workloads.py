"""W1, W2 (CUBA) and W3 written in BrainPy's own API (the peer, not a PyNN backend).

Usage: python benchmarks/brainpy_workloads.py WORKLOAD BACKEND [--size N] [--time MS]

BACKEND: brainpy (float32, BrainPy's default), brainpy64 (``bm.enable_x64()``) or, for W1,
brainpy1d (float32, every synapse with the mean delay 3 ms: one projection per source
population, BrainPy's best case, a different network).
Prints one JSON line in the same form as workloads.py (build, first run with compile,
second run, peak RSS), so run.py can tabulate it next to the PyNN backends.

The networks are those of workloads.py, written the way BrainPy's examples write them:
``bp.dyn.PoissonGroup`` sources, ``bp.dyn.IF`` (BrainPy's leaky integrator,
tau dV/dt = -(V - V_rest) + R I, exact integration ``exp_auto``), exponential currents
``bp.dyn.Expon`` + ``bp.dyn.CUBA`` merged per target (``FullProjAlignPostMg``),
event-driven sparse ``bp.dnn.EventCSRLinear`` connectivity, and ``bp.DSRunner``
(jit over a ``for_loop``) with a monitor. BrainPy's delays are per projection (one
ring buffer per source population with one read entry per delay), not per synapse, so
W1's per-synapse delays (uniform in [1, 5] ms, on the 0.1 ms grid: 41 values) become
41 projections per source population, each holding the synapses of one delay.
"""

import argparse
import json
import os
import resource
import time

T0 = time.perf_counter()


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def _cells(bp, bm, n):
    # workloads._leaky: V_rest -65 mV, R 40 MOhm, tau 20 ms; nA * MOhm = mV.
    return bp.dyn.IF(n, V_rest=-65.0, R=40.0, tau=20.0, V_initializer=bp.init.Constant(-65.0))


def w1(bp, bm, np, size, t_stop, one_delay=False):
    n = size or 10_000
    rng = np.random.default_rng(42)

    class Net(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            self.exc = bp.dyn.PoissonGroup(800, freqs=20.0)
            self.inh = bp.dyn.PoissonGroup(200, freqs=20.0)
            self.cells = _cells(bp, bm, n)
            projs = []
            for pre, w, tau in ((self.exc, 0.02, 5.0), (self.inh, -0.06, 10.0)):
                # FixedProbabilityConnector(0.1), delays uniform in [1, 5] ms on the grid.
                i, j = np.nonzero(rng.random((pre.num, n)) < 0.1)
                steps = np.rint(rng.uniform(1.0, 5.0, i.size) / 0.1).astype(np.int64)
                if one_delay:  # the approximation: every synapse gets the mean, 3 ms
                    steps[:] = 30
                for d in np.unique(steps):
                    sel = steps == d
                    # CSR from numpy (i is sorted): BrainPy's IJConn -> CSR conversion
                    # compiles eager JAX ops per shape (1.5 s per projection).
                    indptr = np.searchsorted(i[sel], np.arange(pre.num + 1))
                    conn = bp.conn.CSRConn(indices=j[sel], inptr=indptr)(pre.num, n)
                    projs.append(bp.dyn.FullProjAlignPostMg(
                        pre=pre, delay=float(d) * 0.1,
                        comm=bp.dnn.EventCSRLinear(conn, weight=w),
                        syn=bp.dyn.Expon.desc(n, tau=tau), out=bp.dyn.CUBA.desc(),
                        post=self.cells))
            self.projs = bp.DynSysGroup(*projs)
            self.n_syn = int(sum(p.comm.indices.size for p in projs))

        def update(self):
            self.projs()
            self.exc()
            self.inh()
            self.cells()

    net = Net()
    return net, {"V": lambda: net.cells.V[:100]}, {"synapses": net.n_syn}


def w3(bp, bm, np, size, t_stop, **kw):
    n = size or 10_000

    class Net(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            self.src = bp.dyn.PoissonGroup(1000, freqs=10.0)
            self.cells = _cells(bp, bm, n)
            conn = bp.conn.FixedPreNum(100, seed=7, allow_multi_conn=False)(1000, n)
            self.proj = bp.dyn.FullProjAlignPostMg(
                pre=self.src, delay=1.0, comm=bp.dnn.EventCSRLinear(conn, weight=0.01),
                syn=bp.dyn.Expon.desc(n, tau=5.0), out=bp.dyn.CUBA.desc(), post=self.cells)

        def update(self):
            self.proj()
            self.src()
            self.cells()

    net = Net()
    return net, {"V": lambda: net.cells.V[:10]}, {
        "events": n * 100 * 10.0 * t_stop / 1000.0}


def w2(bp, bm, np, size, t_stop, **kw):
    """Vogels-Abbott CUBA (workloads.w2) as BrainPy's own E/I examples write it: 3200 + 800
    LIF cells with a 5 ms dead time, p = 0.02, exponential currents (5 / 10 ms), one delay
    of 0.2 ms, spikes of all cells recorded. PyNN's cm = 0.2 nF and tau_m = 20 ms give
    R = tau_m / cm = 100 MOhm."""
    n = size or 4000
    n_exc = n * 4 // 5
    rng = np.random.default_rng(98765)

    def lif(m):
        return bp.dyn.LifRef(m, V_rest=-49.0, V_reset=-60.0, V_th=-50.0, R=100.0, tau=20.0,
                             tau_ref=5.0, spk_reset="hard",
                             V_initializer=bm.asarray(rng.uniform(-60.0, -50.0, m)))

    class Net(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            self.E, self.I = lif(n_exc), lif(n - n_exc)
            projs = []
            for pre, w, tau in ((self.E, 1e-3 * 0.27 * 60.0, 5.0),
                                (self.I, 1e-3 * 4.5 * -20.0, 10.0)):
                for post in (self.E, self.I):
                    i, j = np.nonzero(rng.random((pre.num, post.num)) < 0.02)
                    indptr = np.searchsorted(i, np.arange(pre.num + 1))
                    conn = bp.conn.CSRConn(indices=j, inptr=indptr)(pre.num, post.num)
                    projs.append(bp.dyn.FullProjAlignPostMg(
                        pre=pre, delay=0.2, comm=bp.dnn.EventCSRLinear(conn, weight=w),
                        syn=bp.dyn.Expon.desc(post.num, tau=tau), out=bp.dyn.CUBA.desc(),
                        post=post))
            self.projs = bp.DynSysGroup(*projs)

        def update(self):
            self.projs()
            self.E()
            self.I()

    net = Net()
    return net, {"spike_E": lambda: net.E.spike, "spike_I": lambda: net.I.spike}, {
        "spiking": n}


WORKLOADS = {"W1": w1, "W2": w2, "W3": w3}
BACKENDS = ["brainpy", "brainpy64", "brainpy1d"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("backend", choices=BACKENDS)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--time", type=float, default=1000.0)
    args = ap.parse_args()
    import brainpy as bp
    import brainpy.math as bm
    import numpy as np

    t_import = time.perf_counter() - T0
    if args.backend == "brainpy64":
        bm.enable_x64()
    bm.set_dt(0.1)
    bm.random.seed(1)
    if os.environ.get("BRAINEVENT_CPU"):
        import brainevent.config

        brainevent.config.set_backend("cpu", os.environ["BRAINEVENT_CPU"])

    def build():
        kw = {"one_delay": True} if args.backend == "brainpy1d" else {}
        net, monitors, info = WORKLOADS[args.workload](bp, bm, np, args.size, args.time, **kw)
        runner = bp.DSRunner(net, monitors=monitors, jit=True, progress_bar=False)
        return runner, info

    t_build, (runner, info) = _timed(build)
    out = {"workload": args.workload, "backend": args.backend, "size": args.size,
           "import_s": t_import, "build_s": t_build}
    out["run1_s"], _ = _timed(lambda: runner.run(args.time))
    out["run2_s"], _ = _timed(lambda: runner.run(args.time))
    if "V" in runner.mon:
        out["v_mean_mv"] = float(np.asarray(runner.mon["V"]).mean())
    if "spiking" in info:  # mean rate over the second run (the monitor holds that run)
        count = sum(int(np.asarray(runner.mon[k]).sum()) for k in ("spike_E", "spike_I"))
        out["rate_hz"] = count / info.pop("spiking") / (args.time / 1000.0)
    if "events" in info:
        out["s_per_event"] = out["run2_s"] / info.pop("events")
        out["s_per_step"] = out["run2_s"] / (args.time / 0.1)
    out.update(info)
    out["total_s"] = time.perf_counter() - T0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
