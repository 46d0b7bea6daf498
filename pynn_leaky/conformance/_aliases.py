"""Aliasing of PyNN backends to pynn_leaky, and the choice of one run per scenario.

Kept free of pytest so that it can be tested on its own.
"""

import importlib
import sys

SCENARIO_SIMULATORS = ("nest", "neuron", "brian2", "arbor")
"""The backends PyNN's scenarios are parametrised over (``run_with_simulators``)."""

PREFERENCE = ("neuron", "brian2", "nest", "arbor")
"""Which parametrisation of a scenario is kept, first listed first.

A scenario is parametrised over the backends it was written for, and the copies differ
only in the name of the simulator. Two scenarios branch on that name to check how a
backend stores a value internally (``"nest" in str(sim)``: NEST shifts StepCurrentSource
times by min_delay). pynn_leaky keeps the times the user gave, so the generic branch is
the one that describes it; NEST is kept where a scenario lists nothing else.
"""


def alias_simulators(names, target="pynn_leaky"):
    """Make ``pyNN.<name>`` import `target` for each of `names`; return the old entries.

    Both ``sys.modules['pyNN.<name>']`` and the attribute of the ``pyNN`` package are set,
    so ``import pyNN.nest as sim``, ``from pyNN import nest`` and
    ``importlib.import_module('pyNN.nest')`` all give `target`. Must run before the tests
    that import these names are collected.
    """
    import pyNN

    module = importlib.import_module(target)
    previous = {}
    for name in names:
        if name not in SCENARIO_SIMULATORS + ("mock",):
            raise ValueError(
                f"cannot alias pyNN.{name}: give some of {', '.join(SCENARIO_SIMULATORS)}, mock"
            )
        key = f"pyNN.{name}"
        previous[key] = sys.modules.get(key)
        sys.modules[key] = module
        setattr(pyNN, name, module)
    return previous


def choose_one_per_scenario(items):
    """Split `items` into (kept, dropped): one item per parametrised scenario function.

    `items` are ``(test_id, function_id, simulator)`` triples, in collection order; the
    simulator is None for items that are not parametrised over a simulator (kept as they
    are). Among the items of one function the simulator earliest in :data:`PREFERENCE`
    is kept (unknown names after the known ones, in collection order).
    """
    groups = {}
    for test_id, function_id, simulator in items:
        if simulator is not None:
            groups.setdefault(function_id, []).append((test_id, simulator))

    def rank(simulator):
        return PREFERENCE.index(simulator) if simulator in PREFERENCE else len(PREFERENCE)

    chosen = {function_id: min(group, key=lambda item: rank(item[1]))[0]
              for function_id, group in groups.items()}
    kept, dropped = [], []
    for test_id, function_id, simulator in items:
        if simulator is None or chosen[function_id] == test_id:
            kept.append(test_id)
        else:
            dropped.append(test_id)
    return kept, dropped
