"""Build and run one network with a given PyNN backend; write the results to an .npz.

Usage::

    python _network_script.py BACKEND SCENARIO SEED OUT.npz

BACKEND is ``pynn_leaky`` or ``pyNN.nest``. The same PyNN code runs on both; the only
backend-specific part is :func:`leaky_celltype`, which maps the LeakyIntegrator onto
NEST's ``IF_curr_exp`` with an unreachable threshold (cm = tau / R, tau_m = tau).

Each simulator keeps global state, so tests/test_nest_comparison.py runs this script in a
fresh subprocess per (backend, scenario) and compares the .npz files.

Scenarios
---------
network        random network (SpikeSourceArrays -> 2 LeakyIntegrator populations, mixed
               connectors, heterogeneous per-cell parameters and per-synapse delays, a
               DCSource into a view), one run() call
network_split  the same network, run() in several pieces
dc, step, ac,  one current source (DCSource / StepCurrentSource / ACSource) alone into
ac_period,     three cells (see CURRENT_SOURCES; dc0 and step0 start at t = 0 ms, the
dc0, step0     edge of the onset convention)
spike_times    SpikeSourceArrays with one spike at every grid time; records the spikes
"""

import importlib
import sys

import numpy as np

DT = 0.1
MIN_DELAY = 0.1
MAX_DELAY = 5.0
T_NETWORK = 50.0
SPLITS = (12.3, 0.1, 20.0, 17.6)  # sums to T_NETWORK; includes a single-step run
T_CURRENT = 25.0


def leaky_celltype(sim, backend, **p):
    """A LeakyIntegrator on pynn_leaky; the equivalent IF_curr_exp on NEST."""
    if backend == "pynn_leaky":
        return sim.LeakyIntegrator(**p)
    return sim.IF_curr_exp(
        cm=np.asarray(p["tau"]) / np.asarray(p["R"]),  # nF = ms / MOhm
        tau_m=p["tau"],
        v_rest=p["V_rest"],
        v_reset=p["V_rest"],
        v_thresh=1e9,
        tau_refrac=0.1,
        tau_syn_E=p["tau_syn_E"],
        tau_syn_I=p["tau_syn_I"],
        i_offset=p["i_offset"],
    )


def portable_rng_class(sim):
    """A Mersenne-Twister RNG that makes every backend use PyNN's generic connector code.

    pynn_leaky builds FixedProbabilityConnector with a vectorised fast path when the rng
    is a ``NumpyRNG``; that path is documented as reproducible but not draw-for-draw
    identical to other backends (pynn_leaky/_connect.py). The comparison needs identical
    connectivity on both simulators, so the connector gets an RNG that is not a NumpyRNG
    (same generator, same draws), which sends both backends through pyNN.connectors.
    """
    from pyNN.random import NumpyRNG, WrappedRNG

    class PortableRNG(WrappedRNG):
        translations = NumpyRNG.translations

        def __init__(self, seed):
            WrappedRNG.__init__(self, seed, parallel_safe=True)
            self.rng = np.random.RandomState(seed)

        def _next(self, distribution, n, parameters):
            name, pmap = self.translations[distribution]
            return getattr(self.rng, name)(size=n, **{pmap[k]: v for k, v in parameters.items()})

        def permutation(self, x):
            return self.rng.permutation(x)

    return PortableRNG


def ragged(arrays):
    """A 1-d object array holding one float array per cell (saved with allow_pickle)."""
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = np.asarray(a, dtype=float)
    return out


def on_grid(steps):
    return np.round(np.asarray(steps) * DT, 10)


def random_cell_params(rng, n):
    tau = rng.uniform(5.0, 30.0, n)
    p = dict(
        V_rest=rng.uniform(-70.0, -50.0, n),
        R=rng.uniform(2.0, 20.0, n),
        tau=tau,
        tau_syn_E=rng.uniform(0.5, 10.0, n),
        tau_syn_I=rng.uniform(0.5, 10.0, n),
        i_offset=rng.uniform(-0.1, 0.1, n),
    )
    # tau_syn == tau exactly: the singular case of the exact propagator.
    p["tau_syn_E"][0] = tau[0]
    p["tau_syn_I"][1] = tau[1]
    p["tau_syn_E"][2] = p["tau_syn_I"][2] = tau[2]
    return p


def random_delays(rng, n):
    """Per-synapse delays on the grid from min_delay to max_delay, both ends included."""
    d = on_grid(rng.integers(1, int(round(MAX_DELAY / DT)) + 1, n))
    d[:2] = [MIN_DELAY, MAX_DELAY]
    return d


def nest_safe_spike_times(t_stop):
    """On-grid spike times that pyNN.nest emits exactly when requested.

    pyNN.nest feeds a SpikeSourceArray through spike_generator -> parrot_neuron with a
    connection delay of min_delay, so it hands NEST the times ``t - min_delay``:

    * times t <= min_delay become <= 0 and are lost: keep t > min_delay (k >= 2 steps);
    * pyNN.nest always sets ``precise_times=True`` on spike_generator, and ``t - min_delay``
      in float64 can land an ulp above the grid point (4.4 - 0.1 = 4.300000000000001).
      NEST then files the spike in the next step and the on-grid parrot_neuron drops the
      offset: the spike comes out one step late (4.5 ms instead of 4.4 ms; 26 of the 999
      grid times 0.2..100 ms at dt = 0.1 are affected). Keep only times whose subtraction
      is exact. test_spike_source_array_emits_grid_times_exactly[pyNN.nest] documents it.
    """
    t = on_grid(np.arange(2, int(round(t_stop / DT))))
    return t[np.round(t - MIN_DELAY, 10) == t - MIN_DELAY]


def start_with_sources(backend, seed, t_stop, n_src, counts):
    """setup() of `backend` (pyNN.nest with on-grid spikes; dt = min_delay = 0.1 ms,
    max_delay 4 ms), a numpy generator seeded with `seed`, and `n_src` SpikeSourceArrays
    with counts[0] <= k < counts[1] NEST-safe grid times each. Returns (sim, rng, sources).
    """
    sim = importlib.import_module(backend)
    extra = {"spike_precision": "on_grid"} if backend == "pyNN.nest" else {}
    sim.setup(timestep=DT, min_delay=MIN_DELAY, max_delay=4.0, **extra)
    rng = np.random.default_rng(seed)
    grid = nest_safe_spike_times(t_stop)
    times = [np.sort(rng.choice(grid, size=rng.integers(*counts), replace=False))
             for _ in range(n_src)]
    src = sim.Population(n_src, sim.SpikeSourceArray(spike_times=[list(t) for t in times]))
    return sim, rng, src


def build_network(sim, backend, seed):
    """The random network; returns (populations to record, projections, extra results)."""
    rng = np.random.default_rng(seed)
    allowed = nest_safe_spike_times(T_NETWORK - 0.5)
    sources, spikes = [], {}
    for s, n in enumerate((5, 4, 6)):
        trains = []
        for _ in range(n):
            trains.append(np.sort(rng.choice(allowed, rng.integers(3, 12), replace=False)))
        spikes[f"spikes_src{s}"] = ragged(trains)
        sources.append(sim.Population(n, sim.SpikeSourceArray(spike_times=trains),
                                      label=f"src{s}"))
    src0, src1, src2 = sources

    pa, pb = random_cell_params(rng, 8), random_cell_params(rng, 6)
    leaky_a = sim.Population(8, leaky_celltype(sim, backend, **pa), label="leakyA")
    leaky_b = sim.Population(6, leaky_celltype(sim, backend, **pb), label="leakyB")
    leaky_a.initialize(v=pa["V_rest"] + rng.uniform(-5.0, 5.0, 8))
    leaky_b.initialize(v=pb["V_rest"] + rng.uniform(-5.0, 5.0, 6))

    PortableRNG = portable_rng_class(sim)
    prjs = []

    def proj(pre, post, conn, receptor, **syn):
        prjs.append(sim.Projection(pre, post, conn, sim.StaticSynapse(**syn),
                                   receptor_type=receptor))

    # 1. FixedProbability, excitatory, homogeneous weight and delay.
    proj(src0, leaky_a, sim.FixedProbabilityConnector(0.5, rng=PortableRNG(seed + 1)),
         "excitatory", weight=0.6, delay=1.0)
    # 2. FromList, inhibitory, heterogeneous weights and delays.
    n = 20
    conns = np.column_stack([rng.integers(0, 4, n), rng.integers(0, 8, n),
                             -rng.uniform(0.1, 1.5, n), random_delays(rng, n)])
    proj(src1, leaky_a, sim.FromListConnector(conns.tolist(), column_names=["weight", "delay"]),
         "inhibitory")
    # 3. FromList, excitatory, with multapses (same pair twice, different delays).
    n = 16
    conns = np.column_stack([rng.integers(0, 4, n), rng.integers(0, 6, n),
                             rng.uniform(0.1, 1.5, n), random_delays(rng, n)])
    conns[-2:, :2] = conns[0, :2]
    proj(src1, leaky_b, sim.FromListConnector(conns.tolist(), column_names=["weight", "delay"]),
         "excitatory")
    # 4. AllToAll, inhibitory, weight and delay matrices (pre x post).
    proj(src2, leaky_b, sim.AllToAllConnector(), "inhibitory",
         weight=-rng.uniform(0.05, 0.8, (6, 6)),
         delay=on_grid(rng.integers(1, 51, (6, 6))))
    # 5. FromList onto a PopulationView, excitatory.
    view = leaky_a[::2]
    n = 12
    conns = np.column_stack([rng.integers(0, 6, n), rng.integers(0, view.size, n),
                             rng.uniform(0.1, 1.5, n), random_delays(rng, n)])
    proj(src2, view, sim.FromListConnector(conns.tolist(), column_names=["weight", "delay"]),
         "excitatory")
    # 6. AllToAll, excitatory, homogeneous.
    proj(src0, leaky_b, sim.AllToAllConnector(), "excitatory", weight=0.3, delay=2.3)

    # DCSource into a view.
    dc = sim.DCSource(amplitude=0.25, start=10.0, stop=30.0)
    dc.inject_into(leaky_b[[1, 3, 4]])

    extra = dict(spikes)
    for name, p in (("A", pa), ("B", pb)):
        for k, v in p.items():
            extra[f"param{name}_{k}"] = v
    return [leaky_a, leaky_b], sources, prjs, extra


# Current sources, one per scenario: (class name, parameters).
CURRENT_SOURCES = {
    "dc": ("DCSource", dict(amplitude=0.5, start=5.0, stop=12.0)),
    "step": ("StepCurrentSource", dict(times=[2.0, 5.5, 9.0, 14.0],
                                       amplitudes=[0.4, -0.3, 0.8, 0.0])),
    # start = 3 ms is not a whole number of periods (1/150 Hz): the phase convention shows.
    "ac": ("ACSource", dict(amplitude=0.4, offset=0.1, frequency=150.0, phase=30.0,
                            start=3.0, stop=15.0)),
    # start = 5 ms is one whole period (1/200 Hz): only onset and stop are compared.
    "ac_period": ("ACSource", dict(amplitude=0.4, offset=0.1, frequency=200.0, phase=30.0,
                                   start=5.0, stop=15.0)),
    # Sources switched on at t = 0 ms (the electrode has the current from t = 0).
    "dc0": ("DCSource", dict(amplitude=0.5, start=0.0, stop=12.0)),
    "step0": ("StepCurrentSource", dict(times=[0.0, 5.5], amplitudes=[0.4, 0.0])),
}

CURRENT_CELLS = dict(
    V_rest=np.array([-65.0, -60.0, 0.0]),
    R=np.array([10.0, 3.0, 25.0]),
    tau=np.array([10.0, 4.0, 20.0]),
    tau_syn_E=np.array([5.0, 4.0, 2.0]),
    tau_syn_I=np.array([5.0, 2.0, 20.0]),
    i_offset=np.array([0.0, 0.05, -0.02]),
)
CURRENT_V0 = CURRENT_CELLS["V_rest"] + np.array([0.0, 2.0, -1.0])


def build_current(sim, backend, scenario):
    """Three cells, one current source injected into all of them."""
    cells = sim.Population(3, leaky_celltype(sim, backend, **CURRENT_CELLS), label="cells")
    cells.initialize(v=CURRENT_V0)
    name, params = CURRENT_SOURCES[scenario]
    getattr(sim, name)(**params).inject_into(cells)
    return [cells], [], [], {}


def build_spike_times(sim, backend):
    """One SpikeSourceArray cell per grid time 0.2 ms ... T_NETWORK - 0.2 ms."""
    times = on_grid(np.arange(2, int(round(T_NETWORK / DT)) - 1))
    src = sim.Population(times.size, sim.SpikeSourceArray(spike_times=[[t] for t in times]),
                         label="grid")
    return [], [src], [], {"requested": times}


def main(backend, scenario, seed, out):
    sim = importlib.import_module(backend)
    options = {"precision": "float64"} if backend == "pynn_leaky" else {
        "spike_precision": "on_grid",  # IF_curr_exp is iaf_psc_exp, not iaf_psc_exp_ps
        "verbosity": "error",
    }
    sim.setup(timestep=DT, min_delay=MIN_DELAY, max_delay=MAX_DELAY, **options)
    if scenario in ("network", "network_split"):
        pops, sources, prjs, extra = build_network(sim, backend, seed)
        durations = SPLITS if scenario == "network_split" else (T_NETWORK,)
    elif scenario == "spike_times":
        pops, sources, prjs, extra = build_spike_times(sim, backend)
        durations = (T_NETWORK,)
    elif scenario in CURRENT_SOURCES:
        pops, sources, prjs, extra = build_current(sim, backend, scenario)
        durations = (T_CURRENT,)
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    variables = ["v", "isyn_exc"] if backend == "pynn_leaky" else ["v"]
    for p in pops:
        p.record(variables)
    for src in sources:
        src.record("spikes")
    for d in durations:
        sim.run(d)

    results = dict(extra)
    for p in pops:
        seg = p.get_data().segments[0]
        for var in variables:
            sig = seg.filter(name=var)[0]
            ids = np.asarray(sig.array_annotations["channel_index"])
            order = np.argsort(ids)
            results[f"{p.label}_{var}"] = np.asarray(sig.magnitude, dtype=np.float64)[:, order]
            results[f"{p.label}_{var}_times"] = np.asarray(sig.times.rescale("ms").magnitude)
    for src in sources:
        # Spike times as emitted (to check that each simulator emits what was asked).
        trains = src.get_data().segments[0].spiketrains
        trains = sorted(trains, key=lambda st: st.annotations["source_index"])
        results[f"emitted_{src.label}"] = ragged([st.rescale("ms").magnitude for st in trains])
    for i, prj in enumerate(prjs):
        # The realised connectivity: rows (pre index, post index in the parent population,
        # weight, delay), sorted, plus (pre label, post label, receptor type).
        conns = np.array(prj.get(["weight", "delay"], format="list", with_address=True),
                         dtype=float).reshape(-1, 4)
        post = prj.post
        if hasattr(post, "grandparent"):
            conns[:, 1] = post.index_in_grandparent(conns[:, 1].astype(int))
            post = post.grandparent
        results[f"prj{i}"] = conns[np.lexsort(conns.T[::-1])]
        results[f"prj{i}_meta"] = np.array([prj.pre.label, post.label, prj.receptor_type])
    sim.end()
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
