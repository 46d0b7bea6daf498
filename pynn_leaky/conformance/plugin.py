"""pytest plugin: run PyNN's own tests with PyNN backends aliased to pynn_leaky.

Load it with ``-p pynn_leaky.conformance.plugin``. Options:

``--pynn-leaky-alias=nest,neuron,brian2,arbor``
    ``pyNN.<name>`` imports pynn_leaky (set in ``pytest_configure``, before collection).
``--pynn-leaky-one-per-scenario``
    Of a test parametrised over simulators (PyNN's ``run_with_simulators``), run one
    copy (:func:`pynn_leaky.conformance.choose_one_per_scenario`); the others are
    deselected.
``--pynn-leaky-report=PATH``
    Write the outcome of every test (and collection errors) to PATH as JSON.
"""

import json
import os

from ._aliases import alias_simulators, choose_one_per_scenario


def pytest_addoption(parser):
    group = parser.getgroup("pynn_leaky", "PyNN conformance of pynn_leaky")
    group.addoption("--pynn-leaky-alias", default="",
                    help="comma-separated pyNN backends that import pynn_leaky")
    group.addoption("--pynn-leaky-one-per-scenario", action="store_true",
                    help="run each test parametrised over simulators once")
    group.addoption("--pynn-leaky-report", default=None,
                    help="write every test's outcome to this JSON file")


def pytest_configure(config):
    names = [n.strip() for n in config.getoption("pynn_leaky_alias").split(",") if n.strip()]
    if names:
        alias_simulators(names)
    path = config.getoption("pynn_leaky_report")
    if path:
        config.pluginmanager.register(Report(path), "pynn_leaky_report")


def _simulator_of(item):
    callspec = getattr(item, "callspec", None)
    if callspec is None or "sim" not in callspec.params:
        return None
    # PyNN's LazySimulator prints as "pyNN.<name>"
    return str(callspec.params["sim"]).rpartition(".")[2]


def pytest_collection_modifyitems(session, config, items):
    if not config.getoption("pynn_leaky_one_per_scenario"):
        return
    triples = [(item.nodeid, item.nodeid.split("[")[0], _simulator_of(item)) for item in items]
    kept, dropped = choose_one_per_scenario(triples)
    if dropped:
        keep = set(kept)
        config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in keep])
        items[:] = [i for i in items if i.nodeid in keep]


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0] if crash.message else ""
    if isinstance(report.longrepr, tuple):  # skips: (file, line, reason)
        return str(report.longrepr[2])
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else ""


class Report:
    """Collects each test's outcome and writes them as JSON at the end of the session."""

    def __init__(self, path):
        self.path = path
        self.tests = {}  # node id -> {"outcome": ..., "message": ...}

    def pytest_runtest_logreport(self, report):
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = "passed"
        else:
            return
        previous = self.tests.get(report.nodeid)
        # the first failure wins (a teardown error after a failed call stays "failed")
        if previous is None or previous["outcome"] == "passed":
            self.tests[report.nodeid] = {"outcome": outcome, "message": _message(report)}

    def pytest_collectreport(self, report):
        if report.failed:
            self.tests[report.nodeid] = {"outcome": "error", "message": _message(report)}

    def pytest_sessionfinish(self, session, exitstatus):
        data = {"exitstatus": int(exitstatus), "tests": self.tests}
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
