"""``python -m pynn_leaky.conformance``: see :mod:`pynn_leaky.conformance._runner`."""

import sys

from ._runner import main

sys.exit(main())
