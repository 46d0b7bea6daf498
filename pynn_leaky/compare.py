"""Run one PyNN script on several simulators and compare what it recorded.

Command line (see ``python -m pynn_leaky compare --help``)::

    python -m pynn_leaky compare SCRIPT --simulators leaky,nest,neuron,brian2 --output DIR

The script contract
-------------------
SCRIPT is an ordinary PyNN script that takes its simulator the way PyNN's examples do,
as the first positional command-line argument, and gets the backend from
:func:`get_simulator` (a drop-in for ``pyNN.utility.get_simulator``, which also works)::

    from pynn_leaky.compare import get_simulator
    sim, args = get_simulator(("--time", "simulated time (ms)", {"type": float, "default": 100.0}))
    sim.setup(timestep=0.1)
    cells = sim.Population(10, sim.LeakyIntegrator(tau=20.0), label="cells")
    ...
    cells.record("v")
    sim.run(args.time)
    sim.end()

Simulator names are ``leaky`` (pynn_leaky), ``nest``, ``neuron``, ``brian2``; the module
returned has ``LeakyIntegrator`` (see :mod:`pynn_leaky.peers`). The script runs as
``python SCRIPT NAME [ARGS...]`` by itself, and under ``compare`` in a fresh process per
simulator. It saves nothing itself: the runner keeps every Population the script creates
and, when the script calls ``sim.end()`` (or, failing that, when it returns), gets all
their recorded data (``get_data()``) into one Neo Block, pickled as ``DIR/NAME.pkl``.
Give populations the same labels on every simulator (the default labels are, if created
in the same order). Networks must be identical on every simulator: draw random
parameters, spike times and connections with numpy in the script and pass them
explicitly (``SpikeSourceArray``, ``FromListConnector``), since each backend draws its own
Poisson spikes and pynn_leaky's vectorised connectors draw differently from PyNN's.

Report
------
``DIR/report.txt`` (also printed), ``DIR/report.json`` and ``DIR/comparison.png``: per
segment, population and recorded variable, the max and RMS difference of each simulator
against the first one, and the time shift (in steps) that would minimise it; per
population with spikes, spike counts and spike-time differences; the wall time of each
simulator (whole process, and the script alone).
"""

import argparse
import importlib
import importlib.util
import json
import os
import pickle
import runpy
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import runner
from .peers import SIMULATORS, ensure_neuron_mechanisms, register_celltypes

__all__ = [
    "SimulatorNotInstalledError",
    "CompareError",
    "available",
    "import_simulator",
    "get_simulator",
    "compare",
]

#: What each peer needs, and how to get it.
_REQUIREMENTS = {
    "leaky": ("jax", "pip install pynn_leaky"),
    "nest": ("nest", "pip install nest-simulator (or pip install 'pynn_leaky[compare]')"),
    "neuron": ("neuron", "pip install neuron (or pip install 'pynn_leaky[compare]')"),
    "brian2": ("brian2", "pip install brian2 (needs numpy<2.4; or pip install "
                         "'pynn_leaky[compare]' in its own virtual environment)"),
}
_MAX_SHIFT = 3  # steps tried when looking for the shift that explains a difference


class SimulatorNotInstalledError(ModuleNotFoundError):
    """A simulator asked for is not installed in this Python environment."""


class CompareError(RuntimeError):
    """A simulator run failed, or its results cannot be compared."""


def _short_name(name):
    for short, module in SIMULATORS.items():
        if name in (short, module, module.split(".")[-1]):
            return short
    raise ValueError(f"unknown simulator {name!r}: choose from {', '.join(SIMULATORS)}")


def available(name):
    """``None`` if simulator `name` can be imported here, else why not (with the fix)."""
    short = _short_name(name)
    module, fix = _REQUIREMENTS[short]
    if importlib.util.find_spec(module) is None:
        return f"{short}: Python module {module!r} is not installed in {sys.prefix}: {fix}"
    return None


def import_simulator(name):
    """The PyNN backend module for `name`, with ``LeakyIntegrator`` registered.

    Raises :class:`SimulatorNotInstalledError` naming the fix if it is not installed. For
    NEURON, compiles pyNN's and the LeakyIntegrator's NMODL mechanisms first if needed.
    """
    short = _short_name(name)
    missing = available(short)
    if missing:
        raise SimulatorNotInstalledError(missing)
    if short == "neuron":
        ensure_neuron_mechanisms()
    sim = importlib.import_module(SIMULATORS[short])
    register_celltypes(sim)
    if short == "leaky":  # so that pyNN.utility.get_simulator("leaky") finds it
        sys.modules.setdefault("pyNN.leaky", sim)
    return sim


def get_simulator(*arguments):
    """Like ``pyNN.utility.get_simulator``: the simulator named by the first positional
    command-line argument (leaky, nest, neuron, brian2), with ``LeakyIntegrator``.

    Extra arguments are ``(name, help)`` or ``(name, help, argparse keywords)`` tuples.
    Returns ``(sim, args)``.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("simulator", help=f"one of {', '.join(SIMULATORS)}")
    for argument in arguments:
        extra = argument[2] if len(argument) > 2 else {}
        parser.add_argument(argument[0], help=argument[1], **extra)
    args = parser.parse_args()
    return import_simulator(args.simulator), args


# -- the child process: run the script, keep its data ----------------------------------------


def _collect(populations, simulator):
    """One Neo Block holding every recorded signal and spike train of `populations`."""
    import neo

    block = neo.Block(name=simulator)
    for pop in populations:
        if not any(pop.recorder.recorded.values()):
            continue
        for i, seg in enumerate(pop.get_data().segments):
            while len(block.segments) <= i:
                block.segments.append(neo.Segment(name=f"segment{len(block.segments)}",
                                                  index=len(block.segments)))
            target = block.segments[i]
            for signal in seg.analogsignals + seg.irregularlysampledsignals:
                signal.annotations.setdefault("source_population", pop.label)
                (target.analogsignals if isinstance(signal, neo.AnalogSignal)
                 else target.irregularlysampledsignals).append(signal)
                signal.segment = target
            for train in seg.spiketrains:
                train.annotations.setdefault("source_population", pop.label)
                target.spiketrains.append(train)
                train.segment = target
    return block


def run_script(name, script, out, script_args=()):
    """Run `script` on simulator `name` in this process; pickle its Neo Block to `out`.

    This is the child side of :func:`compare` (``python -m pynn_leaky _run``).
    """
    from pyNN.common import populations as _populations

    short = _short_name(name)
    t0 = time.perf_counter()
    sim = import_simulator(short)
    import_s = time.perf_counter() - t0

    created = []
    original_init = _populations.Population.__init__

    def tracking_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        created.append(self)

    _populations.Population.__init__ = tracking_init
    result = {}
    original_end = sim.end

    def end(*args, **kwargs):
        if "block" not in result:
            result["block"] = _collect(created, short)
            result["script_s"] = time.perf_counter() - t_script
        return original_end(*args, **kwargs)

    sim.end = end
    sys.argv = [str(script), short, *script_args]
    t_script = time.perf_counter()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        _populations.Population.__init__ = original_init
        sim.end = original_end
    if "block" not in result:  # the script did not call end()
        result["script_s"] = time.perf_counter() - t_script
        result["block"] = _collect(created, short)
    block = result["block"]
    block.annotate(simulator=short, module=sim.__name__, script=str(script),
                   script_wall_time_s=result["script_s"], import_wall_time_s=import_s,
                   simulator_version=_version(short))
    with open(out, "wb") as f:
        pickle.dump(block, f)
    return block


def _version(short):
    from importlib.metadata import PackageNotFoundError, version

    package = {"leaky": "pynn_leaky", "nest": "nest-simulator"}.get(short, short)
    try:
        return version(package)
    except PackageNotFoundError:  # e.g. NEST built from source
        return "unknown"


# -- the parent: run each simulator, compare --------------------------------------------------


def compare(script, simulators, output, script_args=(), skip_missing=False, timeout=None):
    """Run `script` on each of `simulators` (the first is the reference) and compare.

    Each simulator runs in its own process, one after the other (so wall times do not
    compete). Writes ``NAME.pkl``, ``NAME.log``, ``report.txt``, ``report.json`` and
    ``comparison.png`` into `output`; returns the report as a dict.

    A simulator that is not installed raises :class:`SimulatorNotInstalledError`, or with
    `skip_missing` is left out (and listed in the report). A failing run raises
    :class:`CompareError` with the end of its output.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"script {script} does not exist")
    simulators = [_short_name(s) for s in simulators]
    if len(set(simulators)) != len(simulators) or not simulators:
        raise ValueError(f"simulators must be distinct and at least one: {simulators}")
    missing = {s: available(s) for s in simulators}
    missing = {s: why for s, why in missing.items() if why}
    if missing and not skip_missing:
        raise SimulatorNotInstalledError("\n".join(missing.values()))
    runnable = [s for s in simulators if s not in missing]
    if not runnable:
        raise SimulatorNotInstalledError("none of the simulators is installed:\n"
                                         + "\n".join(missing.values()))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if "neuron" in runnable:
        ensure_neuron_mechanisms()  # once, before the run is timed

    blocks, wall = {}, {}
    for name in runnable:
        out = output / f"{name}.pkl"
        log = output / f"{name}.log"
        cmd = [sys.executable, "-m", "pynn_leaky", "_run", name, str(script), str(out),
               *script_args]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env=dict(os.environ, MPLBACKEND="Agg"))
        except subprocess.TimeoutExpired as err:
            raise CompareError(f"{name}: {script.name} did not finish in {timeout} s") from err
        wall[name] = time.perf_counter() - t0
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise CompareError(
                f"{name}: {script.name} failed (exit status {proc.returncode}); log in {log}:\n"
                + (proc.stdout + proc.stderr)[-3000:])
        with open(out, "rb") as f:
            blocks[name] = pickle.load(f)

    report = compare_blocks(blocks, wall)
    report.update(script=str(script), script_args=list(script_args), skipped=missing)
    (output / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (output / "report.txt").write_text(format_report(report))
    plot_report(blocks, report, output / "comparison.png")
    return report


def _signals(block):
    """{(segment, population, variable): {times (ms), values [n, cells], units, channels}}."""
    out = {}
    for i, seg in enumerate(block.segments):
        for sig in seg.analogsignals + seg.irregularlysampledsignals:
            index = np.asarray(sig.array_annotations.get("channel_index",
                                                         np.arange(sig.shape[1])))
            order = np.argsort(index)
            key = (i, sig.annotations.get("source_population", "?"), sig.name)
            out[key] = dict(times=np.asarray(sig.times.rescale("ms").magnitude),
                            values=np.asarray(sig.magnitude, dtype=float)[:, order],
                            units=sig.units, channels=index[order])
    return dict(sorted(out.items(), key=lambda item: (item[0][0], item[0][1],
                                                      item[0][2] != "v", item[0][2])))


def _spikes(block):
    """{(segment index, population): {source index: times in ms}}."""
    out = {}
    for i, seg in enumerate(block.segments):
        for train in seg.spiketrains:
            key = (i, train.annotations.get("source_population", "?"))
            index = int(train.annotations.get("source_index", len(out.get(key, {}))))
            out.setdefault(key, {})[index] = np.sort(train.rescale("ms").magnitude)
    return out


def _best_shift(ref, other, max_shift=_MAX_SHIFT):
    """The shift s (steps) minimising max|other[t] - ref[t - s]|; s > 0: other is late."""
    best = (0, float(np.max(np.abs(other - ref))))
    for s in range(-max_shift, max_shift + 1):
        if s == 0 or abs(s) >= len(ref):
            continue
        a, b = (ref[:-s], other[s:]) if s > 0 else (ref[-s:], other[:s])
        diff = float(np.max(np.abs(b - a)))
        if diff < best[1]:
            best = (s, diff)
    return best


def _compare_signal(ref, other):
    values = other["values"] * float((1.0 * other["units"]).rescale(ref["units"]).magnitude)
    common = np.intersect1d(ref["channels"], other["channels"])
    ri = np.searchsorted(ref["channels"], common)
    oi = np.searchsorted(other["channels"], common)
    a, b = ref["values"][:, ri], values[:, oi]
    tr, to = ref["times"], other["times"]
    n = min(len(tr), len(to))
    same_grid = np.allclose(tr[:n], to[:n], rtol=0, atol=1e-9)
    if same_grid:
        a, b, t = a[:n], b[:n], tr[:n]
    else:  # e.g. CVODE: interpolate onto the reference times they share
        keep = (tr >= to[0] - 1e-9) & (tr <= to[-1] + 1e-9)
        t, a = tr[keep], a[keep]
        b = np.column_stack([np.interp(t, to, b[:, j]) for j in range(b.shape[1])])
    diff = b - a
    worst = np.unravel_index(np.argmax(np.abs(diff)), diff.shape) if diff.size else (0, 0)
    row = dict(
        max_abs=float(np.max(np.abs(diff))) if diff.size else float("nan"),
        rms=float(np.sqrt(np.mean(diff ** 2))) if diff.size else float("nan"),
        at_time_ms=float(t[worst[0]]) if diff.size else float("nan"),
        at_channel=int(common[worst[1]]) if diff.size else -1,
        samples=[len(tr), len(to)],
        cells=[len(ref["channels"]), len(other["channels"])],
        interpolated=not same_grid,
    )
    if same_grid and diff.size:
        row["best_shift_steps"], row["max_abs_at_best_shift"] = _best_shift(a, b)
    return row, t, np.max(np.abs(diff), axis=1) if diff.size else np.zeros(0)


def _compare_spikes(ref, other):
    cells = sorted(set(ref) | set(other))
    counts_ref = {c: len(ref.get(c, ())) for c in cells}
    counts_other = {c: len(other.get(c, ())) for c in cells}
    equal = [c for c in cells if counts_ref[c] == counts_other[c] and counts_ref[c] > 0]
    dts = np.concatenate([other[c] - ref[c] for c in equal]) if equal else np.zeros(0)
    return dict(
        count=[sum(counts_ref.values()), sum(counts_other.values())],
        cells_with_different_counts=sum(counts_ref[c] != counts_other[c] for c in cells),
        max_abs_dt_ms=float(np.max(np.abs(dts))) if dts.size else 0.0,
        mean_dt_ms=float(np.mean(dts)) if dts.size else 0.0,
    )


def compare_blocks(blocks, wall=None):
    """Compare the Blocks {simulator: Block} against the first one; return the report."""
    names = list(blocks)
    ref_name = names[0]
    sigs = {n: _signals(b) for n, b in blocks.items()}
    spikes = {n: _spikes(b) for n, b in blocks.items()}
    report = dict(reference=ref_name, simulators=names, signals=[], spikes=[], timing={})
    for key, ref in sigs[ref_name].items():
        entry = dict(segment=key[0], population=key[1], variable=key[2],
                     units=str(ref["units"].dimensionality), cells=len(ref["channels"]),
                     samples=len(ref["times"]), versus={})
        for n in names[1:]:
            if key not in sigs[n]:
                entry["versus"][n] = dict(missing=True)
                continue
            entry["versus"][n] = _compare_signal(ref, sigs[n][key])[0]
        report["signals"].append(entry)
    for key in sorted(set().union(*[set(s) for s in spikes.values()])):
        ref = spikes[ref_name].get(key, {})
        entry = dict(segment=key[0], population=key[1],
                     count={n: int(sum(len(t) for t in spikes[n].get(key, {}).values()))
                            for n in names},
                     versus={n: _compare_spikes(ref, spikes[n].get(key, {}))
                             for n in names[1:]})
        report["spikes"].append(entry)
    for n, block in blocks.items():
        a = block.annotations
        report["timing"][n] = dict(process_s=(wall or {}).get(n, float("nan")),
                                   script_s=a.get("script_wall_time_s", float("nan")),
                                   import_s=a.get("import_wall_time_s", float("nan")),
                                   version=a.get("simulator_version", "unknown"))
    return report


def format_report(report):
    """The report as text."""
    ref = report["reference"]
    lines = [f"pynn_leaky compare: {report.get('script', '')}",
             f"reference: {ref}; compared: {', '.join(report['simulators'][1:]) or '-'}"]
    for why in report.get("skipped", {}).values():
        lines.append(f"skipped {why}")
    lines += ["", "wall time (s)       process    script    import   version"]
    for name, t in report["timing"].items():
        lines.append(f"  {name:<14} {t['process_s']:9.2f} {t['script_s']:9.2f} "
                     f"{t['import_s']:9.2f}   {t['version']}")
    for e in report["signals"]:
        lines += ["", f"segment {e['segment']}, population {e['population']!r}, "
                      f"{e['variable']} ({e['units']}), {e['cells']} cells x {e['samples']} "
                      f"samples of {ref}",
                  "  simulator       max|diff|    rms diff    worst at (ms, cell)   "
                  "best shift: steps, max|diff|"]
        for n, r in e["versus"].items():
            if r.get("missing"):
                lines.append(f"  {n:<14} not recorded")
                continue
            shift = (f"{r['best_shift_steps']:+d}, {r['max_abs_at_best_shift']:.3e}"
                     if "best_shift_steps" in r else "(interpolated)")
            lines.append(f"  {n:<14} {r['max_abs']:11.3e} {r['rms']:11.3e}   "
                         f"{r['at_time_ms']:9.3f}, {r['at_channel']:<5d}      {shift}")
            if r["samples"][0] != r["samples"][1] or r["cells"][0] != r["cells"][1]:
                lines.append(f"  {'':<14} samples {r['samples']}, cells {r['cells']} "
                             f"({ref}, {n}): compared where both have data")
    for e in report["spikes"]:
        counts = ", ".join(f"{n} {c}" for n, c in e["count"].items())
        lines += ["", f"segment {e['segment']}, population {e['population']!r}, spikes: "
                      f"{counts}",
                  "  simulator       count diff  cells w/ other count  max|dt| ms  mean dt ms"]
        for n, r in e["versus"].items():
            lines.append(f"  {n:<14} {r['count'][1] - r['count'][0]:+11d} "
                         f"{r['cells_with_different_counts']:21d} {r['max_abs_dt_ms']:11.4g} "
                         f"{r['mean_dt_ms']:+11.4g}")
    return "\n".join(lines) + "\n"


def plot_report(blocks, report, path):
    """Traces, differences against the reference, and wall times, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(blocks)
    sigs = {n: _signals(b) for n, b in blocks.items()}
    keys = [k for k in sigs[names[0]] if k[0] == 0][:6]
    rows = len(keys) + 1
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.6 * rows), squeeze=False)
    for row, key in enumerate(keys):
        ref = sigs[names[0]][key]
        ax_trace, ax_diff = axes[row]
        for n in names:
            if key not in sigs[n]:
                continue
            s = sigs[n][key]
            ax_trace.plot(s["times"], s["values"][:, 0], label=n, lw=1.0,
                          ls="-" if n == names[0] else "--")
            if n != names[0]:
                _, t, worst = _compare_signal(ref, s)
                ax_diff.semilogy(t, np.maximum(worst, 1e-17), label=n, lw=0.8)
        ax_trace.set_title(f"{key[1]}: {key[2]} of cell {ref['channels'][0]}", fontsize=9)
        ax_trace.set_ylabel(str(ref["units"].dimensionality))
        ax_diff.set_title(f"{key[1]}: max over cells |{key[2]} - {key[2]}[{names[0]}]|",
                          fontsize=9)
        ax_trace.legend(fontsize=7)
        if len(names) > 1:
            ax_diff.legend(fontsize=7)
    for ax in axes[-2]:
        ax.set_xlabel("time (ms)")
    ax_time, ax_text = axes[-1]
    timing = report["timing"]
    ax_time.barh(names, [timing[n]["process_s"] for n in names], label="process")
    ax_time.barh(names, [timing[n]["script_s"] for n in names], label="script")
    ax_time.set_xlabel("wall time (s)")
    ax_time.legend(fontsize=7)
    ax_text.axis("off")
    summary = [f"reference: {names[0]}"]
    for e in report["signals"]:
        for n, r in e["versus"].items():
            if not r.get("missing"):
                summary.append(f"{e['population']}.{e['variable']} {n}: max {r['max_abs']:.2e}, "
                               f"shift {r.get('best_shift_steps', '-')}")
    ax_text.text(0, 1, "\n".join(summary[:14]), va="top", family="monospace", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- command line -----------------------------------------------------------------------------


def main(argv=None):
    """``python -m pynn_leaky compare ...``, ``run ...``, ``cache [--clear]`` (and the
    hidden child ``_run``)."""
    parser = argparse.ArgumentParser(prog="python -m pynn_leaky")
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="run one PyNN script on several simulators, compare",
                         description=__doc__.split("\n\n")[0],
                         epilog="The script takes the simulator name as its first argument "
                                "(see pynn_leaky.compare.get_simulator).")
    cmp.add_argument("script")
    cmp.add_argument("--simulators", default="leaky,nest",
                     help="comma-separated, the first is the reference (default: leaky,nest); "
                          f"any of {', '.join(SIMULATORS)}")
    cmp.add_argument("--output", default="compare_out", help="directory for results")
    cmp.add_argument("--script-args", default="",
                     help="further arguments for the script, as one shell-quoted string")
    cmp.add_argument("--skip-missing", action="store_true",
                     help="leave out simulators that are not installed, with a message")
    cmp.add_argument("--timeout", type=float, default=None, help="seconds per simulator")
    run = sub.add_parser("run", help="run a PyNN script on pynn_leaky as simulator 'leaky'",
                         description=runner.__doc__.split("\n\n")[0],
                         epilog="e.g. python -m pynn_leaky run simple_network.py leaky "
                                "(pynn_leaky is importable as pyNN.leaky while it runs)")
    run.add_argument("script")
    run.add_argument("script_args", nargs=argparse.REMAINDER,
                     help="the script's own arguments (for get_simulator: leaky first)")
    cache = sub.add_parser("cache", help="show (or --clear) the on-disk cache of compiled "
                                          "programs (PYNN_LEAKY_COMPILE_CACHE)")
    cache.add_argument("--clear", action="store_true", help="delete the cached programs")
    child = sub.add_parser("_run")
    child.add_argument("simulator")
    child.add_argument("script")
    child.add_argument("out")
    child.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.command == "run":
        try:
            return runner.run(args.script, args.script_args)
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.command == "cache":
        from . import _compile_cache

        print("\n".join(_compile_cache.report(args.clear)))
        return 0
    if args.command == "_run":
        run_script(args.simulator, args.script, args.out, args.script_args)
        return 0
    try:
        report = compare(args.script, [s.strip() for s in args.simulators.split(",") if s.strip()],
                         args.output, shlex.split(args.script_args), args.skip_missing,
                         args.timeout)
    except (SimulatorNotInstalledError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except CompareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(format_report(report), end="")
    print(f"results in {args.output}/ (report.txt, report.json, comparison.png, *.pkl)")
    return 0
