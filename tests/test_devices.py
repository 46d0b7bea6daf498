"""Several devices: a network spread with jax.sharding equals the one-device run."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import pytest
from pyNN import errors

import pynn_leaky as sim


def test_four_host_devices_equal_one():
    script = pathlib.Path(__file__).with_name("_sharded_script.py")
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "cells" in out["sharding"]  # the cell arrays really are split over the mesh
    assert out["n_spikes"] > 50
    assert out["spikes_equal"]
    assert out["max_dv"] <= 1e-12
    assert out["max_dw"] <= 1e-12 and out["dw_learnt"] > 1e-3  # STDP, sharded, learns alike
    assert (out["num_processes"], out["rank"]) == (1, 0)
    # batched trials split over the 4 devices (5 trials, padded to 8) equal one device's
    assert out["trials_dv"] == 0.0
    assert out["trials_spikes_equal"] and out["trials_n_spikes"] > 20
    assert out["trials_names"] == [f"trial{b:03d}" for b in range(5)]
    assert out["trials_distinct"]
    assert out["trials_recompiles"] == 0


def test_setup_devices_presents_the_cpu_as_several_devices():
    """setup(devices=N) before JAX has started makes N CPU devices; a number chosen by
    the user (XLA_FLAGS) is kept."""
    code = ("import pynn_leaky as sim, jax; sim.setup(devices=3); "
            "print(len(jax.devices('cpu')), len(sim.simulator.state.devices))")
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["3", "3"]
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=5"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["5", "3"]


@pytest.mark.parametrize("devices", [0, 10_000, "gpu", [1, 2]])
def test_bad_device_choice(devices):
    with pytest.raises(errors.InvalidParameterValueError, match="devices"):
        sim.setup(devices=devices)


def test_too_many_cpu_devices_after_jax_started_says_how():
    sim.setup()  # JAX runs in this test process from here on
    if jax.default_backend() != "cpu":
        pytest.skip("the hint is for CPUs")
    with pytest.raises(errors.InvalidParameterValueError,
                       match="devices = 10000 is not allowed.*before JAX has started"):
        sim.setup(devices=10_000)
