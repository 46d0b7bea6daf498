"""The conformance plugin and runner (pynn_leaky.conformance) on tiny stand-ins for PyNN's
tests; the real run is ``python -m pynn_leaky.conformance`` (in .ci/run)."""

import subprocess
import sys
import textwrap

import pytest

from pynn_leaky.conformance import _runner, alias_simulators, choose_one_per_scenario

# The shape of PyNN's test/system/scenarios: a package whose fixtures parametrise each
# scenario over simulators that are imported lazily by name (pyNN's run_with_simulators).
FIXTURES = '''
import importlib
import pytest

class Lazy:
    def __init__(self, name):
        self.name = name
    def __str__(self):
        return f"pyNN.{self.name}"
    def __getattr__(self, attr):
        return getattr(importlib.import_module(f"pyNN.{self.name}"), attr)

def run_with_simulators(*names):
    return pytest.mark.parametrize("sim", [pytest.param(Lazy(n), id=n) for n in names])
'''

SCENARIOS = '''
import pytest
from .fixtures import run_with_simulators

@run_with_simulators("nest", "neuron", "brian2")
def test_runs_on_pynn_leaky(sim):
    sim.setup(timestep=0.1)
    cells = sim.Population(2, sim.IF_curr_exp())
    cells.record("v")
    sim.run(1.0)
    assert sim.simulator.name == "pynn_leaky"
    assert cells.get_data().segments[0].analogsignals[0].shape == (11, 2)
    sim.end()

@run_with_simulators("nest")
def test_nest_only(sim):
    import pyNN.nest
    from pyNN import nest
    assert pyNN.nest is nest and nest.__name__ == "pynn_leaky"

@run_with_simulators("nest", "neuron")
def test_fails(sim):
    assert False, "a known failure"

def test_not_parametrised():
    pytest.skip("a skip")
'''


def test_one_run_per_scenario_prefers_the_generic_backend():
    items = [
        ("a[nest]", "a", "nest"), ("a[neuron]", "a", "neuron"), ("a[brian2]", "a", "brian2"),
        ("b[nest]", "b", "nest"),
        ("c", "c", None),
        ("d[arbor]", "d", "arbor"), ("d[neuron]", "d", "neuron"),
        ("e[nest]", "e", "nest"), ("e[brian2]", "e", "brian2"),
    ]
    kept, dropped = choose_one_per_scenario(items)
    assert kept == ["a[neuron]", "b[nest]", "c", "d[neuron]", "e[brian2]"]
    assert dropped == ["a[nest]", "a[brian2]", "d[arbor]", "e[nest]"]


def test_alias_refuses_unknown_backend():
    with pytest.raises(ValueError, match="pyNN.spinnaker"):
        alias_simulators(["spinnaker"])


@pytest.fixture
def fake_pynn_tests(tmp_path):
    root = tmp_path / f"pynn-{_runner.PYNN_VERSION}"
    scenarios = root / "test" / "system" / "scenarios"
    scenarios.mkdir(parents=True)
    (root / "test" / "system" / "__init__.py").write_text("")
    (scenarios / "__init__.py").write_text("")
    (scenarios / "fixtures.py").write_text(FIXTURES)
    (scenarios / "test_tiny.py").write_text(textwrap.dedent(SCENARIOS))
    return root


def test_plugin_aliases_and_runs_each_scenario_once(fake_pynn_tests, tmp_path):
    """Through the runner: one run per scenario, on pynn_leaky, counted; no crash."""
    log = tmp_path / "log"
    with open(log, "w") as f:
        tests = _runner.run_suite("scenarios", str(fake_pynn_tests), f)
    outcomes = {test.rpartition("::")[2]: e["outcome"] for test, e in tests.items()}
    assert outcomes == {
        "test_runs_on_pynn_leaky[neuron]": "passed",
        "test_nest_only[nest]": "passed",
        "test_fails[neuron]": "failed",
        "test_not_parametrised": "skipped",
    }, log.read_text()
    assert "a known failure" in tests[next(t for t in tests if "test_fails" in t)]["message"]
    assert _runner.count(tests) == dict(passed=2, failed=1, error=0, skipped=1, xfailed=0,
                                        xpassed=0)


def test_runner_reports_a_suite_that_cannot_run(fake_pynn_tests, tmp_path):
    """A broken suite (pytest usage error) is a runner failure (exit 2), not a count."""
    (fake_pynn_tests / ".complete").write_text("")
    json_path = tmp_path / "summary.json"
    result = subprocess.run(
        [sys.executable, "-m", "pynn_leaky.conformance", "--cache", str(tmp_path),
         "--suite", "scenarios", "--json", str(json_path), "--", "--no-such-option"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pytest exited with status 4" in result.stderr
    assert not json_path.exists()
