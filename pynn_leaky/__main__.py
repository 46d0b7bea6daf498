"""``python -m pynn_leaky compare SCRIPT --simulators leaky,nest,neuron,brian2 --output DIR``
(see pynn_leaky.compare), ``python -m pynn_leaky run SCRIPT leaky [ARGS...]`` (see
pynn_leaky.runner) and ``python -m pynn_leaky cache [--clear]`` (the on-disk cache of
compiled programs, see pynn_leaky._compile_cache)."""

import sys

from .compare import main

sys.exit(main())
