"""Random number generators of pynn_leaky.

pynn_leaky draws connectivity and parameter values on the host with numpy (the engine
draws its own streams, Poisson sources and noise, from ``setup(rng_seed=...)``), so its
"native" generator is numpy's: ``NativeRNG`` is a :class:`pyNN.random.NumpyRNG` that, given
no seed, takes ``rng_seed`` from ``setup()``, so a script stays reproducible.
"""

from pyNN.random import NumpyRNG

from . import simulator


class NativeRNG(NumpyRNG):
    """pynn_leaky's own generator (numpy's Mersenne Twister on the host).

    ``seed=None`` uses the ``rng_seed`` given to ``setup()``.
    """

    def __init__(self, seed=None, parallel_safe=True):
        if seed is None:
            seed = simulator.state.rng_seed
        super().__init__(seed=seed, parallel_safe=parallel_safe)

    def __repr__(self):
        return f"NativeRNG(seed={self.seed!r})"
