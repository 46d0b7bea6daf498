"""Where W3's cost per cell grows with size: the cell update and the ring buffer's slot
clear, alone, at several sizes (float64, one thread, as pynn_leaky compiles them: a loop
of steps, region analysis in copy insertion), and the memory bandwidth of one core.

    python benchmarks/ring_memory.py [--sizes 16384,131072,1048576] [--steps 200]

Per step and size: ``update`` is a LeakyIntegrator step (v and the excitatory current,
the ring slot's arrivals read), ``+ clear`` adds the clear of the slot read (11 slots, as
W3's ring with 1 ms delays), the way the engine does it; the last column runs the update
in tiles of cells that each advance 10 steps (see :func:`tiled_program`). The table gives
ns per cell and step. Not a peer comparison: it explains the W3 growth curve
(README, "W3's growth").
"""

import argparse
import os
import time
from functools import partial

os.environ.setdefault("NPROC", "1")  # XLA:CPU's worker threads, as pynn_leaky's default

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

jax.config.update("jax_enable_x64", True)

SLOTS = 11
OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True}


def program(n, steps, clear):
    decay_v, decay_i, r = 0.995, 0.98, 40.0

    @partial(jax.jit, compiler_options=OPTIONS)
    def run(v, isyn, ring):
        def step(k, c):
            v, isyn, ring = c
            if clear:  # the slot read last step, as the engine's clear_slot
                ring = lax.dynamic_update_slice(ring, jnp.zeros(n), ((k % SLOTS) * n,))
            x = lax.dynamic_slice(ring, (((k + 1) % SLOTS) * n,), (n,))
            v = -65.0 + (v + 65.0) * decay_v + r * isyn * (1.0 - decay_v)
            isyn = isyn * decay_i + x
            return v, isyn, ring

        return lax.fori_loop(0, steps, step, (v, isyn, ring))

    return run


def tiled_program(n, steps, tile, window=10):
    """The update alone (no clear), run as tiles of ``tile`` cells that each advance
    ``window`` steps before the next tile (temporal blocking: a window's arrivals are all
    in the ring when it starts, as the minimum delay is a window): each tile's v and
    current stay in the core's cache for the window's steps. Not what the engine does."""
    decay_v, decay_i, r = 0.995, 0.98, 40.0
    tiles = -(-n // tile)

    @partial(jax.jit, compiler_options=OPTIONS)
    def run(v, isyn, ring):
        def one_window(w, c):
            def one_tile(t, c):
                v, isyn = c
                o = jnp.minimum(t * tile, n - tile)  # the last tile overlaps: masked
                fresh = o + jnp.arange(tile) >= t * tile
                vt = lax.dynamic_slice(v, (o,), (tile,))
                it = lax.dynamic_slice(isyn, (o,), (tile,))

                def step(s, c):
                    vt, it = c
                    x = lax.dynamic_slice(ring, (((w * window + s + 1) % SLOTS) * n + o,), (tile,))
                    nv = -65.0 + (vt + 65.0) * decay_v + r * it * (1.0 - decay_v)
                    if n % tile == 0:
                        return nv, it * decay_i + x
                    return jnp.where(fresh, nv, vt), jnp.where(fresh, it * decay_i + x, it)

                vt, it = lax.fori_loop(0, window, step, (vt, it))
                return (lax.dynamic_update_slice(v, vt, (o,)),
                        lax.dynamic_update_slice(isyn, it, (o,)))

            return lax.fori_loop(0, tiles, one_tile, c)

        v, isyn = lax.fori_loop(0, steps // window, one_window, (v, isyn))
        return v, isyn, ring

    return run


def per_step(n, steps, clear, repeat=5, tile=0):
    """Seconds per step (best of ``repeat``), and the final v."""
    run = tiled_program(n, steps, tile) if tile else program(n, steps, clear)
    rng = np.random.default_rng(0)
    args = (jnp.full(n, -65.0), jnp.zeros(n), jnp.asarray(rng.random(SLOTS * n) * 1e-3))
    v = jax.block_until_ready(run(*args))[0]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(run(*args))
        best = min(best, (time.perf_counter() - t0) / steps)
    return best, np.asarray(v)


def bandwidth(mib=64, repeat=5):
    """GB/s of one core: a copy (read + write) and a fill (write) of ``mib`` MiB."""
    a = np.ones(mib * 2**17)
    b = np.empty_like(a)
    out = {}
    for name, f, moved in (("copy", lambda: np.copyto(b, a), 2 * a.nbytes),
                           ("fill", lambda: b.fill(0.0), a.nbytes)):
        f()
        t0 = time.perf_counter()
        for _ in range(repeat):
            f()
        out[name] = moved * repeat / (time.perf_counter() - t0) / 1e9
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="16384,131072,1048576")
    ap.add_argument("--steps", type=int, default=200, help="a multiple of 10")
    ap.add_argument("--tile", type=int, default=16384, help="cells per tile (tiled column)")
    args = ap.parse_args()
    print("| cells | update ns/cell/step | + clear | clear alone | update in tiles of "
          f"{args.tile} x 10 steps |")
    print("|---|---|---|---|---|")
    for n in (int(float(s)) for s in args.sizes.split(",")):
        (u, v_u), (c, _) = per_step(n, args.steps, False), per_step(n, args.steps, True)
        t, v_t = per_step(n, args.steps, False, tile=min(args.tile, n))
        # the tiles compute the same steps (the same operations in the same order)
        assert np.array_equal(v_u, v_t), f"tiled update differs at {n} cells"
        print(f"| {n} | {u / n * 1e9:.2f} | {c / n * 1e9:.2f} | {(c - u) / n * 1e9:.2f} | "
              f"{t / n * 1e9:.2f} |")
    bw = bandwidth()
    print(f"one core: copy {bw['copy']:.1f} GB/s, fill {bw['fill']:.1f} GB/s (numpy, 64 MiB)")


if __name__ == "__main__":
    main()
