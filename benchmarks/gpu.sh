#!/usr/bin/env bash
# One prepared GPU run (a few minutes) on a machine whose image has CUDA JAX but no
# network: PyNN, Neo, quantities and lazyarray come as wheels carried in benchmarks/wheels
# (numpy too, used only if the image's numpy cannot import them).
#
# Here (with network):   bash benchmarks/gpu.sh --fetch
# There (the GPU):       bash benchmarks/gpu.sh
#                        (writes gpu_check.txt, gpu_sync.txt and trials.txt to $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=benchmarks/wheels
if [ "${1:-}" = "--fetch" ]; then
    python -m pip download -q --no-deps -d "$WHEELS" "pynn==0.13.*" neo quantities lazyarray
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$WHEELS/numpy" "numpy==2.4.*"
    ls -la "$WHEELS" "$WHEELS/numpy"
    exit 0
fi
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD:/tmp/site"
# first runs compile (as earlier GPU numbers did): no on-disk compile cache between runs
export PYNN_LEAKY_COMPILE_CACHE="${PYNN_LEAKY_COMPILE_CACHE:-0}"
OUTDIR="${OUT:-.}"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
if ! python3 -c "import pynn_leaky" 2>"$OUTDIR/import_error.txt"; then
    echo "pynn_leaky does not import with the image's numpy; installing numpy 2.4"
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site \
        "$WHEELS"/numpy/*.whl
fi
nvidia-smi -L
python3 -c "import jax, numpy; print('JAX', jax.__version__, 'numpy', numpy.__version__, jax.devices())"
# the loop settings first (they decide the GPU defaults), each part bounded in time so
# that what is done comes back even when a part hangs
timeout 200 bash benchmarks/gpu_sync.sh
timeout 240 python3 benchmarks/gpu_check.py 2>&1 | tee "$OUTDIR/gpu_check.txt"
status=${PIPESTATUS[0]}
timeout 90 python3 benchmarks/trials.py --cells 1000 --time 500 2>&1 | tee "$OUTDIR/trials.txt"
exit $status
