#!/usr/bin/env bash
# Create benchmarks/.peers-venv: the benchmark peers that cannot share the project's venv.
#   brian2 2.9 (needs numpy < 2.4; the project's venv has numpy 2.4) with PyNN 0.13 for
#   pyNN.brian2, and BrainPy (with the JAX it resolves to).
# Usage: bash benchmarks/peers_venv.sh [PYTHON]     (then: run.py --peer-python
#        benchmarks/.peers-venv/bin/python)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.peers-venv"
"${1:-python3}" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "numpy<2.4" "brian2==2.9.*" "PyNN==0.13.*" "brainpy==2.8.*" numba \
    neo quantities lazyarray psutil
"$venv/bin/python" - <<'PY'
import brainpy, brian2, jax, numpy, pyNN.brian2  # noqa: F401

print(f"peers venv: brian2 {brian2.__version__}, PyNN {pyNN.__version__}, brainpy "
      f"{brainpy.__version__}, jax {jax.__version__}, numpy {numpy.__version__}")
PY
