"""Every script in examples/ runs and produces its figure."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(script), "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_gpu_check_script_self_test():
    """benchmarks/gpu_check.py --small runs here (CPU as the 'device') and passes its check."""
    script = EXAMPLES[0].parent.parent / "benchmarks" / "gpu_check.py"
    result = subprocess.run([sys.executable, str(script), "--small"], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "check passed" in result.stdout


def test_trials_benchmark_runs():
    """benchmarks/trials.py (also run by benchmarks/gpu.sh) measures all three ways, the
    batched one over one device per core; the timings themselves are not judged here."""
    script = EXAMPLES[0].parent.parent / "benchmarks" / "trials.py"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    result = subprocess.run([sys.executable, str(script), "--cells", "10", "--time", "20",
                             "--trials", "3", "--repeat", "1"],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == len(os.sched_getaffinity(0))
    assert {len(v) for v in out["all_s"].values()} == {1}
    assert all(out[f"{k}_s"] > 0 for k in ("sequential", "batched_1device", "batched"))
