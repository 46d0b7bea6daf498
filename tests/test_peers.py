"""LeakyIntegrator on the peer simulators (pynn_leaky.peers) and the compare command.

Every simulator keeps global state (NEST's kernel, NEURON's hoc world, Brian2's magic
network), so each run is a subprocess: ``python -m pynn_leaky compare`` (the command under
test) or ``python -m pynn_leaky _run`` (one simulator), reading the pickled Neo Blocks
back here. The scripts are tests/_peers_network.py (tests/_network_script.py's random
network: 3 SpikeSourceArrays -> 2 LeakyIntegrator populations through 6 projections with
per-synapse delays from 0.1 to 5 ms, multapses, a DCSource into a view, tau_syn == tau in
some cells), tests/_peers_conventions.py (when does input first move v) and
tests/_peers_api.py (parameters, units, defaults, errors).

Tolerances (README, "Comparing simulators", explains each):

* NEST: 1e-6 mV, the project's agreement target (exact propagators on both; measured
  ~1e-12 mV).
* Brian2 delivers a spike one step later than NEST: it equals pynn_leaky run with every
  delay one step longer to 1e-6 mV (measured ~1e-12 mV). pyNN.brian2 gives all synapses
  of one (pre, post) pair the parameters of the last one, so its network drops multapses.
* NEURON integrates v with fixed-step backward Euler (first order): within 0.5 mV at
  dt = 0.1 ms (measured 0.22 mV) and the difference halves with dt (ratio 0.45..0.55).
  Its recorded isyn at a sample where a spike arrives is the value before the arrival.
"""

import importlib.util
import json
import pickle
import subprocess
import sys
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq

import pynn_leaky
from pynn_leaky import compare as cmp
from pynn_leaky.peers import ensure_neuron_mechanisms

TESTS = Path(__file__).parent
NETWORK = TESTS / "_peers_network.py"
CONVENTIONS = TESTS / "_peers_conventions.py"
API = TESTS / "_peers_api.py"
DT = 0.1
TOL_NEST = 1e-6  # mV
TOL_NEURON = 0.5  # mV at dt = 0.1 ms (backward Euler)
TIMEOUT = 300  # s per subprocess


def installed(module):
    return importlib.util.find_spec(module) is not None


needs_nest = pytest.mark.skipif(not installed("nest"), reason="NEST is not installed")
needs_neuron = pytest.mark.skipif(not installed("neuron"), reason="NEURON is not installed "
                                  "(pip install 'pynn_leaky[compare]' in its own venv)")
needs_brian2 = pytest.mark.skipif(not installed("brian2"), reason="Brian2 is not installed "
                                  "(it needs numpy<2.4: pip install 'pynn_leaky[compare]' "
                                  "in its own venv)")
PEERS = [pytest.param("nest", marks=[needs_nest, pytest.mark.nest]),
         pytest.param("neuron", marks=needs_neuron),
         pytest.param("brian2", marks=needs_brian2)]


@pytest.fixture(scope="session")
def neuron_mechanisms():
    """pyNN's and the LeakyIntegrator's NMODL mechanisms, compiled once."""
    return ensure_neuron_mechanisms()


def run(*args, cwd=None):
    """``python -m pynn_leaky ARGS``; returns the completed process (checked)."""
    proc = subprocess.run([sys.executable, "-m", "pynn_leaky", *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    return proc


def run_one(simulator, script, out, *script_args):
    """One simulator in a subprocess; returns its Neo Block."""
    run("_run", simulator, script, out, *script_args)
    with open(out, "rb") as f:
        return pickle.load(f)


def signal(block, population, variable):
    """(times in ms, values [samples, cells] in cell order) of one recorded signal."""
    for sig in block.segments[0].analogsignals:
        if sig.annotations["source_population"] == population and sig.name == variable:
            order = np.argsort(sig.array_annotations["channel_index"])
            return sig.times.rescale("ms").magnitude, sig.magnitude[:, order]
    raise KeyError((population, variable))


def max_diff(a, b, population, variable):
    ta, xa = signal(a, population, variable)
    tb, xb = signal(b, population, variable)
    assert xa.shape == xb.shape and np.allclose(ta, tb, rtol=0, atol=1e-9)
    assert np.isfinite(xa).all() and np.isfinite(xb).all()
    return float(np.max(np.abs(xa - xb)))


POPS = ("leakyA", "leakyB")
VARIABLES = ("v", "isyn_exc", "isyn_inh")


# -- the compare command, leaky against NEST ------------------------------------------------


@pytest.fixture(scope="module")
def nest_network(tmp_path_factory):
    """``python -m pynn_leaky compare`` on the network with leaky,nest."""
    if not installed("nest"):
        pytest.skip("NEST is not installed")
    out = tmp_path_factory.mktemp("compare")
    proc = run("compare", NETWORK, "--simulators", "leaky,nest", "--output", out)
    blocks = {n: pickle.load(open(out / f"{n}.pkl", "rb")) for n in ("leaky", "nest")}
    return out, proc, blocks


@needs_nest
@pytest.mark.nest
def test_nest_leaky_integrator_matches_pynn_leaky(nest_network):
    """register_celltypes(pyNN.nest): v and isyn equal pynn_leaky's to 1e-6 mV / 1e-9 nA."""
    _, _, blocks = nest_network
    leaky, nest = blocks["leaky"], blocks["nest"]
    for pop in POPS:
        diff = max_diff(leaky, nest, pop, "v")
        print(f"{pop}: max |v_leaky - v_nest| = {diff:.3e} mV")
        assert diff <= TOL_NEST
        for var in ("isyn_exc", "isyn_inh"):
            assert max_diff(leaky, nest, pop, var) <= 1e-9, (pop, var)
        # not vacuous: synaptic input moved v by millivolts, both receptors were active
        _, v = signal(leaky, pop, "v")
        assert v.shape == (501, {"leakyA": 8, "leakyB": 6}[pop])
        assert np.ptp(v, axis=0).max() > 1.0
        for var in ("isyn_exc", "isyn_inh"):
            assert np.abs(signal(leaky, pop, var)[1]).max() > 0.5
    # the DCSource (10..30 ms into leakyB[1, 3, 4]) is in the comparison
    _, v = signal(leaky, "leakyB", "v")
    k = round(30.0 / DT)
    assert np.all(np.abs(v[k, [1, 3, 4]] - v[round(10.0 / DT), [1, 3, 4]]) > 0.1)


@needs_nest
@pytest.mark.nest
def test_compare_command_end_to_end(nest_network):
    out, proc, blocks = nest_network
    for name in ("leaky.pkl", "nest.pkl", "leaky.log", "nest.log", "report.txt",
                 "report.json", "comparison.png"):
        assert (out / name).is_file(), name
    assert (out / "comparison.png").stat().st_size > 10_000
    text = (out / "report.txt").read_text()
    assert text in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["reference"] == "leaky" and report["simulators"] == ["leaky", "nest"]
    assert report["skipped"] == {}
    # the report holds every (population, variable) and agrees with the Blocks
    rows = {(e["population"], e["variable"]): e for e in report["signals"]}
    assert set(rows) == {(p, v) for p in POPS for v in VARIABLES}
    for (pop, var), e in rows.items():
        want = max_diff(blocks["leaky"], blocks["nest"], pop, var)
        got = e["versus"]["nest"]
        assert got["max_abs"] == pytest.approx(want, rel=1e-12, abs=1e-300)
        assert 0 < got["rms"] <= got["max_abs"] and got["best_shift_steps"] == 0
        assert f"population {pop!r}, {var} " in text
    spikes = {e["population"]: e for e in report["spikes"]}
    assert set(spikes) == {"src0", "src1", "src2"}
    for e in spikes.values():
        assert e["count"]["leaky"] == e["count"]["nest"] > 0
        assert e["versus"]["nest"]["max_abs_dt_ms"] < 1e-9
    for name in ("leaky", "nest"):
        t = report["timing"][name]
        assert t["process_s"] > t["script_s"] > 0
        assert blocks[name].annotations["simulator"] == name


# -- what the peers' LeakyIntegrator is ---------------------------------------------------


def api_facts(simulator, tmp_path):
    proc = subprocess.run([sys.executable, str(API), simulator], capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("FACTS ")][-1]
    return json.loads(line[len("FACTS "):])


@pytest.mark.parametrize("simulator", PEERS)
def test_peer_celltype_has_pynn_leaky_parameters(simulator, tmp_path, request):
    if simulator == "neuron":
        request.getfixturevalue("neuron_mechanisms")
    facts = api_facts(simulator, tmp_path)
    ours = pynn_leaky.LeakyIntegrator
    assert facts["same_class_again"]
    assert facts["default_parameters"] == ours.default_parameters
    assert facts["default_initial_values"] == ours.default_initial_values
    assert facts["units"] == ours.units
    assert facts["recordable"] == sorted(ours.recordable)
    assert facts["receptor_types"] == list(ours.receptor_types)
    assert facts["get"] == {"V_rest": [-60.0] * 3, "R": [10.0, 20.0, 40.0],
                            "tau": [5.0, 10.0, 20.0], "tau_syn_E": [2.0] * 3,
                            "tau_syn_I": [8.0] * 3, "i_offset": [0.05] * 3, "noise": [0.0] * 3}
    assert facts["get_R_after_set"] == [10.0, 20.0, 80.0]
    assert facts["default_v0"] == [0.0, 0.0]
    assert [facts[f"units_{v}"] for v in VARIABLES] == ["mV", "nA", "nA"]
    assert facts["method_error"][0] == "InvalidParameterValueError"
    assert "no-such-method" in facts["method_error"][1]
    assert facts["spikes_error"][0] == "RecordingError"
    if simulator == "brian2":  # white noise on v: exact Ornstein-Uhlenbeck update
        assert facts["noise_error"] is None
        # Var v(50 ms) = noise^2 tau / 2 (1 - exp(-2 t / tau)) = 5 mV^2; 1000 cells give a
        # standard error of 4.5 %, the tolerance is 20 %
        assert facts["noise_var_at_50ms"] == pytest.approx(5.0 * (1 - np.exp(-10.0)), rel=0.2)
    else:
        assert facts["noise_error"][0] == "NotImplementedError"
        assert "noise = 0.5 is not supported on" in facts["noise_error"][1]
    # v(dt) from v(0) = -62 mV, the exact solution with the initial synaptic currents
    tau, R = np.array([5.0, 10.0, 20.0]), np.array([10.0, 20.0, 80.0])  # R set to 80
    isyn_e, isyn_i = np.array([0.0, 0.5, 1.0]), np.array([0.0, -0.2, -0.4])
    if simulator == "nest":
        # NEST cannot set I_syn_ex/I_syn_in (pyNN.nest logs a warning): they start at 0
        isyn_e = isyn_i = np.zeros(3)
    want_e = isyn_e * np.exp(-DT / 2.0)
    assert np.allclose(facts["second_sample_isyn_exc"], want_e, rtol=0, atol=1e-12)
    assert np.allclose(facts["second_sample_isyn_inh"], isyn_i * np.exp(-DT / 8.0),
                       rtol=0, atol=1e-12)
    v_inf, decay = -60.0 + R * 0.05, np.exp(-DT / tau)
    syn = sum(R * i0 * ts / (ts - tau) * (np.exp(-DT / ts) - decay)
              for i0, ts in ((isyn_e, 2.0), (isyn_i, 8.0)))
    want_v = v_inf + (-62.0 - v_inf) * decay + syn
    tol = 1e-9
    if simulator == "neuron":
        # one backward-Euler step with isyn held at its start value: local errors about
        # (dt / tau)^2 / 2 |v(0) - v_inf| and R |isyn| (dt / tau) dt / (2 tau_syn); margin 1.5
        tol = 1.5 * ((DT / tau) ** 2 / 2 * np.abs(-62.0 - v_inf)
                     + R * (DT / tau) * (np.abs(isyn_e) * DT / 4.0 + np.abs(isyn_i) * DT / 16.0))
    assert np.all(np.abs(np.array(facts["second_sample_v"]) - want_v) <= tol)


@pytest.mark.parametrize("simulator", [
    pytest.param("nest", marks=[needs_nest, pytest.mark.nest]),
    pytest.param("neuron", marks=needs_neuron),
    pytest.param("brian2", marks=[needs_brian2, pytest.mark.xfail(strict=True, reason=(
        "pyNN.brian2 sets synapse parameters with syn[i, j] = value, which addresses every "
        "synapse between i and j: a multapse gets the parameters of the last synapse"))]),
])
def test_multapses_keep_their_own_parameters(simulator, tmp_path, request):
    if simulator == "neuron":
        request.getfixturevalue("neuron_mechanisms")
    weights_delays = api_facts(simulator, tmp_path)["multapse_weights_delays"]
    assert np.allclose(weights_delays, [[0.1, 0.5], [0.2, 0.7]])


# -- conventions: when does input first move v? ---------------------------------------------

#: First sample (ms) at which each signal leaves its resting value (README table).
ONSETS = {
    "leaky": {"spike.v": 2.1, "spike.isyn_exc": 2.0, "dc.v[start=1]": 1.1, "dc.v[start=0]": 0.1},
    "nest": {"spike.v": 2.1, "spike.isyn_exc": 2.0, "dc.v[start=1]": 1.1, "dc.v[start=0]": 0.3},
    "neuron": {"spike.v": 2.1, "spike.isyn_exc": 2.1, "dc.v[start=1]": 1.1,
               "dc.v[start=0]": 0.1},
    "brian2": {"spike.v": 2.2, "spike.isyn_exc": 2.1, "dc.v[start=1]": 1.1,
               "dc.v[start=0]": 0.1},
}


def onsets(block):
    def first(population, variable, cell=0):
        t, x = signal(block, population, variable)
        moved = np.flatnonzero(np.abs(x[:, cell] - x[0, cell]) > 1e-9)  # NEURON: 4e-12 at rest
        return round(float(t[moved[0]]), 9)

    return {"spike.v": first("spike", "v"), "spike.isyn_exc": first("spike", "isyn_exc"),
            "dc.v[start=1]": first("dc", "v", 0), "dc.v[start=0]": first("dc", "v", 1)}


def test_when_input_first_moves_v(tmp_path, request):
    """A spike at 1 ms through a 1 ms delay; DC from 1 ms and from 0 ms (dt = 0.1 ms)."""
    simulators = [s for s, m in (("leaky", "jax"), ("nest", "nest"), ("neuron", "neuron"),
                                 ("brian2", "brian2")) if installed(m)]
    if "neuron" in simulators:
        request.getfixturevalue("neuron_mechanisms")
    run("compare", CONVENTIONS, "--simulators", ",".join(simulators), "--output", tmp_path)
    for name in simulators:
        block = pickle.load(open(tmp_path / f"{name}.pkl", "rb"))
        assert onsets(block) == ONSETS[name], name


# -- Brian2 --------------------------------------------------------------------------------


@needs_brian2
def test_brian2_is_nest_with_every_delay_one_step_longer(tmp_path):
    """Brian2 applies a spike's weight one step after NEST (and pynn_leaky) do.

    Its v equals pynn_leaky's with every synaptic delay + dt to 1e-6 mV, and its isyn is
    pynn_leaky's shifted by one step; unshifted, they differ by tenths of a mV. The network
    has no multapses (pyNN.brian2 cannot give them different parameters).
    """
    brian2 = run_one("brian2", NETWORK, tmp_path / "brian2.pkl", "--unique-pairs")
    later = run_one("leaky", NETWORK, tmp_path / "later.pkl", "--unique-pairs",
                    "--delay-offset", DT)
    same = run_one("leaky", NETWORK, tmp_path / "same.pkl", "--unique-pairs")
    for pop in POPS:
        diff = max_diff(later, brian2, pop, "v")
        print(f"{pop}: max |v_brian2 - v_leaky(delays + dt)| = {diff:.3e} mV, "
              f"unshifted {max_diff(same, brian2, pop, 'v'):.3e} mV")
        assert diff <= TOL_NEST
        assert max_diff(same, brian2, pop, "v") > 0.01
        for var in ("isyn_exc", "isyn_inh"):
            assert max_diff(later, brian2, pop, var) <= 1e-9
            _, a = signal(same, pop, var)
            _, b = signal(brian2, pop, var)
            assert np.max(np.abs(b[1:] - a[:-1])) <= 1e-9


# -- NEURON --------------------------------------------------------------------------------


@needs_neuron
def test_neuron_is_first_order_and_records_isyn_before_arrivals(tmp_path, neuron_mechanisms):
    """NEURON's fixed step is backward Euler for v: within 0.5 mV of the exact solution at
    dt = 0.1 ms, half of that at dt = 0.05 ms. Spikes arrive at the same step as on NEST
    (test_when_input_first_moves_v), but the isyn sample taken at an arrival step is the
    value just before the arrival: isyn_neuron(t_k) = isyn_exact(t_k - dt) exp(-dt / tau_syn).
    """
    exact = run_one("leaky", NETWORK, tmp_path / "leaky.pkl")
    coarse = run_one("neuron", NETWORK, tmp_path / "neuron.pkl")
    fine = run_one("neuron", NETWORK, tmp_path / "fine.pkl", "--timestep", DT / 2)
    for pop in POPS:
        t, v = signal(exact, pop, "v")
        err_coarse = max_diff(exact, coarse, pop, "v")
        tf, vf = signal(fine, pop, "v")
        err_fine = float(np.max(np.abs(vf[::2] - v)))
        assert np.allclose(tf[::2], t, rtol=0, atol=1e-9)
        print(f"{pop}: max |v_neuron - v_exact| = {err_coarse:.3e} mV at dt = 0.1 ms, "
              f"{err_fine:.3e} mV at dt = 0.05 ms")
        assert err_coarse <= TOL_NEURON
        assert 0.45 <= err_fine / err_coarse <= 0.55
        for var in ("isyn_exc", "isyn_inh"):
            _, a = signal(exact, pop, var)
            _, b = signal(coarse, pop, var)
            # per-cell decay factor exp(-dt / tau_syn): between arrivals the exact isyn
            # decays by exactly this factor each step, so it is the median step ratio
            silent = np.all(a == 0, axis=0)  # cells without input of this kind
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = np.where(a[:-1] != 0, a[1:] / a[:-1], np.nan)
            decay = np.nanmedian(ratios[:, ~silent], axis=0)
            assert np.all((decay > 0.8) & (decay < 1.0))
            assert np.all(b[:, silent] == 0)
            a, b = a[:, ~silent], b[:, ~silent]
            assert np.max(np.abs(b[1:] - a[:-1] * decay)) <= 1e-9
            assert np.max(np.abs(b - a)) > 0.1  # the arrival samples do differ


# -- the report, on made-up Blocks (no simulator) -------------------------------------------


def _block(name, v, spikes, dt=DT):
    block = neo.Block(name=name)
    seg = neo.Segment()
    block.segments.append(seg)
    seg.analogsignals.append(neo.AnalogSignal(
        v, units="mV", sampling_period=dt * pq.ms, name="v", source_population="cells",
        array_annotations={"channel_index": np.arange(v.shape[1])}))
    for i, times in enumerate(spikes):
        seg.spiketrains.append(neo.SpikeTrain(times, t_stop=100.0, units="ms",
                                              source_population="inputs", source_index=i))
    block.annotate(script_wall_time_s=1.0)
    return block


def test_report_finds_a_one_step_lag_and_spike_differences(tmp_path):
    t = np.arange(200) * DT
    v = np.column_stack([np.sin(t), np.cos(t / 3)])
    late = np.vstack([v[:1], v[:-1]])  # every sample one step later
    report = cmp.compare_blocks({
        "a": _block("a", v, [[1.0, 2.0], [3.0]]),
        "b": _block("b", late, [[1.0, 2.5], [3.0, 4.0]]),
        "c": _block("c", v * 1.0, [[1.0, 2.0], [3.0]]),
    }, wall={"a": 2.0, "b": 3.0, "c": 4.0})
    (entry,) = report["signals"]
    b, c = entry["versus"]["b"], entry["versus"]["c"]
    assert b["best_shift_steps"] == 1 and b["max_abs_at_best_shift"] == 0.0
    assert b["max_abs"] == pytest.approx(np.max(np.abs(late - v)))
    assert b["rms"] == pytest.approx(np.sqrt(np.mean((late - v) ** 2)))
    assert c["max_abs"] == 0.0 and c["best_shift_steps"] == 0
    (spk,) = report["spikes"]
    assert spk["count"] == {"a": 3, "b": 4, "c": 3}
    assert spk["versus"]["b"]["cells_with_different_counts"] == 1
    assert spk["versus"]["b"]["max_abs_dt_ms"] == pytest.approx(0.5)
    assert report["timing"]["b"]["process_s"] == 3.0
    text = cmp.format_report(report)
    assert "best shift" in text and "+1, 0.000e+00" in text
    blocks = {"a": _block("a", v, []), "b": _block("b", late, [])}
    cmp.plot_report(blocks, cmp.compare_blocks(blocks), tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_missing_simulator_is_a_clear_error(tmp_path, monkeypatch):
    real = cmp.available
    monkeypatch.setattr(cmp, "available", lambda name: (
        "brian2: Python module 'brian2' is not installed: pip install brian2"
        if name == "brian2" else real(name)))
    with pytest.raises(cmp.SimulatorNotInstalledError, match="brian2.*pip install brian2"):
        cmp.compare(CONVENTIONS, ["leaky", "brian2"], tmp_path)
    assert not list(tmp_path.iterdir())  # nothing ran
    report = cmp.compare(CONVENTIONS, ["leaky", "brian2"], tmp_path, skip_missing=True)
    assert report["simulators"] == ["leaky"] and "brian2" in report["skipped"]
    assert "skipped brian2:" in (tmp_path / "report.txt").read_text()


def test_command_line_errors(tmp_path):
    for args, message in (
        (["--simulators", "leaky,gennsim"], "unknown simulator 'gennsim'"),
        (["--simulators", "leaky,leaky"], "distinct"),
    ):
        proc = subprocess.run([sys.executable, "-m", "pynn_leaky", "compare", str(CONVENTIONS),
                               *args, "--output", str(tmp_path)],
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    missing = [s for s in ("nest", "neuron", "brian2") if cmp.available(s)]
    if missing:  # a simulator this environment really lacks
        proc = subprocess.run([sys.executable, "-m", "pynn_leaky", "compare", str(CONVENTIONS),
                               "--simulators", f"leaky,{missing[0]}", "--output", str(tmp_path)],
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 2 and "is not installed" in proc.stderr, proc.stderr


def test_register_celltypes_rejects_other_modules():
    import types

    with pytest.raises(ValueError, match="pyNN.mock is not a supported simulator"):
        pynn_leaky.register_celltypes(types.ModuleType("pyNN.mock"))
    assert pynn_leaky.register_celltypes(pynn_leaky) is pynn_leaky.LeakyIntegrator


@needs_neuron
def test_ensure_neuron_mechanisms_is_idempotent(neuron_mechanisms):
    from pynn_leaky import peers

    assert peers._is_compiled(peers.pynn_nmodl_dir())
    assert peers._is_compiled(neuron_mechanisms)
    assert ensure_neuron_mechanisms() == neuron_mechanisms
