"""IF_curr_exp networks on pynn_leaky against pyNN.nest: spike times equal on the grid."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.nest
if importlib.util.find_spec("nest") is None:  # pragma: no cover
    pytest.skip("NEST is not installed", allow_module_level=True)

SCRIPT = pathlib.Path(__file__).with_name("_spiking_script.py")


def _run(backend, seed, tmp_path):
    out = tmp_path / f"{backend}.npz"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    res = subprocess.run([sys.executable, str(SCRIPT), backend, str(seed), str(out)],
                         capture_output=True, text=True, timeout=300, env=env,
                         cwd=SCRIPT.parent)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return np.load(out, allow_pickle=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_recurrent_if_curr_exp_matches_nest(seed, tmp_path):
    leaky, nest = _run("pynn_leaky", seed, tmp_path), _run("pyNN.nest", seed, tmp_path)
    n_spikes = sum(len(s) for s in nest["spikes"])
    assert n_spikes > 100  # the network is active, recurrent input matters
    for k, (a, b) in enumerate(zip(leaky["spikes"], nest["spikes"])):
        np.testing.assert_allclose(a, b, atol=1e-9, err_msg=f"spike times of cell {k}")
    assert np.abs(leaky["v"] - nest["v"]).max() <= 1e-6
    assert np.abs(leaky["readout"] - nest["readout"]).max() <= 1e-6
