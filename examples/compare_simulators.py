"""One LeakyIntegrator network on pynn_leaky, NEST, NEURON and Brian2, compared.

Run:  python examples/compare_simulators.py [--output DIR] [--simulators leaky,nest,...]
      (the same as  python -m pynn_leaky compare examples/compare_simulators.py ...)
      python examples/compare_simulators.py nest      # the network alone, on one simulator
Writes DIR/comparison.png (traces, differences against pynn_leaky, wall times),
DIR/report.txt, DIR/report.json and one pickled Neo Block per simulator. Simulators that
are not installed are skipped with a message (Brian2 needs numpy<2.4: install
'pynn_leaky[compare]' in a virtual environment of its own).

The network is the same on every simulator: spike trains, cell parameters and connections
are drawn here with numpy and passed explicitly (SpikeSourceArray, FromListConnector),
since each backend draws its own Poisson spikes and random connections. Input spike times
avoid two pyNN.nest artefacts (README), and each (input, cell) pair has one synapse at
most (pyNN.brian2 cannot give two synapses of one pair different parameters).
"""

import sys

import numpy as np

from pynn_leaky.peers import SIMULATORS

DT, MIN_DELAY, T = 0.1, 0.1, 200.0


def network():
    """The PyNN script proper: run by `compare` once per simulator."""
    from pynn_leaky.compare import get_simulator

    sim, args = get_simulator()
    if args.simulator == "brian2":  # a small network: numpy code beats Cython's compile time
        import brian2

        brian2.prefs.codegen.target = "numpy"
    rng = np.random.default_rng(42)
    sim.setup(timestep=DT, min_delay=MIN_DELAY, max_delay=5.0)

    # 40 Poisson trains (20 Hz) on the time grid, without times that pyNN.nest moves
    grid = np.round(np.arange(2, round(T / DT)) * DT, 10)
    grid = grid[np.round(grid - MIN_DELAY, 10) == grid - MIN_DELAY]
    trains = [np.sort(grid[rng.random(grid.size) < 20.0 * DT / 1000.0]) for _ in range(40)]
    inputs = sim.Population(40, sim.SpikeSourceArray(spike_times=trains), label="inputs")

    n = 12
    cells = sim.Population(n, sim.LeakyIntegrator(
        V_rest=-65.0, R=rng.uniform(20.0, 40.0, n), tau=rng.uniform(10.0, 30.0, n),
        tau_syn_E=rng.uniform(1.0, 5.0, n), tau_syn_I=rng.uniform(3.0, 10.0, n)),
        initial_values={"v": -65.0}, label="cells")
    for receptor, pre, sign in (("excitatory", range(0, 30), 1.0),
                                ("inhibitory", range(30, 40), -1.0)):
        pairs = [(i, j) for i in pre for j in range(n) if rng.random() < 0.3]
        conns = [(i, j, sign * rng.uniform(0.05, 0.2), np.round(rng.integers(1, 51) * DT, 10))
                 for i, j in pairs]
        sim.Projection(inputs, cells,
                       sim.FromListConnector(conns, column_names=["weight", "delay"]),
                       receptor_type=receptor)
    sim.DCSource(amplitude=0.1, start=50.0, stop=150.0).inject_into(cells[:4])

    cells.record(["v", "isyn_exc"])
    inputs.record("spikes")
    sim.run(T)
    sim.end()


def main():
    import argparse

    from pynn_leaky.compare import compare, format_report

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default="out/compare_simulators")
    ap.add_argument("--simulators", default="leaky,nest,neuron,brian2",
                    help="comma-separated; the first is the reference")
    args = ap.parse_args()
    report = compare(__file__, args.simulators.split(","), args.output, skip_missing=True)
    print(format_report(report), end="")  # lists the simulators skipped, and why
    print(f"figure: {args.output}/comparison.png")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in SIMULATORS:
        network()
    else:
        main()
