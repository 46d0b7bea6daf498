"""Run an unchanged PyNN script on pynn_leaky, as the simulator named ``leaky``.

Command line::

    python -m pynn_leaky run SCRIPT [ARGS...]

e.g. ``python -m pynn_leaky run simple_network.py leaky`` for one of PyNN's examples,
which take the simulator's name as their first argument. PyNN's example scripts
choose their backend by name: ``sim, args = pyNN.utility.get_simulator(...)`` imports
``pyNN.<first argument>``, others write ``import pyNN.nest as sim``. Neither can name a
package outside ``pyNN``, so :func:`register` makes ``pynn_leaky`` importable as
``pyNN.leaky`` in this process; the script then runs as ``python SCRIPT ARGS...`` would
run it (``__name__ == "__main__"``, ``sys.argv``, its directory first on ``sys.path``).
Scripts that import ``pyNN.leaky`` themselves can also call :func:`register` first.
"""

import importlib
import runpy
import sys
from pathlib import Path

NAME = "pyNN.leaky"


def register():
    """Make ``import pyNN.leaky`` (and ``from pyNN import leaky``) give pynn_leaky."""
    import pyNN

    sim = importlib.import_module("pynn_leaky")
    sys.modules.setdefault(NAME, sim)
    pyNN.leaky = sys.modules[NAME]
    return sys.modules[NAME]


def run(script, args=()):
    """Run `script` with command-line `args` in this process; return its exit status."""
    path = Path(script)
    if not path.is_file():
        raise FileNotFoundError(f"no such script: {script}")
    register()
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.resolve().parent))
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0
