#!/usr/bin/env bash
# One prepared GPU run (a few minutes) on a machine whose image has CUDA JAX but no
# network: PyNN, Neo, quantities and lazyarray come as wheels carried in benchmarks/wheels.
#
# Here (with network):   bash benchmarks/gpu.sh --fetch
# There (the GPU):       bash benchmarks/gpu.sh          (writes $OUT/gpu_check.txt if OUT set)
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=benchmarks/wheels
if [ "${1:-}" = "--fetch" ]; then
    python -m pip download -q --no-deps -d "$WHEELS" "pynn==0.13.*" neo quantities lazyarray
    ls -la "$WHEELS"
    exit 0
fi
python3 -m pip install -q --no-index --no-deps "$WHEELS"/*.whl
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import jax; print('JAX', jax.__version__, jax.devices())"
python3 benchmarks/gpu_check.py "$@" | tee "${OUT:-.}/gpu_check.txt"
