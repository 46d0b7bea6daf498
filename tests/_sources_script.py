"""SpikeSourceGamma and SpikeSourcePoissonRefractory on a given backend; ISIs to an .npz.

Usage: python _sources_script.py BACKEND OUT.npz   (BACKEND: pynn_leaky or pyNN.nest)
"""

import importlib
import sys

import numpy as np

N, T = 200, 3000.0
SOURCES = {
    "gamma": ("SpikeSourceGamma", {"alpha": 3, "beta": 150.0}),
    "ppd": ("SpikeSourcePoissonRefractory", {"rate": 40.0, "tau_refrac": 5.0}),
}


def main(backend, out):
    sim = importlib.import_module(backend)
    extra = {"spike_precision": "on_grid"} if backend == "pyNN.nest" else {}
    sim.setup(timestep=0.1, **extra)
    pops = {key: sim.Population(N, getattr(sim, name)(**params))
            for key, (name, params) in SOURCES.items()}
    for pop in pops.values():
        pop.record("spikes")
    sim.run(T)
    results = {}
    for key, pop in pops.items():
        trains = [np.asarray(s.magnitude) for s in pop.get_data().segments[0].spiketrains]
        results[f"{key}/isi"] = np.concatenate([np.diff(t) for t in trains])
        results[f"{key}/counts"] = np.array([t.size for t in trains])
    np.savez(out, **results)
    sim.end()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
