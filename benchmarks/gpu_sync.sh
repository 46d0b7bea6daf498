#!/usr/bin/env bash
# The W1 step's cost on a GPU (float32, second run), each setting in a fresh process:
# the defaults, spikes delivered every step instead of once per minimum delay, XLA's
# region analysis in copy insertion on (the CPU default; no per-step copies of the cell
# states), XLA's command buffers left off. Installs the carried
# wheels (see gpu.sh) if PyNN is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:/tmp/site"
python3 -c "import pyNN" 2>/dev/null || python3 -m pip install -q --no-index --no-deps \
    --no-compile --target /tmp/site benchmarks/wheels/*.whl
probe() { timeout 120 env "$@" python3 benchmarks/gpu_sync.py 2>&1 | grep -v Warning | tail -1; }
{
    probe PYNN_LEAKY_SETTING=defaults
    probe PYNN_LEAKY_DELIVERY_INTERVAL=1
    probe PYNN_LEAKY_REGION_ANALYSIS=1
    probe PYNN_LEAKY_XLA_DEFAULTS=0
    probe PYNN_LEAKY_XLA_DEFAULTS=0 PYNN_LEAKY_DELIVERY_INTERVAL=1
} | tee "${OUT:-.}/gpu_sync.txt"
