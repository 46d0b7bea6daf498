"""Plastic synapses on pynn_leaky against pyNN.nest: STDP weights, Tsodyks-Markram
responses and the spikes they cause, on a network driven by on-grid spike times."""

import importlib.util
import pathlib

import numpy as np
import pytest
from _backend_run import run_script

pytestmark = pytest.mark.nest
if importlib.util.find_spec("nest") is None:  # pragma: no cover
    pytest.skip("NEST is not installed", allow_module_level=True)

SCRIPT = pathlib.Path(__file__).with_name("_plastic_script.py")


def _run(backend, seed, tmp_path):
    return run_script(SCRIPT, backend, tmp_path, seed, timeout=300)


@pytest.mark.parametrize("seed", [1])
def test_plastic_synapses_match_nest(seed, tmp_path):
    leaky, nest = _run("pynn_leaky", seed, tmp_path), _run("pyNN.nest", seed, tmp_path)
    assert sum(len(s) for s in nest["spikes"]) > 500  # postsynaptic spikes drive STDP
    for k, (a, b) in enumerate(zip(leaky["spikes"], nest["spikes"])):
        np.testing.assert_allclose(a, b, atol=1e-9, err_msg=f"spike times of cell {k}")
    assert np.abs(leaky["v"] - nest["v"]).max() <= 1e-6
    for k, (a, b, w0) in enumerate(zip(leaky["weights"], nest["weights"], nest["initial"])):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=f"weights of projection {k}")
        if k < 5:  # the STDP projections learnt something: the check above is not vacuous
            assert np.nanmax(np.abs(b - w0)) > 0.05
