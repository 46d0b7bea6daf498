#!/usr/bin/env bash
# The W1 step's cost on a GPU (second run), each setting in a fresh process: the
# defaults; spikes delivered once per minimum delay with whole windows run as blocks
# (float32 and float64), and with a per-step condition instead; XLA's region analysis in
# copy insertion on (the CPU default; no per-step copies of the cell states). Installs
# the carried wheels (see gpu.sh) if PyNN is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:/tmp/site"
# each probe compiles (first_run_s): no on-disk compile cache shared between them
export PYNN_LEAKY_COMPILE_CACHE="${PYNN_LEAKY_COMPILE_CACHE:-0}"
python3 -c "import pyNN" 2>/dev/null || python3 -m pip install -q --no-index --no-deps \
    --no-compile --target /tmp/site benchmarks/wheels/*.whl
# probe PRECISION [VAR=value ...]: W1's run in a fresh process under those settings
probe() { local p=$1; shift
          timeout 120 env "$@" python3 benchmarks/gpu_sync.py --precision "$p" 2>&1 \
              | grep -v Warning | tail -1; }
{
    probe float32 PYNN_LEAKY_SETTING=defaults
    probe float32 PYNN_LEAKY_WINDOW_BLOCKS=1
    probe float64 PYNN_LEAKY_WINDOW_BLOCKS=1
    probe float32 PYNN_LEAKY_WINDOW_BLOCKS=1 PYNN_LEAKY_REGION_ANALYSIS=1
    probe float32 PYNN_LEAKY_DELIVERY_INTERVAL=10
    probe float32 PYNN_LEAKY_REGION_ANALYSIS=1
} | tee "${OUT:-.}/gpu_sync.txt"
