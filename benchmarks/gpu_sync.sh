#!/usr/bin/env bash
# The W1 step's cost on a GPU (second run), each setting in a fresh process: the
# defaults (float32 and float64; full delivery batches, whole windows as blocks); spikes
# delivered every step (window blocks off, the default before session 12); XLA's region
# analysis in copy insertion on (the CPU default); XLA's unrolling of loops with a known
# trip count (a window block's D - 1 steps: automatic, then full), added to the image's
# XLA_FLAGS; then the step's floor (100 cells, no input, nothing recorded) with the
# defaults and with full unrolling. Installs the carried wheels (see gpu.sh) if PyNN is
# missing.
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
UNROLL="${XLA_FLAGS:-} --xla_gpu_enable_while_loop_unrolling"  # the image's flags kept
{
    probe float32 PYNN_LEAKY_SETTING=defaults
    probe float64 PYNN_LEAKY_SETTING=defaults
    probe float32 PYNN_LEAKY_WINDOW_BLOCKS=0
    probe float32 PYNN_LEAKY_REGION_ANALYSIS=1
    probe float32 "XLA_FLAGS=$UNROLL=WHILE_LOOP_UNROLLING_AUTO_UNROLL"
    probe float32 "XLA_FLAGS=$UNROLL=WHILE_LOOP_UNROLLING_FULL_UNROLL"
    # the step's floor: 100 cells, no input, nothing recorded
    ARGS="--cells 100 --rate 0 --no-record"
    probe float32 PYNN_LEAKY_SETTING=defaults
    probe float32 "XLA_FLAGS=$UNROLL=WHILE_LOOP_UNROLLING_FULL_UNROLL"
} | tee "${OUT:-.}/gpu_sync.txt"
