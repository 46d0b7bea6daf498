"""SpikeSourceGamma and SpikeSourcePoissonRefractory against pyNN.nest, in distribution.

NEST draws from its own random generator, so spike trains cannot be equal; the rates, ISI
means and CVs of both must agree with the process's values (and so with each other) within
5 standard errors. NEST's gamma_sup_generator moves a stage on with probability beta dt per
step (at most one per step), pynn_leaky draws the exact Poisson(beta dt) number of stage
events: both have the mean ISI alpha / beta; the CVs differ by O(beta dt) (0.5% here).
Measured (200 cells, 3 s, seed 1 / NEST's default): gamma alpha 3, beta 150 Hz: rate
49.90 / 50.29 Hz, CV 0.576 / 0.572 (1 / sqrt(3) = 0.577); dead time 5 ms, 40 Hz: rate
39.90 / 39.85 Hz, CV 0.793 / 0.803 (0.798), shortest ISI 5.1 ms on both.
"""

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

SCRIPT = pathlib.Path(__file__).with_name("_sources_script.py")
T = 3.0  # s


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    out = {}
    for backend in ("pynn_leaky", "pyNN.nest"):
        path = tmp / f"{backend}.npz"
        res = subprocess.run([sys.executable, str(SCRIPT), backend, str(path)],
                             capture_output=True, text=True, timeout=300, cwd=SCRIPT.parent,
                             env=dict(os.environ, PYTHONWARNINGS="ignore"))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        out[backend] = dict(np.load(path))
    return out


@pytest.mark.parametrize("key, rate, cv, min_isi", [
    ("gamma", 50.0, 1 / np.sqrt(3), None),
    # ISI = 5 ms + a geometric number of 0.1 ms steps with p = 0.1 / 20
    ("ppd", 40.0, 0.1 * np.sqrt(1 - 0.005) / 0.005 / 25.0, 5.1),
])
def test_statistics_agree_with_nest(results, key, rate, cv, min_isi):
    for backend, r in results.items():
        counts, isi = r[f"{key}/counts"], r[f"{key}/isi"]
        # count variance of a renewal process over T: rate T CV^2
        se_rate = np.sqrt(rate * T * cv**2 / counts.size) / T
        assert abs(counts.mean() / T - rate) < 5 * se_rate, backend
        se_cv = cv * np.sqrt(1.0 / isi.size) * 1.5
        assert abs(isi.std() / isi.mean() - cv) < 5 * se_cv + 0.01, backend
        if min_isi is not None:
            assert isi.min() == pytest.approx(min_isi), backend
