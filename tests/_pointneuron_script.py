"""PyNN PointNeuron compositions on a given backend; spikes and traces to an .npz.

Usage: python _pointneuron_script.py BACKEND SEED OUT.npz   (pynn_leaky or pyNN.nest)

AdExp with three AlphaPSR receptors (NEST aeif_cond_alpha_multisynapse) and LIF with three
CurrExpPostSynapticResponse receptors (iaf_psc_exp_multisynapse), driven by on-grid spike
times through every receptor and by offset currents that make them fire.
"""

import sys

import numpy as np
from _network_script import on_grid, start_with_sources

T = 300.0


def main(backend, seed, out):
    n, n_src = 6, 12
    sim, rng, src = start_with_sources(backend, seed, T, n_src, (10, 30))
    adex = sim.Population(n, sim.PointNeuron(
        sim.AdExp(tau_m=10.0, v_rest=-60.0, i_offset=0.3, tau_refrac=2.0),
        AMPA=sim.AlphaPSR(tau_syn=1.0, e_syn=0.0),
        NMDA=sim.AlphaPSR(tau_syn=20.0, e_syn=0.0),
        GABAA=sim.AlphaPSR(tau_syn=1.5, e_syn=-70.0)),
        initial_values={"v": -60.0})
    lif = sim.Population(n, sim.PointNeuron(
        sim.LIF(tau_m=10.0, v_rest=-60.0, v_thresh=-55.0, i_offset=0.4, tau_refrac=2.0),
        AMPA=sim.CurrExpPostSynapticResponse(tau_syn=1.0),
        NMDA=sim.CurrExpPostSynapticResponse(tau_syn=20.0),
        GABAA=sim.CurrExpPostSynapticResponse(tau_syn=1.5)),
        initial_values={"v": -60.0})
    for pop, scale in ((adex, 0.01), (lif, 1.0)):
        for rec, w in (("AMPA", 1.0), ("NMDA", 0.3), ("GABAA", 1.5)):
            sign = -1.0 if (rec == "GABAA" and pop is lif) else 1.0
            conns = [(i, j, sign * scale * w * rng.uniform(0.5, 1.5),
                      float(on_grid(rng.integers(1, 31))))
                     for i in range(n_src) for j in range(n) if rng.random() < 0.3]
            sim.Projection(src, pop, sim.FromListConnector(conns, ["weight", "delay"]),
                           receptor_type=rec)
    adex.record(["spikes", "v", "AMPA.gsyn", "NMDA.gsyn", "GABAA.gsyn"])
    lif.record(["spikes", "v", "AMPA.isyn", "NMDA.isyn", "GABAA.isyn"])
    sim.run(T)
    result = {}
    for label, pop in (("adex", adex), ("lif", lif)):
        seg = pop.get_data().segments[0]
        for sig in seg.analogsignals:
            result[f"{label}_{sig.name}"] = np.asarray(sig.magnitude, float)
        spikes = np.empty(n, dtype=object)
        spikes[:] = [np.asarray(st.magnitude, float) for st in seg.spiketrains]
        result[f"{label}_spikes"] = spikes
    np.savez(out, **result)
    sim.end()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
