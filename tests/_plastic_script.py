"""Plastic synapses on a given backend; spikes, v and final weights to an .npz.

Usage: python _plastic_script.py BACKEND SEED OUT.npz   (BACKEND: pynn_leaky or pyNN.nest)

SpikeSourceArrays drive five IF_curr_exp populations through plastic synapses of random
on-grid delays: one STDPMechanism per weight dependence (Additive, Multiplicative,
AdditivePotentiationMultiplicativeDepression, Gutig with mu = 0.5, the only values
pyNN.nest 0.13 passes on: its GutigWeightDependence drops mu_plus/mu_minus), a recurrent
STDP projection inside the Additive population (spiking cells as presynaptic side), and
Tsodyks-Markram synapses (depressing excitatory, facilitating inhibitory). Connectivity is
drawn here with numpy and passed as lists, so both backends get identical networks.
"""

import sys

import numpy as np
from _network_script import on_grid, start_with_sources

T = 300.0


def main(backend, seed, out):
    n_src, n = 20, 10
    sim, rng, src = start_with_sources(backend, seed, T, n_src, (8, 25))

    def cells():
        return sim.Population(n, sim.IF_curr_exp(
            v_rest=-65.0, v_reset=-70.0, v_thresh=-54.0, cm=0.5,
            tau_m=rng.uniform(10, 20, n), tau_refrac=on_grid(rng.integers(5, 30, n)),
            tau_syn_E=rng.uniform(2, 6, n), tau_syn_I=rng.uniform(4, 10, n),
            i_offset=rng.uniform(0.2, 0.5, n)), initial_values={"v": rng.uniform(-70, -56, n)})

    initial = []  # weight arrays as given (NaN: no connection), one per projection

    def pairs(n_pre, n_post, p, w, sign=1.0):
        conns = [(i, j, sign * w * rng.uniform(0.3, 1.0), float(on_grid(rng.integers(1, 31))))
                 for i in range(n_pre) for j in range(n_post) if rng.random() < p]
        a = np.full((n_pre, n_post), np.nan)
        for i, j, wij, _ in conns:
            a[i, j] = wij
        initial.append(a)
        return conns

    cols = ["weight", "delay"]
    rules = [
        sim.AdditiveWeightDependence(w_min=0.0, w_max=1.2),
        sim.MultiplicativeWeightDependence(w_min=0.0, w_max=1.2),
        sim.AdditivePotentiationMultiplicativeDepression(w_min=0.0, w_max=1.2),
        sim.GutigWeightDependence(w_min=0.0, w_max=1.2, mu_plus=0.5, mu_minus=0.5),
    ]
    pops, prjs = [], []
    for k, wd in enumerate(rules):
        post = cells()
        stdp = sim.STDPMechanism(
            timing_dependence=sim.SpikePairRule(tau_plus=15.0 + k, tau_minus=25.0 - k,
                                                A_plus=0.08, A_minus=0.09),
            weight_dependence=wd, weight=0.5, delay=1.0)
        prjs.append(sim.Projection(src, post, sim.FromListConnector(pairs(n_src, n, 0.4, 1.0),
                                                                    cols), stdp))
        pops.append(post)
    recurrent = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=15.0, tau_minus=25.0,
                                            A_plus=0.05, A_minus=0.06),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=0.8),
        weight=0.3, delay=1.0)
    prjs.append(sim.Projection(pops[0], pops[0],
                               sim.FromListConnector(pairs(n, n, 0.3, 0.6), cols), recurrent))
    tm = cells()
    prjs.append(sim.Projection(
        src, tm, sim.FromListConnector(pairs(n_src, n, 0.4, 1.5), cols),
        sim.TsodyksMarkramSynapse(U=0.4, tau_rec=80.0, tau_facil=0.0),
        receptor_type="excitatory"))
    prjs.append(sim.Projection(
        src, tm, sim.FromListConnector(
            pairs(n_src, n, 0.2, 0.5, sign=-1.0), cols),
        sim.TsodyksMarkramSynapse(U=0.1, tau_rec=30.0, tau_facil=200.0),
        receptor_type="inhibitory"))
    pops.append(tm)
    for p in pops:
        p.record(["spikes", "v"])
    sim.run(T)
    spikes, v = [], []
    for p in pops:
        seg = p.get_data().segments[0]
        spikes += [np.asarray(st.magnitude, float) for st in seg.spiketrains]
        v.append(np.asarray(seg.filter(name="v")[0].magnitude, float))
    weights = [np.asarray(prj.get("weight", format="array"), float) for prj in prjs]
    arr = np.empty(len(spikes), dtype=object)
    arr[:] = spikes
    warr = np.empty((2, len(weights)), dtype=object)
    warr[0, :], warr[1, :] = initial, weights
    np.savez(out, spikes=arr, v=np.concatenate(v, axis=1), initial=warr[0], weights=warr[1])
    sim.end()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
