"""Run PyNN 0.13's own test suite against pynn_leaky.

``python -m pynn_leaky.conformance`` fetches PyNN's source distribution (its ``test/``
folder is not in the wheel), caches it in a git-ignored folder and runs, unmodified:

* ``test/system/scenarios`` with ``pyNN.nest``, ``pyNN.neuron``, ``pyNN.brian2`` and
  ``pyNN.arbor`` aliased to :mod:`pynn_leaky` (each scenario once);
* the unit tests written against ``pyNN.mock``, once with ``pyNN.mock`` aliased to
  :mod:`pynn_leaky` and once on the real ``pyNN.mock`` (the reference counts).

The aliasing is a pytest plugin, :mod:`pynn_leaky.conformance.plugin`; the driver is
:mod:`pynn_leaky.conformance._runner`.
"""

from ._aliases import SCENARIO_SIMULATORS as SCENARIO_SIMULATORS
from ._aliases import alias_simulators as alias_simulators
from ._aliases import choose_one_per_scenario as choose_one_per_scenario
