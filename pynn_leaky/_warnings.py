"""Warnings attributed to the user's own line.

A warning raised while building or running a network is reached through different paths
(``run()``, ``run_trials()``, ``get_data()``, checkpoints, ...), each with its own depth
of pynn_leaky and PyNN frames, so no fixed ``stacklevel`` fits them all: :func:`warn`
points at the first caller outside both packages.
"""

import os
import sys
import warnings

import pyNN

_INTERNAL = tuple(os.path.dirname(os.path.abspath(m)) + os.sep for m in (__file__, pyNN.__file__))


def _internal(filename):
    return os.path.abspath(filename).startswith(_INTERNAL)


def warn(message, category=UserWarning):
    """``warnings.warn(message, category)`` at the first frame outside pynn_leaky and PyNN."""
    frame, level = sys._getframe(1), 2  # level 2: the caller of this function
    while frame is not None and _internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
