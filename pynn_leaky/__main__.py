"""``python -m pynn_leaky compare SCRIPT --simulators leaky,nest,neuron,brian2 --output DIR``
(see pynn_leaky.compare) and ``python -m pynn_leaky run SCRIPT leaky [ARGS...]`` (see
pynn_leaky.runner)."""

import sys

from .compare import main

sys.exit(main())
