"""IF_curr_exp networks on pynn_leaky against pyNN.nest: spike times equal on the grid."""

import importlib.util
import pathlib

import numpy as np
import pytest
from _backend_run import run_script

pytestmark = pytest.mark.nest
if importlib.util.find_spec("nest") is None:  # pragma: no cover
    pytest.skip("NEST is not installed", allow_module_level=True)

SCRIPT = pathlib.Path(__file__).with_name("_spiking_script.py")


def _run(backend, seed, tmp_path):
    return run_script(SCRIPT, backend, tmp_path, seed, timeout=300)


@pytest.mark.parametrize("seed", [1, 2])
def test_recurrent_if_curr_exp_matches_nest(seed, tmp_path):
    leaky, nest = _run("pynn_leaky", seed, tmp_path), _run("pyNN.nest", seed, tmp_path)
    n_spikes = sum(len(s) for s in nest["spikes"])
    assert n_spikes > 100  # the network is active, recurrent input matters
    for k, (a, b) in enumerate(zip(leaky["spikes"], nest["spikes"])):
        np.testing.assert_allclose(a, b, atol=1e-9, err_msg=f"spike times of cell {k}")
    assert np.abs(leaky["v"] - nest["v"]).max() <= 1e-6
    assert np.abs(leaky["readout"] - nest["readout"]).max() <= 1e-6
