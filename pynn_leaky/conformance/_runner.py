"""``python -m pynn_leaky.conformance``: PyNN 0.13's own tests on pynn_leaky, counted.

Exit status: 0 when every suite ran (whatever its failures), 2 when a suite could not
run (download failed, pytest crashed or collected nothing); with ``--strict`` also 1
when a scenario fails or a unit test that passes on pyNN.mock does not pass on
pynn_leaky.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

PYNN_VERSION = "0.13.0"

UNIT_TESTS = (
    "test_population.py",
    "test_populationview.py",
    "test_assembly.py",
    "test_projection.py",
    "test_connectors_serial.py",
    "test_connectors_parallel.py",
    "test_recording.py",
    "test_simulation_control.py",
    "test_lowlevelapi.py",
)
"""PyNN's unit tests written against pyNN.mock (the two test_connectors_* files are
PyNN's test_connectors)."""

SUITES = {
    # name: (what it runs, backends aliased to pynn_leaky, one run per scenario)
    "scenarios": (("system/scenarios",), ("nest", "neuron", "brian2", "arbor"), True),
    "unit": (tuple(f"unittests/{name}" for name in UNIT_TESTS), ("mock",), False),
    "unit-mock": (tuple(f"unittests/{name}" for name in UNIT_TESTS), (), False),
    "examples": None,  # PyNN's examples/*.py through ``python -m pynn_leaky run``
}
"""unit-mock is the reference: the same unit tests on PyNN's own pyNN.mock."""

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


class RunnerError(RuntimeError):
    """A suite could not be run (as opposed to: it ran and some tests failed)."""


def default_cache():
    return os.environ.get("PYNN_LEAKY_CONFORMANCE_CACHE", os.path.abspath(".conformance"))


def fetch_tests(cache, version=PYNN_VERSION):
    """PyNN's ``test/`` and ``examples/`` folders from its source distribution, downloaded
    once into `cache`.

    Returns the folder that holds them. Only these two folders are unpacked.
    """
    root = os.path.join(cache, f"pynn-{version}")
    done = os.path.join(root, ".complete-test-examples")
    if os.path.exists(done):
        return root
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"pynn=={version}", "--no-deps",
               "--no-binary", ":all:", "-q", "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        archives = [f for f in os.listdir(tmp) if f.endswith((".tar.gz", ".zip"))]
        if result.returncode != 0 or not archives:
            raise RunnerError(f"cannot download PyNN {version}'s sources ({' '.join(cmd)}):\n"
                              f"{result.stdout}{result.stderr}")
        unpacked = os.path.join(tmp, "unpacked")
        with tarfile.open(os.path.join(tmp, archives[0])) as tar:
            members = [m for m in tar.getmembers()
                       if m.name.split("/")[1:2] in (["test"], ["examples"])
                       and (m.isfile() or m.isdir())]
            tar.extractall(unpacked, members=members, filter="data")
        (top,) = os.listdir(unpacked)
        shutil.rmtree(root, ignore_errors=True)
        shutil.move(os.path.join(unpacked, top), root)
    with open(done, "w") as f:
        f.write(f"PyNN {version} test/ and examples/ from its source distribution\n")
    return root


EXAMPLE_ARGS = {"VAbenchmarks.py": ["CUBA"]}
"""Extra command-line arguments of PyNN's examples (after the simulator's name)."""


def run_examples(root, log, timeout=600):
    """Run each of PyNN's example scripts with ``python -m pynn_leaky run SCRIPT leaky``,
    from an empty working directory; return {script: {"outcome", "message"}}."""
    folder = os.path.join(root, "examples")
    results = {}
    for script in sorted(f for f in os.listdir(folder) if f.endswith(".py")):
        with tempfile.TemporaryDirectory(prefix="pynn-leaky-example-") as cwd:
            os.mkdir(os.path.join(cwd, "Results"))  # where several examples write
            cmd = [sys.executable, "-m", "pynn_leaky", "run", os.path.join(folder, script),
                   "leaky", *EXAMPLE_ARGS.get(script, [])]
            env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
            try:
                res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env,
                                     timeout=timeout)
                ok, text = res.returncode == 0, res.stdout + res.stderr
            except subprocess.TimeoutExpired:
                ok, text = False, f"took longer than {timeout} s"
        log.write(f"==== {script}\n{text}\n")
        lines = [line for line in text.strip().splitlines() if line.strip()]
        message = "" if ok else (lines[-1] if lines else "no output")
        results[f"examples/{script}"] = {"outcome": "passed" if ok else "failed",
                                         "message": message}
    return results


def run_suite(name, root, log, extra_args=(), timeout=None):
    """Run one suite in an empty working directory; return {node id: outcome}."""
    paths, aliases, one_per_scenario = SUITES[name]
    testdir = os.path.join(root, "test")
    with tempfile.TemporaryDirectory(prefix=f"pynn-leaky-{name}-") as tmp:
        workdir = os.path.join(tmp, "cwd")  # the tests' working directory, empty
        os.mkdir(workdir)
        report = os.path.join(tmp, "report.json")
        ini = os.path.join(tmp, "pytest.ini")
        with open(ini, "w") as f:  # PyNN's tests under pytest's defaults, not ours
            f.write("[pytest]\n")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "pynn_leaky.conformance.plugin", "-c", ini, "--rootdir", testdir,
               f"--pynn-leaky-report={report}", "--tb=short", "--continue-on-collection-errors"]
        if aliases:
            cmd.append(f"--pynn-leaky-alias={','.join(aliases)}")
        if one_per_scenario:
            cmd.append("--pynn-leaky-one-per-scenario")
        cmd += [*extra_args, *[os.path.join(testdir, p) for p in paths]]
        env = dict(os.environ, MPLBACKEND="Agg")
        try:
            result = subprocess.run(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise RunnerError(f"suite {name} took longer than {timeout} s") from err
        # 0: all passed, 1: some failed; anything else: the suite did not run
        if result.returncode not in (0, 1):
            raise RunnerError(f"suite {name}: pytest exited with status {result.returncode}")
        try:
            with open(report) as f:
                data = json.load(f)
        except FileNotFoundError as err:
            raise RunnerError(f"suite {name}: pytest wrote no report (crashed?)") from err
    return data["tests"]


def count(tests):
    counts = dict.fromkeys(OUTCOMES, 0)
    for entry in tests.values():
        counts[entry["outcome"]] += 1
    return counts


def _format(counts):
    return ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o] or o in OUTCOMES[:3])


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pynn_leaky.conformance",
        description="Run PyNN 0.13's own tests (scenarios and the pyNN.mock unit tests) "
                    "and example scripts against pynn_leaky and count the outcomes.")
    parser.add_argument("--cache", default=default_cache(),
                        help="where PyNN's tests are kept (default: ./.conformance or "
                             "$PYNN_LEAKY_CONFORMANCE_CACHE)")
    parser.add_argument("--suite", action="append", choices=list(SUITES),
                        help="run only this suite (repeatable; default: all)")
    parser.add_argument("--json", help="write counts and per-test outcomes to this file")
    parser.add_argument("--log", help="write pytest's output to this file (default: discarded "
                                      "unless a suite cannot run)")
    parser.add_argument("--list-failures", action="store_true",
                        help="print each test that did not pass, with its message")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 if a scenario fails or a unit test passing on pyNN.mock "
                             "does not pass on pynn_leaky")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per suite")
    parser.add_argument("pytest_args", nargs="*",
                        help="passed to pytest (after --), e.g. -- -k issue512")
    args = parser.parse_args(argv)
    suites = args.suite or list(SUITES)

    log = open(args.log, "w") if args.log else tempfile.TemporaryFile("w+")
    results, summary = {}, {"pynn_version": PYNN_VERSION, "suites": {}}
    try:
        root = fetch_tests(args.cache)
        for name in suites:
            t0 = time.perf_counter()
            results[name] = (run_examples(root, log) if name == "examples" else
                             run_suite(name, root, log, args.pytest_args, args.timeout))
            seconds = time.perf_counter() - t0
            counts = count(results[name])
            summary["suites"][name] = {"counts": counts, "seconds": round(seconds, 1),
                                       "tests": results[name]}
            print(f"{name:10s} {_format(counts)}  ({seconds:.0f} s)", flush=True)
    except RunnerError as err:
        log.flush()
        if not args.log:
            log.seek(0)
            sys.stderr.write(log.read()[-20000:])
        print(f"pynn_leaky.conformance: {err}", file=sys.stderr)
        return 2
    finally:
        log.close()

    status = 0
    if "unit" in results and "unit-mock" in results:
        regressions = sorted(
            test for test, entry in results["unit-mock"].items()
            if entry["outcome"] == "passed"
            and results["unit"].get(test, {}).get("outcome") != "passed"
        )
        summary["unit_passing_on_mock_not_on_pynn_leaky"] = regressions
        print(f"unit tests passing on pyNN.mock but not on pynn_leaky: {len(regressions)}")
        status |= bool(regressions)
    if "scenarios" in results:
        status |= any(e["outcome"] in ("failed", "error")
                      for e in results["scenarios"].values())
    if args.list_failures:
        for name in suites:
            if name == "unit-mock":
                continue
            for test, entry in sorted(results[name].items()):
                if entry["outcome"] not in ("passed", "xfailed"):
                    print(f"  {entry['outcome'].upper():7s} {test}: {entry['message'][:160]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    return int(status) if args.strict else 0
