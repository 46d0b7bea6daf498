"""setup(threads=N): the worker threads of JAX's CPU runtime, as pyNN.nest's `threads`."""

import json
import os
import subprocess
import sys

import pytest
from pyNN import errors

import pynn_leaky as sim

# A fresh process (JAX not started yet): setup(threads=...) first, then a small network
# with Poisson input, adaptive cells and STDP; prints the CPU runtime's worker threads
# (XLA names them tf_XLAEigen), whether NPROC was left set, and the results.
SCRIPT = r"""
import json, os, sys
import numpy as np
import pynn_leaky as sim
threads = json.loads(sys.argv[1])
sim.setup(timestep=0.1, rng_seed=3, progress=False,
          **({} if threads is None else {"threads": threads}))
src = sim.Population(50, sim.SpikeSourcePoisson(rate=40.0))
cells = sim.Population(30, sim.EIF_cond_exp_isfa_ista())
stdp = sim.STDPMechanism(
    timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.01,
                                        A_minus=0.012),
    weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=0.05),
    weight=0.02, delay=1.0)
prj = sim.Projection(src, cells, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(1)),
                     stdp, receptor_type="excitatory")
cells.record(["v", "spikes"])
sim.run(200.0)
seg = cells.get_data().segments[0]
task = "/proc/self/task"
names = [open(f"{task}/{t}/comm").read().strip() for t in os.listdir(task)]
print(json.dumps({
    "workers": names.count("tf_XLAEigen"), "nproc_left": os.environ.get("NPROC"),
    "v": np.asarray(seg.analogsignals[0].magnitude).ravel().tolist(),
    "spikes": sum(len(st) for st in seg.spiketrains),
    "w": np.asarray(prj.get("weight", format="array")).ravel().tolist()}))
"""


def _run(threads, **env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NPROC", "XLA_FLAGS", "JAX_PLATFORMS")}
    env.update(env_extra)
    res = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(threads)],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_threads_set_the_cpu_runtime_workers_and_leave_results_unchanged():
    from pynn_leaky.control import DEFAULT_THREADS

    default = _run(None)
    if default["workers"] == 0:
        pytest.skip("this jaxlib names its CPU worker threads otherwise")
    three, one, env_two = _run(3), _run(1, NPROC="5"), _run(None, NPROC="2")
    assert default["workers"] == DEFAULT_THREADS == 1  # the default, not the cores
    assert (three["workers"], one["workers"]) == (3, 1)  # threads wins over NPROC
    assert env_two["workers"] == 2  # without threads, the environment's NPROC decides
    assert three["nproc_left"] is None and one["nproc_left"] == "5"  # env restored
    assert default["spikes"] > 20
    for other in (three, one, env_two):  # the threads split the work, never change it
        assert other["v"] == default["v"]
        assert other["w"] == default["w"]
        assert other["spikes"] == default["spikes"]


def test_threads_after_jax_started_warns_and_keeps_running():
    import warnings

    import jax.numpy as jnp
    import numpy as np

    jnp.zeros(1).block_until_ready()  # JAX's backends are running in this process
    with pytest.warns(UserWarning, match=r"threads = 7 has no effect.*NPROC=7"):
        sim.setup(timestep=0.1, threads=np.int64(7))
    from pynn_leaky.control import cpu_threads

    running = cpu_threads()  # pynn_leaky's default if an earlier setup() started JAX
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the number already running: nothing to say
        sim.setup(timestep=0.1, threads=running)
    cells = sim.Population(2, sim.LeakyIntegrator())
    cells.record("v")
    sim.run(1.0)
    assert cells.get_data().segments[0].analogsignals[0].shape[0] == 11
    sim.end()


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, "2"])
def test_bad_threads_refused_by_name(threads):
    with pytest.raises(errors.InvalidParameterValueError, match=r"threads = .* integer >= 1"):
        sim.setup(timestep=0.1, threads=threads)
