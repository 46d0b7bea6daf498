"""Compiled programs cached on disk across processes (pynn_leaky._compile_cache)."""

import glob
import json
import os
import subprocess
import sys
import warnings

import pytest
from pyNN import errors

from pynn_leaky import _compile_cache

# A fresh process: an optional directory set through JAX itself, then a small network
# (Poisson sources, IF_curr_exp and LeakyIntegrator cells); prints the cache directory in
# use, JAX's counts of programs loaded from the cache and written to it, and the results.
SCRIPT = r"""
import json, sys
import jax
import numpy as np
jax_dir = sys.argv[1]
if jax_dir:
    jax.config.update("jax_compilation_cache_dir", jax_dir)
events = {"/jax/compilation_cache/cache_hits": 0, "/jax/compilation_cache/cache_misses": 0}
def count(name, **kw):
    if name in events:
        events[name] += 1
jax.monitoring.register_event_listener(count)
import pynn_leaky as sim
sim.setup(timestep=0.1, rng_seed=4, progress=False)
src = sim.Population(40, sim.SpikeSourcePoisson(rate=50.0))
exc = sim.Population(20, sim.IF_curr_exp(i_offset=0.5))
out = sim.Population(5, sim.LeakyIntegrator(R=20.0, tau=15.0))
sim.Projection(src, exc, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(2)),
               sim.StaticSynapse(weight=0.3, delay=1.0))
sim.Projection(exc, out, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.05, delay=1.5))
exc.record("spikes")
out.record("v")
sim.run(50.0)
v = out.get_data().segments[0].filter(name="v")[0].magnitude
spikes = sum(len(s) for s in exc.get_data().segments[0].spiketrains)
print(json.dumps({"dir": jax.config.jax_compilation_cache_dir,
                  "hits": events["/jax/compilation_cache/cache_hits"],
                  "writes": events["/jax/compilation_cache/cache_misses"],
                  "v": np.asarray(v).ravel().tolist(), "spikes": spikes}))
"""


def _run(jax_dir="", **env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYNN_LEAKY_COMPILE_CACHE", "XDG_CACHE_HOME", "NPROC", "XLA_FLAGS",
                        "JAX_PLATFORMS", "JAX_COMPILATION_CACHE_DIR")}
    env.update(env_extra)
    res = subprocess.run([sys.executable, "-c", SCRIPT, jax_dir], capture_output=True,
                         text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1]), res.stderr


def test_a_second_process_loads_its_programs_and_gets_the_same_results(tmp_path):
    base = tmp_path / "base"
    first, _ = _run(PYNN_LEAKY_COMPILE_CACHE=str(base))
    second, _ = _run(PYNN_LEAKY_COMPILE_CACHE=str(base))
    assert first["dir"] == _compile_cache.directory(str(base), 1)  # one thread by default
    assert first["hits"] == 0 and first["writes"] >= 2
    assert glob.glob(os.path.join(first["dir"], "jit__run_chunk-*-cache"))
    # every program the first process wrote is loaded, none compiled again
    assert second["hits"] == first["writes"] and second["writes"] == 0
    assert first["spikes"] > 10
    assert second["v"] == first["v"] and second["spikes"] == first["spikes"]


def test_a_damaged_cache_file_is_compiled_again_with_a_warning(tmp_path):
    base = tmp_path / "base"
    first, _ = _run(PYNN_LEAKY_COMPILE_CACHE=str(base))
    for path in glob.glob(os.path.join(first["dir"], "jit__run_chunk-*-cache")):
        with open(path, "r+b") as f:  # as a crash while writing it might leave it
            f.truncate(100)
    second, stderr = _run(PYNN_LEAKY_COMPILE_CACHE=str(base))
    assert "Error reading persistent compilation cache entry" in stderr
    assert second["v"] == first["v"] and second["spikes"] == first["spikes"]


def test_the_default_directory_is_under_xdg_cache_home(tmp_path):
    result, _ = _run(XDG_CACHE_HOME=str(tmp_path))
    expected = os.path.join(str(tmp_path), "pynn_leaky")
    assert result["dir"] == _compile_cache.directory(expected, 1)
    assert result["writes"] >= 2 and os.listdir(result["dir"])


def test_no_home_directory_means_no_default_cache(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # as without HOME
    assert _compile_cache.default_base() is None
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert _compile_cache.default_base() == os.path.join("/somewhere", "pynn_leaky")


def test_threads_and_the_cpu_select_the_directory():
    one, two = (_compile_cache.directory("/base", n) for n in (1, 2))
    assert one != two and os.path.dirname(one) == "/base"
    assert os.path.basename(one).startswith("xla-") and one.endswith("-t1")


def test_zero_turns_the_cache_off(tmp_path):
    result, _ = _run(PYNN_LEAKY_COMPILE_CACHE="0", XDG_CACHE_HOME=str(tmp_path))
    assert result["dir"] is None and result["hits"] == result["writes"] == 0
    assert not os.path.exists(tmp_path / "pynn_leaky")


def test_a_directory_set_through_jax_is_left_as_it_is(tmp_path):
    mine, ours = tmp_path / "mine", tmp_path / "ours"
    result, _ = _run(jax_dir=str(mine), PYNN_LEAKY_COMPILE_CACHE=str(ours))
    assert result["dir"] == str(mine) and result["writes"] >= 1  # JAX's own settings
    assert os.listdir(mine) and not os.path.exists(ours)


def test_an_unusable_directory_warns_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result, stderr = _run(PYNN_LEAKY_COMPILE_CACHE=str(blocker / "below"))
    assert result["dir"] is None and result["spikes"] > 10
    assert "compiled programs are not cached on disk" in stderr
    assert "PYNN_LEAKY_COMPILE_CACHE" in stderr


def test_a_file_given_as_the_directory_is_refused_by_name(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(errors.InvalidParameterValueError,
                       match="PYNN_LEAKY_COMPILE_CACHE = '.*a_file' is not allowed: it is a "
                             "file"):
        _compile_cache._usable(_compile_cache.directory(str(blocker), 1), str(blocker))


def test_the_cache_command_shows_and_clears_the_programs(tmp_path, monkeypatch, capsys):
    from pynn_leaky.compare import main

    here = _compile_cache.directory(str(tmp_path), 1)
    other = os.path.join(str(tmp_path), "xla-000000000000-t2")  # another CPU
    for d, n in ((here, 3), (other, 1)):
        os.makedirs(d)
        for i in range(n):
            with open(os.path.join(d, f"jit_f{i}-key-cache"), "wb") as f:
                f.write(b"x" * 2**19)
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("kept")
    monkeypatch.setenv("PYNN_LEAKY_COMPILE_CACHE", str(tmp_path))
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"compile cache base: {tmp_path}" in out
    assert f"{os.path.basename(here)} (this CPU): 3 programs, 1.50 MiB" in out
    assert "xla-000000000000-t2: 1 programs, 0.50 MiB" in out
    assert main(["cache", "--clear"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert not os.path.exists(here) and not os.path.exists(other) and unrelated.exists()
    main(["cache"])
    assert "(no cached programs)" in capsys.readouterr().out
    monkeypatch.setenv("PYNN_LEAKY_COMPILE_CACHE", "0")
    main(["cache"])
    assert "not cached on disk" in capsys.readouterr().out


def test_the_setting_one_means_the_default_and_switch_words_are_refused(monkeypatch,
                                                                       tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    default = (os.path.join(str(tmp_path), "pynn_leaky"), False)
    for value in ("", "1", " 1 "):
        monkeypatch.setenv("PYNN_LEAKY_COMPILE_CACHE", value)
        assert _compile_cache._base_setting() == default
    monkeypatch.setenv("PYNN_LEAKY_COMPILE_CACHE", "0")
    assert _compile_cache._base_setting() == (None, True)
    monkeypatch.setenv("PYNN_LEAKY_COMPILE_CACHE", "cache_here")  # relative: a directory
    assert _compile_cache._base_setting() == ("cache_here", True)
    for word in ("off", "On", "true", "no"):
        monkeypatch.setenv("PYNN_LEAKY_COMPILE_CACHE", word)
        with pytest.raises(errors.InvalidParameterValueError,
                           match=f"PYNN_LEAKY_COMPILE_CACHE = '{word}' is not allowed: give a "
                                 "directory, 0 .*1 or nothing"):
            _compile_cache._base_setting()


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _compile_cache.default_base() == os.path.join(str(tmp_path), ".cache", "pynn_leaky")


def test_an_unusable_default_directory_means_no_cache_without_a_warning(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _compile_cache._usable(str(blocker / "below"), None) is None
    with pytest.warns(UserWarning, match="not cached on disk"):
        assert _compile_cache._usable(str(blocker / "below"), str(blocker / "below")) is None


def test_a_cache_over_its_limit_loses_its_least_recently_used_programs(tmp_path):
    now = 1_800_000_000
    for i in range(10):  # program i last used at now + i
        path = tmp_path / f"jit_f{i}-key{i}-cache"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now + i, now + i))
    (tmp_path / "unrelated.txt").write_bytes(b"y" * 5000)
    assert _compile_cache.prune(str(tmp_path), limit=20_000) == 0  # under the limit
    assert len(list(tmp_path.iterdir())) == 11
    assert _compile_cache.prune(str(tmp_path), limit=8000) == 4  # down to 6000 bytes
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"jit_f{i}-key{i}-cache" for i in range(4, 10)] + ["unrelated.txt"])
