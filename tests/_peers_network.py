"""tests/_network_script.py's random network, written to the `compare` script contract.

Run:  python tests/_peers_network.py SIMULATOR   (leaky, nest, neuron or brian2)
or    python -m pynn_leaky compare tests/_peers_network.py --simulators leaky,nest

The network (3 SpikeSourceArrays -> 2 LeakyIntegrator populations through 6 projections
with heterogeneous per-synapse delays, a DCSource into a view, per-cell parameters with
tau_syn == tau in some cells) is built by _network_script.build_network with every
backend's own ``sim.LeakyIntegrator`` (pynn_leaky.register_celltypes on the peers).
"""

import importlib.util
from pathlib import Path

import numpy as np

from pynn_leaky.compare import get_simulator

_spec = importlib.util.spec_from_file_location(
    "_network_script", Path(__file__).with_name("_network_script.py"))
net = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(net)
net.leaky_celltype = lambda sim, backend, **p: sim.LeakyIntegrator(**p)

SETUP = {
    "leaky": {"precision": "float64"},
    "nest": {"spike_precision": "on_grid", "verbosity": "error"},
}

sim, args = get_simulator(
    ("--seed", "network seed", {"type": int, "default": 20240611}),
    ("--unique-pairs", "keep only the first synapse of each (pre, post) pair in "
     "FromListConnector lists (pyNN.brian2 gives all synapses of a pair the parameters of "
     "the last one)", {"action": "store_true"}),
    ("--delay-offset", "ms added to every synaptic delay (Brian2 delivers one step later)",
     {"type": float, "default": 0.0}),
    ("--timestep", "integration time step (ms); the network's times stay on the 0.1 ms grid",
     {"type": float, "default": net.DT}),
)
if args.simulator == "brian2":  # a small network: numpy code beats Cython's compile time
    import brian2

    brian2.prefs.codegen.target = "numpy"

_FromList, _StaticSynapse = sim.FromListConnector, sim.StaticSynapse


class FromListConnector(_FromList):
    def __init__(self, conn_list, *a, **k):
        if args.unique_pairs:
            seen = set()
            conn_list = [c for c in conn_list
                         if (c[0], c[1]) not in seen and not seen.add((c[0], c[1]))]
        conn_list = [[*c[:3], round(c[3] + args.delay_offset, 10)] for c in conn_list]
        super().__init__(conn_list, *a, **k)


def StaticSynapse(**syn):
    if "delay" in syn:
        syn["delay"] = np.round(syn["delay"] + args.delay_offset, 10)
    return _StaticSynapse(**syn)


sim.FromListConnector, sim.StaticSynapse = FromListConnector, StaticSynapse
sim.setup(timestep=args.timestep, min_delay=net.MIN_DELAY,
          max_delay=net.MAX_DELAY + args.delay_offset, **SETUP.get(args.simulator, {}))
pops, sources, _, _ = net.build_network(sim, args.simulator, args.seed)
for p in pops:
    p.record(["v", "isyn_exc", "isyn_inh"])
for s in sources:
    s.record("spikes")
sim.run(net.T_NETWORK)
sim.end()
