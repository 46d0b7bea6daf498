"""Train the weights of a LeakyIntegrator readout by gradient descent through the simulation.

A spiking population (IF_curr_exp driven by Poisson sources) feeds one LeakyIntegrator
readout. A "teacher" weight vector produces the target trace; the student starts from
other weights and follows jax.grad of the mean squared error through the simulation.

Run:  python examples/train_readout.py [--output DIR] [--steps 150]
Writes DIR/train_readout.png (loss curve; target, initial and trained traces).
"""

import argparse
import os

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import pynn_leaky as sim  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default="out")
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()

    sim.setup(timestep=0.1, rng_seed=1, progress=False)
    inputs = sim.Population(40, sim.SpikeSourcePoisson(rate=40.0))
    hidden = sim.Population(25, sim.IF_curr_exp(i_offset=0.3, tau_refrac=2.0))
    readout = sim.Population(1, sim.LeakyIntegrator(V_rest=0.0, R=10.0, tau=15.0))
    sim.Projection(inputs, hidden, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(2)),
                   sim.StaticSynapse(weight=1.2, delay=1.0))
    prj = sim.Projection(hidden, readout, sim.AllToAllConnector(),
                         sim.StaticSynapse(weight=0.0, delay=1.0))
    readout.record("v")
    run = sim.differentiable(200.0)  # the network as a pure function of its weights

    rng = np.random.default_rng(0)
    teacher = jnp.asarray(rng.uniform(0.0, 0.3, len(prj)))
    target = run(weights={prj: teacher})[readout]["v"]

    def loss(w):
        return jnp.mean((run(weights={prj: w})[readout]["v"] - target) ** 2)

    step = jax.jit(jax.value_and_grad(loss))
    w = jnp.full(len(prj), 0.05)
    initial = run(weights={prj: w})[readout]["v"]
    m, v, losses = jnp.zeros_like(w), jnp.zeros_like(w), []
    for i in range(1, args.steps + 1):  # Adam, written out
        value, g = step(w)
        losses.append(float(value))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**i)) / (jnp.sqrt(v / (1 - 0.999**i)) + 1e-12)
    trained = run(weights={prj: w})[readout]["v"]

    os.makedirs(args.output, exist_ok=True)
    t = np.arange(1, target.shape[0] + 1) * sim.get_time_step()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.semilogy(losses)
    ax1.set_xlabel("gradient step")
    ax1.set_ylabel("mean squared error (mV$^2$)")
    ax2.plot(t, target[:, 0], "k", label="target (teacher weights)")
    ax2.plot(t, initial[:, 0], ":", label="initial")
    ax2.plot(t, trained[:, 0], "--", label="trained")
    ax2.set_xlabel("time (ms)")
    ax2.set_ylabel("readout v (mV)")
    ax2.legend()
    path = os.path.join(args.output, "train_readout.png")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}; loss {losses[0]:.4g} -> {losses[-1]:.4g} mV^2 in {args.steps} steps; "
          f"max |w - teacher| = {float(jnp.abs(w - teacher).max()):.3g} nA")
    sim.end()


if __name__ == "__main__":
    main()
