"""Run a comparison script of this folder on one backend, in its own process."""

import os
import subprocess
import sys

import numpy as np


def run_script(script, backend, out_dir, *args, timeout=600):
    """``python SCRIPT BACKEND ARGS... OUT.npz``-style run; returns the loaded .npz as a dict.

    The scripts take ``BACKEND SEED OUT [extra...]``: ``args`` are (seed, *extra) and the
    output file goes in their place after the seed.
    """
    out = out_dir / f"{backend}.npz"
    seed, *extra = args
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    res = subprocess.run([sys.executable, str(script), backend, str(seed), str(out), *extra],
                         capture_output=True, text=True, timeout=timeout, env=env,
                         cwd=script.parent)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return dict(np.load(out, allow_pickle=True))
