"""Benchmark workloads, runnable on any PyNN backend by name.

Usage: python benchmarks/workloads.py WORKLOAD BACKEND [--size N] [--time MS]

WORKLOAD: W1 (LeakyIntegrator readout of Poisson sources, ~1M synapses),
W2 (Vogels-Abbott CUBA network, 4000 IF_curr_exp cells, p = 0.02, Brette et al. 2007),
W2c (the same with COBA: IF_cond_exp, PyNN's VAbenchmarks.py COBA parameters),
W3 (LeakyIntegrator populations of N cells with fan-in 100 from Poisson sources),
W4 (building N synapses with FixedProbability and FixedNumberPre and random delays),
W5 (STDP: 1000 Poisson sources at 10 Hz -> 1000 IF_curr_exp, p = 0.1, additive pair STDP),
W6 (spiking readout: 1000 Poisson sources -> N IF_curr_exp that project nowhere).
BACKEND: pynn_leaky, pynn_leaky32 (float32), pynn_leakyNt (setup(threads=N), e.g.
pynn_leaky2t; pynn_leaky's default is one thread since session 9), pynn_leaky_warm, nest,
brian2. pynn_leaky backends compile every program (PYNN_LEAKY_COMPILE_CACHE=0), except
pynn_leaky_warm: it uses the compile cache that PYNN_LEAKY_COMPILE_CACHE names (run.py
fills one in a run before the measured one), as a script run again does.
Prints one JSON line with the timings (s), peak RSS (MiB) and a few counts.
On peers the LeakyIntegrator is IF_curr_exp with cm = tau/R and an unreachable threshold.
"""

import argparse
import importlib
import json
import os
import re
import resource
import time

T0 = time.perf_counter()


def _sim(backend):
    name = {"nest": "pyNN.nest", "brian2": "pyNN.brian2"}
    if backend.startswith("pynn_leaky") and not backend.endswith("_warm"):
        # cold: every program compiled in this process (no on-disk compile cache)
        os.environ["PYNN_LEAKY_COMPILE_CACHE"] = "0"
    sim = importlib.import_module("pynn_leaky" if backend.startswith("pynn_leaky")
                                  else name.get(backend, backend))
    return sim, time.perf_counter() - T0


def _setup(sim, backend, **kw):
    if backend.startswith("pynn_leaky"):
        kw.update(precision="float32" if backend == "pynn_leaky32" else "float64", rng_seed=1,
                  progress=False)
        threads = re.fullmatch(r"pynn_leaky(\d+)t", backend)
        if threads:  # worker threads of JAX's CPU runtime
            kw.update(threads=int(threads.group(1)))
    elif backend == "nest":
        kw.update(threads=os.cpu_count(), spike_precision="on_grid")
    sim.setup(timestep=0.1, **kw)


def _leaky(sim, backend, n, V_rest=-65.0, R=40.0, tau=20.0, tau_syn_E=5.0, tau_syn_I=10.0):
    if backend.startswith("pynn_leaky"):
        cells = sim.LeakyIntegrator(V_rest=V_rest, R=R, tau=tau, tau_syn_E=tau_syn_E,
                                    tau_syn_I=tau_syn_I)
    else:
        cells = sim.IF_curr_exp(v_rest=V_rest, cm=tau / R, tau_m=tau, tau_syn_E=tau_syn_E,
                                tau_syn_I=tau_syn_I, v_thresh=1e9, v_reset=V_rest,
                                tau_refrac=0.1)
    return sim.Population(n, cells, initial_values={"v": V_rest})


def _rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def w1(sim, backend, size, t_stop, rate=20.0, record=True):
    _setup(sim, backend, min_delay=0.1, max_delay=5.0)
    cells = _leaky(sim, backend, size or 10_000)
    exc = sim.Population(800, sim.SpikeSourcePoisson(rate=rate))
    inh = sim.Population(200, sim.SpikeSourcePoisson(rate=rate))
    rng = sim.NumpyRNG(seed=42)
    delay = sim.RandomDistribution("uniform", (1.0, 5.0), rng=rng)
    sim.Projection(exc, cells, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=0.02, delay=delay), receptor_type="excitatory")
    sim.Projection(inh, cells, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=-0.06, delay=delay), receptor_type="inhibitory")
    if record:
        cells[:100].record("v")
    return cells, {}


def w2(sim, backend, size, t_stop, coba=False):
    n = size or 4000
    _setup(sim, backend, min_delay=0.2, max_delay=0.2)
    # Brette et al. 2007 benchmarks 1 (COBA) and 2 (CUBA), parameters of PyNN's
    # examples/VAbenchmarks.py: area 20000 um^2, cm 1 uF/cm^2 -> 0.2 nF, tau_m 20 ms.
    params = dict(tau_m=20.0, tau_syn_E=5.0, tau_syn_I=10.0, v_rest=-49.0, v_reset=-60.0,
                  v_thresh=-50.0, cm=0.2, tau_refrac=5.0)
    celltype = sim.IF_curr_exp
    w_exc, w_inh = 1e-3 * 0.27 * 60.0, 1e-3 * 4.5 * -20.0  # nA, from the conductances
    if coba:
        params.update(v_rest=-60.0, e_rev_E=0.0, e_rev_I=-80.0)
        celltype = sim.IF_cond_exp
        w_exc, w_inh = 4e-3, 51e-3  # uS
    n_exc = n * 4 // 5
    rng = sim.NumpyRNG(seed=98765)
    v0 = sim.RandomDistribution("uniform", (-60.0, -50.0), rng=rng)
    exc = sim.Population(n_exc, celltype(**params), initial_values={"v": v0})
    inh = sim.Population(n - n_exc, celltype(**params), initial_values={"v": v0})
    for pre, w, rec in ((exc, w_exc, "excitatory"), (inh, w_inh, "inhibitory")):
        for post in (exc, inh):
            sim.Projection(pre, post, sim.FixedProbabilityConnector(0.02, rng=rng),
                           sim.StaticSynapse(weight=w, delay=0.2), receptor_type=rec)
    if coba:  # COBA activity needs VAbenchmarks.py's kick: 20 sources at 100 Hz for 50 ms
        ext = sim.Population(20, sim.SpikeSourcePoisson(rate=100.0, duration=50.0))
        for post in (exc, inh):
            sim.Projection(ext, post, sim.FixedProbabilityConnector(0.01, rng=rng),
                           sim.StaticSynapse(weight=0.1, delay=0.2), receptor_type="excitatory")
    exc.record("spikes")
    inh.record("spikes")
    return exc, {"spiking": (exc, inh)}


def w3(sim, backend, size, t_stop):
    _setup(sim, backend, min_delay=0.1, max_delay=2.0)
    cells = _leaky(sim, backend, size or 10_000)
    src = sim.Population(1000, sim.SpikeSourcePoisson(rate=10.0))
    rng = sim.NumpyRNG(seed=7)
    sim.Projection(src, cells, sim.FixedNumberPreConnector(100, rng=rng),
                   sim.StaticSynapse(weight=0.01, delay=1.0))
    cells[:10].record("v")
    return cells, {"events": (size or 10_000) * 100 * 10.0 * t_stop / 1000.0}


def w4(sim, backend, size, t_stop, connector="FixedProbability"):
    n_syn = size or 1_000_000
    _setup(sim, backend, min_delay=0.1, max_delay=5.0)
    src = sim.Population(1000, sim.SpikeSourcePoisson(rate=1.0))
    rng = sim.NumpyRNG(seed=3)
    delay = sim.RandomDistribution("uniform", (0.1, 5.0), rng=rng)
    if connector == "FixedProbability":
        cells = _leaky(sim, backend, max(1, n_syn // 100))
        conn = sim.FixedProbabilityConnector(0.1, rng=rng)
    else:
        cells = _leaky(sim, backend, max(1, n_syn // 100))
        conn = sim.FixedNumberPreConnector(100, rng=rng)
    prj = sim.Projection(src, cells, conn, sim.StaticSynapse(weight=0.01, delay=delay))
    if backend.startswith("pynn_leaky"):
        # the engine's synapse table, otherwise built at the first run(): counted here, as
        # NEST's build counts its connections (no compilation: nothing runs)
        from pynn_leaky import _build

        _build.current(sim.simulator.state)
    return cells, {"synapses": prj.size(), "build_only": True}


def w5(sim, backend, size, t_stop):
    n = size or 1000
    _setup(sim, backend, min_delay=0.1, max_delay=1.0)
    src = sim.Population(1000, sim.SpikeSourcePoisson(rate=10.0))
    cells = sim.Population(n, sim.IF_curr_exp(i_offset=0.5, tau_refrac=2.0))
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.01,
                                            A_minus=0.012),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=0.5),
        weight=0.1, delay=1.0)
    prj = sim.Projection(src, cells, sim.FixedProbabilityConnector(0.1,
                         rng=sim.NumpyRNG(seed=11)), stdp, receptor_type="excitatory")
    cells.record("spikes")
    return cells, {"spiking": (cells,), "plastic": prj}


def w6(sim, backend, size, t_stop):
    """Spiking readout: 1000 Poisson sources (20 Hz) -> N IF_curr_exp cells (i_offset
    0.9 nA, about 43 Hz) that project nowhere, FixedProbability(0.05), spikes recorded."""
    n = size or 4000
    _setup(sim, backend, min_delay=1.0, max_delay=1.0)
    src = sim.Population(1000, sim.SpikeSourcePoisson(rate=20.0))
    out = sim.Population(n, sim.IF_curr_exp(i_offset=0.9, tau_refrac=2.0))
    sim.Projection(src, out, sim.FixedProbabilityConnector(0.05, rng=sim.NumpyRNG(seed=3)),
                   sim.StaticSynapse(weight=0.05, delay=1.0))
    out.record("spikes")
    return out, {"spiking": (out,)}


WORKLOADS = {"W1": w1, "W2": w2, "W2c": lambda *a: w2(*a, coba=True), "W3": w3, "W4": w4,
             "W4n": lambda *a: w4(*a, connector="FixedNumberPre"), "W5": w5, "W6": w6}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("backend")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--time", type=float, default=1000.0)
    args = ap.parse_args()
    sim, t_import = _sim(args.backend)
    t_build, (pop, info) = _timed(lambda: WORKLOADS[args.workload](
        sim, args.backend, args.size, args.time))
    out = {"workload": args.workload, "backend": args.backend, "size": args.size,
           "import_s": t_import, "build_s": t_build}
    if not info.pop("build_only", False):
        out["run1_s"], _ = _timed(lambda: sim.run(args.time))
        out["run2_s"], _ = _timed(lambda: sim.run(args.time))
        if "spiking" in info:
            pops = info.pop("spiking")
            n_spikes = sum(sum(p.get_spike_counts().values()) for p in pops)
            out["rate_hz"] = n_spikes / sum(p.size for p in pops) / (2 * args.time / 1000.0)
        if "events" in info:
            out["s_per_event"] = out["run2_s"] / info.pop("events")
            out["s_per_step"] = out["run2_s"] / (args.time / 0.1)
    out.update(info)
    out["total_s"] = time.perf_counter() - T0
    out["peak_rss_mib"] = _rss()
    if "plastic" in out:  # after the timings: a check that both backends learnt alike
        w = out.pop("plastic").get("weight", format="list", with_address=False)
        out["w_mean"] = float(sum(w) / len(w))
    print(json.dumps(out))
    sim.end()


if __name__ == "__main__":
    main()
