"""When does input first move v? One small script, to the `compare` script contract.

Run:  python -m pynn_leaky compare tests/_peers_conventions.py --simulators leaky,nest,...

Population 'spike': a spike at 1.0 ms through a 1.0 ms delay (weight 1 nA).
Population 'dc':    two cells; DCSource(1 nA) from 1.0 ms into cell 0, from 0.0 ms into
                    cell 1 (pyNN.nest cannot start a device before 2 * min_delay).
All cells rest at V_rest = 0 mV until their input arrives. dt = min_delay = 0.1 ms.
"""

from pynn_leaky.compare import get_simulator

sim, args = get_simulator()
if args.simulator == "brian2":  # a tiny network: numpy code beats Cython's compile time
    import brian2

    brian2.prefs.codegen.target = "numpy"
sim.setup(timestep=0.1, min_delay=0.1, max_delay=2.0)
cell = dict(V_rest=0.0, R=10.0, tau=10.0, tau_syn_E=5.0)
source = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]), label="source")
spike = sim.Population(1, sim.LeakyIntegrator(**cell), label="spike")
sim.Projection(source, spike, sim.AllToAllConnector(),
               sim.StaticSynapse(weight=1.0, delay=1.0), receptor_type="excitatory")
dc = sim.Population(2, sim.LeakyIntegrator(**cell), label="dc")
sim.DCSource(amplitude=1.0, start=1.0, stop=3.0).inject_into(dc[0:1])
sim.DCSource(amplitude=1.0, start=0.0, stop=3.0).inject_into(dc[1:2])
spike.record(["v", "isyn_exc"])
dc.record("v")
source.record("spikes")
sim.run(5.0)
sim.end()
