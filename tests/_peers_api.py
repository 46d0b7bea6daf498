"""What a simulator's LeakyIntegrator looks like through PyNN; prints one JSON object.

Usage:  python tests/_peers_api.py SIMULATOR      (leaky, nest, neuron or brian2)

tests/test_peers.py compares the printed facts with pynn_leaky's own LeakyIntegrator.
Each simulator keeps global state, so every simulator runs in its own process.
"""

import json
import sys

import numpy as np

from pynn_leaky.compare import import_simulator
from pynn_leaky.peers import register_celltypes

name = sys.argv[1]
sim = import_simulator(name)
if name == "brian2":
    import brian2

    brian2.prefs.codegen.target = "numpy"
    brian2.seed(12345)
LI = sim.LeakyIntegrator
facts = {
    "same_class_again": register_celltypes(sim) is LI,
    "default_parameters": LI.default_parameters,
    "default_initial_values": LI.default_initial_values,
    "units": LI.units,
    "recordable": sorted(LI.recordable),
    "receptor_types": list(LI.receptor_types),
}


def error_of(f):
    try:
        f()
    except Exception as err:  # noqa: BLE001 - the type and message are the facts
        return [type(err).__name__, str(err)]
    return None


sim.setup(timestep=0.1, min_delay=0.1, max_delay=1.0,
          **({"rng_seed": 3} if name == "leaky" else {}))
default = sim.Population(2, LI(), label="default")
cells = sim.Population(3, LI(V_rest=-60.0, R=[10.0, 20.0, 40.0], tau=[5.0, 10.0, 20.0],
                             tau_syn_E=2.0, tau_syn_I=8.0, i_offset=0.05), label="cells")
cells.initialize(v=-62.0, isyn_exc=[0.0, 0.5, 1.0], isyn_inh=[0.0, -0.2, -0.4])
names = ["V_rest", "R", "tau", "tau_syn_E", "tau_syn_I", "i_offset", "noise"]
facts["get"] = {k: np.broadcast_to(v, (3,)).tolist() for k, v in zip(names, cells.get(names))}
cells[2:].set(R=80.0)
facts["get_R_after_set"] = np.broadcast_to(cells.get("R"), (3,)).tolist()
facts["noise_error"] = error_of(lambda: cells.set(noise=0.5))
cells.set(noise=0.0)  # where noise is supported, the line above set it
facts["method_error"] = error_of(lambda: LI(method="no-such-method"))
facts["spikes_error"] = error_of(lambda: cells.record("spikes"))

src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]), label="src")
twin = sim.Population(1, LI(), label="twin")
multapse = sim.Projection(src, twin, sim.FromListConnector(  # two synapses, one pair
    [(0, 0, 0.1, 0.5), (0, 0, 0.2, 0.7)], column_names=["weight", "delay"]),
    receptor_type="excitatory")
facts["multapse_weights_delays"] = sorted(
    [float(w), float(d)] for w, d in multapse.get(["weight", "delay"], format="list",
                                                  with_address=False))

noisy = None
if name in ("leaky", "brian2"):
    noisy = sim.Population(1000, LI(V_rest=0.0, tau=10.0, noise=1.0), label="noisy")
    noisy.record("v")
default.record("v")
cells.record(["v", "isyn_exc", "isyn_inh"])
sim.run(50.0)
seg = cells.get_data().segments[0]
for var in ("v", "isyn_exc", "isyn_inh"):
    sig = seg.filter(name=var)[0]
    facts[f"initial_{var}"] = sig.magnitude[0].tolist()
    facts[f"second_sample_{var}"] = sig.magnitude[1].tolist()
    facts[f"units_{var}"] = sig.units.dimensionality.string
facts["default_v0"] = default.get_data().segments[0].filter(name="v")[0].magnitude[0].tolist()
if noisy is not None:
    v = noisy.get_data().segments[0].filter(name="v")[0].magnitude
    facts["noise_var_at_50ms"] = float(np.var(v[-1]))
sim.end()
print("FACTS " + json.dumps(facts))
