"""Random recurrent networks of PyNN's standard cell types on a given backend; to an .npz.

Usage: python _celltypes_script.py BACKEND SEED OUT.npz MODEL [MODEL ...]
(BACKEND: pynn_leaky or pyNN.nest; MODEL: a key of MODELS)

For each model one population of N cells with heterogeneous parameters, driven by
SpikeSourceArrays, connected to itself with excitatory and inhibitory synapses of random
on-grid delays, plus a DCSource into some cells. The populations of different models are
independent (no projections between them), so a difference in one model cannot spread to
another. Connectivity is drawn here with numpy and passed as lists, so both backends get
identical networks. Saved per model: spike times of every cell and the recorded signals
(every step) of the first N_REC cells.
"""

import importlib
import sys

import numpy as np
from _network_script import nest_safe_spike_times, on_grid

T = 200.0
N, N_SRC, N_REC = 40, 20, 8


def _iaf(rng, n):
    return dict(
        v_rest=rng.uniform(-70, -60, n), v_reset=rng.uniform(-72, -65, n),
        v_thresh=rng.uniform(-55, -50, n), cm=rng.uniform(0.2, 1.0, n),
        tau_m=rng.uniform(8, 25, n), tau_refrac=on_grid(rng.integers(1, 31, n)),
        tau_syn_E=rng.uniform(0.3, 6, n), tau_syn_I=rng.uniform(0.5, 10, n),
        i_offset=rng.uniform(0.0, 0.6, n),
    )


def _cond(rng, n):
    p = _iaf(rng, n)
    p.update(e_rev_E=rng.uniform(-5, 5, n), e_rev_I=rng.uniform(-85, -70, n))
    return p


def _cond_initial(rng, n):
    # Initial conductances stay 0: pyNN.nest passes them to NEST unscaled (uS read as nS).
    return {"v": rng.uniform(-70, -55, n)}


def _eif(rng, n):
    p = _cond(rng, n)
    del p["v_thresh"]
    p.update(cm=rng.uniform(0.15, 0.4, n), tau_m=rng.uniform(8, 20, n),
             v_thresh=rng.uniform(-52, -48, n), v_spike=rng.uniform(-40, -20, n),
             delta_T=rng.uniform(0.5, 3, n), a=rng.uniform(0, 6, n),
             b=rng.uniform(0.0, 0.1, n), tau_w=rng.uniform(50, 200, n),
             tau_refrac=on_grid(rng.integers(0, 31, n)), i_offset=rng.uniform(0.0, 0.15, n))
    return p


# name: (parameters(rng, n), initial values(rng, n), (input, exc, inh) weights, signals)
MODELS = {
    "IF_curr_alpha": (
        _iaf, lambda rng, n: {"v": rng.uniform(-70, -55, n)}, (1.0, 0.5, -0.8), ["v"],
    ),
    "IF_curr_delta": (
        lambda rng, n: {k: v for k, v in _iaf(rng, n).items() if not k.startswith("tau_syn")},
        lambda rng, n: {"v": rng.uniform(-70, -55, n)}, (4.0, 1.5, -3.0), ["v"],
    ),
    "IF_cond_exp": (_cond, _cond_initial, (0.03, 0.015, 0.04), ["v", "gsyn_exc", "gsyn_inh"]),
    "IF_cond_alpha": (_cond, _cond_initial, (0.02, 0.01, 0.03), ["v", "gsyn_exc", "gsyn_inh"]),
    "EIF_cond_exp_isfa_ista": (_eif, _cond_initial, (0.01, 0.004, 0.02),
                               ["v", "w", "gsyn_exc", "gsyn_inh"]),
    "EIF_cond_alpha_isfa_ista": (_eif, _cond_initial, (0.006, 0.002, 0.015),
                                 ["v", "w", "gsyn_exc", "gsyn_inh"]),
    "IF_cond_exp_gsfa_grr": (
        lambda rng, n: dict(_cond(rng, n), tau_sfa=rng.uniform(50, 150, n),
                            e_rev_sfa=rng.uniform(-80, -70, n), q_sfa=rng.uniform(5, 20, n),
                            tau_rr=rng.uniform(1, 3, n), e_rev_rr=rng.uniform(-80, -70, n),
                            q_rr=rng.uniform(100, 3000, n)),
        _cond_initial, (0.03, 0.015, 0.04), ["v", "gsyn_exc", "gsyn_inh", "g_r", "g_s"],
    ),
    "HH_cond_exp": (
        lambda rng, n: dict(gbar_Na=rng.uniform(15, 25, n), gbar_K=rng.uniform(4, 8, n),
                            g_leak=rng.uniform(0.005, 0.02, n), cm=rng.uniform(0.15, 0.3, n),
                            v_offset=rng.uniform(-65, -60, n), e_rev_E=rng.uniform(-5, 5, n),
                            e_rev_I=rng.uniform(-85, -75, n), tau_syn_E=rng.uniform(0.2, 5, n),
                            tau_syn_I=rng.uniform(2, 10, n), i_offset=rng.uniform(0, 0.1, n)),
        lambda rng, n: {"v": rng.uniform(-70, -60, n)},
        (0.02, 0.01, 0.03), ["v", "gsyn_exc", "gsyn_inh"],
    ),
    "Izhikevich": (
        lambda rng, n: dict(a=rng.uniform(0.02, 0.1, n), b=rng.uniform(0.2, 0.25, n),
                            c=rng.uniform(-65, -50, n), d=rng.uniform(0.05, 8, n),
                            i_offset=rng.uniform(0.0, 0.01, n)),
        lambda rng, n: {"v": rng.uniform(-70, -60, n), "u": rng.uniform(-15, -12, n)},
        (6.0, 3.0, -4.0), ["v", "u"],
    ),
}


def build(sim, name, rng):
    params, initial, (w_in, w_exc, w_inh), signals = MODELS[name]
    grid = nest_safe_spike_times(T)
    times = [np.sort(rng.choice(grid, size=rng.integers(5, 30), replace=False))
             for _ in range(N_SRC)]
    src = sim.Population(N_SRC, sim.SpikeSourceArray(spike_times=[list(t) for t in times]))
    cells = sim.Population(N, getattr(sim, name)(**params(rng, N)),
                           initial_values=initial(rng, N), label=name)

    def lst(n_pre, n_post, p, w):
        pairs = [(i, j) for i in range(n_pre) for j in range(n_post) if rng.random() < p]
        return [(i, j, w * rng.uniform(0.5, 1.5), float(on_grid(rng.integers(1, 41))))
                for i, j in pairs]

    cols = ["weight", "delay"]
    sim.Projection(src, cells, sim.FromListConnector(lst(N_SRC, N, 0.2, w_in), cols),
                   receptor_type="excitatory")
    sim.Projection(cells, cells, sim.FromListConnector(lst(N, N, 0.1, w_exc), cols),
                   receptor_type="excitatory")
    sim.Projection(cells, cells, sim.FromListConnector(lst(N, N, 0.1, w_inh), cols),
                   receptor_type="inhibitory")
    sim.DCSource(amplitude=float(rng.uniform(0.1, 0.3)), start=50.0, stop=120.0).inject_into(
        cells[N // 2:])
    cells.record("spikes")
    cells[:N_REC].record(signals)
    return cells, signals


def _patch_pynn_nest(sim):
    """pyNN.nest 0.13 maps IF_cond_exp_gsfa_grr's g_r/g_s to no NEST variable (its
    variable_map says g_rr/g_sfa) and fails on creation; map them (both in nS). Its
    IF_curr_delta has no variable map at all; give it v -> V_m."""
    celltype = sim.IF_cond_exp_gsfa_grr
    celltype.variable_map = dict(celltype.variable_map, g_r="g_rr", g_s="g_sfa")
    celltype.scale_factors = dict(celltype.scale_factors, g_r=1.0, g_s=1.0)
    # pyNN.nest 0.13's IF_curr_delta has no variable_map, so v cannot be recorded.
    sim.IF_curr_delta.variable_map = {"v": "V_m"}


def main(backend, seed, out, names):
    sim = importlib.import_module(backend)
    if backend == "pyNN.nest":
        _patch_pynn_nest(sim)
    extra = {"spike_precision": "on_grid"} if backend == "pyNN.nest" else {}
    sim.setup(timestep=0.1, min_delay=0.1, max_delay=4.0, **extra)
    rng = np.random.default_rng(seed)
    built = {name: build(sim, name, rng) for name in names}
    sim.run(T)
    results = {}
    for name, (cells, signals) in built.items():
        seg = cells.get_data().segments[0]
        spikes = np.empty(N, dtype=object)
        for k, st in enumerate(seg.spiketrains):
            spikes[k] = np.asarray(st.times.rescale("ms").magnitude)
        results[f"{name}/spikes"] = spikes
        for sig in signals:
            a = seg.filter(name=sig)[0]
            results[f"{name}/{sig}"] = np.asarray(a.magnitude)
            results[f"{name}/{sig}/units"] = str(a.units.dimensionality)
    np.savez(out, **results)
    sim.end()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
