#!/usr/bin/env bash
# The W1 step's cost on a GPU (second run), each setting in a fresh process: the
# defaults; one spike per delivery batch (the CPU's choice for W1's fan-out); spikes
# delivered once per minimum delay with whole windows run as blocks (float32 and
# float64); XLA's region analysis in copy insertion on (the CPU default; no per-step
# copies of the cell states); other batch sizes; then the step's floor (100 cells, no
# input, nothing recorded). Installs
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
          timeout 120 env "$@" python3 benchmarks/gpu_sync.py --precision "$p" $ARGS 2>&1 \
              | grep -v Warning | tail -1; }
ARGS=""
{
    probe float32 PYNN_LEAKY_SETTING=defaults
    probe float32 PYNN_LEAKY_SPIKES_PER_BATCH=1
    probe float32 PYNN_LEAKY_WINDOW_BLOCKS=1
    probe float64 PYNN_LEAKY_WINDOW_BLOCKS=1
    probe float32 PYNN_LEAKY_WINDOW_BLOCKS=1 PYNN_LEAKY_REGION_ANALYSIS=1
    probe float32 PYNN_LEAKY_REGION_ANALYSIS=1
    probe float32 PYNN_LEAKY_SPIKES_PER_BATCH=8
    probe float32 PYNN_LEAKY_SPIKES_PER_BATCH=16 PYNN_LEAKY_WINDOW_BLOCKS=1
    # the step's floor: 100 cells, no input, nothing recorded
    ARGS="--cells 100 --rate 0 --no-record"
    probe float32 PYNN_LEAKY_WINDOW_BLOCKS=1 PYNN_LEAKY_REGION_ANALYSIS=1
} | tee "${OUT:-.}/gpu_sync.txt"
