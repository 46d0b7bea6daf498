"""``python -m pynn_leaky compare SCRIPT --simulators leaky,nest,neuron,brian2 --output DIR``."""

import sys

from .compare import main

sys.exit(main())
