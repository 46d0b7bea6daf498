"""A random recurrent IF_curr_exp network on a given backend; results to an .npz.

Usage: python _spiking_script.py BACKEND SEED OUT.npz   (BACKEND: pynn_leaky or pyNN.nest)

SpikeSourceArrays drive 60 IF_curr_exp cells (heterogeneous parameters, tau_refrac from
0.1 to 3 ms) connected to each other with excitatory and inhibitory synapses of random
on-grid delays, and a LeakyIntegrator readout of the spiking cells. Connectivity is
drawn here with numpy and passed as lists, so both backends get identical networks.
"""

import sys

import numpy as np
from _network_script import leaky_celltype, on_grid, start_with_sources

T = 200.0


def main(backend, seed, out):
    n_src, n = 30, 60
    sim, rng, src = start_with_sources(backend, seed, T, n_src, (5, 30))
    cells = sim.Population(n, sim.IF_curr_exp(
        v_rest=rng.uniform(-70, -60, n), v_reset=rng.uniform(-72, -65, n),
        v_thresh=rng.uniform(-55, -50, n), cm=rng.uniform(0.2, 1.0, n),
        tau_m=rng.uniform(8, 25, n), tau_refrac=on_grid(rng.integers(1, 31, n)),
        tau_syn_E=rng.uniform(1, 6, n), tau_syn_I=rng.uniform(2, 10, n),
        i_offset=rng.uniform(0.0, 0.6, n)),
        initial_values={"v": rng.uniform(-70, -55, n)})
    readout = sim.Population(5, leaky_celltype(
        sim, backend, V_rest=-65.0, R=20.0, tau=15.0, tau_syn_E=3.0, tau_syn_I=6.0,
        i_offset=0.0), initial_values={"v": -65.0})

    def lst(n_pre, n_post, p, w, k):
        pairs = [(i, j) for i in range(n_pre) for j in range(n_post) if rng.random() < p]
        return [(i, j, w * rng.uniform(0.5, 1.5), float(on_grid(rng.integers(1, 41))))
                for i, j in pairs][:k]

    cols = ["weight", "delay"]
    sim.Projection(src, cells, sim.FromListConnector(lst(n_src, n, 0.2, 1.5, 10**6), cols),
                   receptor_type="excitatory")
    sim.Projection(cells, cells, sim.FromListConnector(lst(n, n, 0.1, 0.8, 10**6), cols),
                   receptor_type="excitatory")
    sim.Projection(cells, cells, sim.FromListConnector(lst(n, n, 0.1, -1.2, 10**6), cols),
                   receptor_type="inhibitory")
    sim.Projection(cells, readout, sim.FromListConnector(lst(n, 5, 0.5, 0.1, 10**6), cols),
                   receptor_type="excitatory")
    cells.record(["spikes", "v"])
    readout.record("v")
    sim.run(T)
    seg = cells.get_data().segments[0]
    spikes = np.empty(n, dtype=object)
    for k, st in enumerate(seg.spiketrains):
        spikes[k] = np.asarray(st.times.rescale("ms").magnitude)
    np.savez(out, spikes=spikes, v=seg.filter(name="v")[0].magnitude,
             readout=readout.get_data().segments[0].filter(name="v")[0].magnitude)
    sim.end()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
