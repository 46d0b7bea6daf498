"""pynn_leaky: a PyNN backend whose populations run on a JAX engine.

Use it as any PyNN backend::

    import pynn_leaky as sim
    sim.setup(timestep=0.1)
    cells = sim.Population(10, sim.LeakyIntegrator(tau=20.0, R=40.0))
"""

import os as _os


def _xla_defaults(environ, cuda_plugin: bool, jaxlib_version: str):
    """XLA_FLAGS with XLA's command buffers for loops and conditionals added, or None.

    On NVIDIA GPUs they run the step loop inside CUDA graphs, so that it no longer waits
    for the host at every condition: W1 ran 2 x faster on an H100 (README, "GPU"). Only
    where a CUDA plugin of JAX is installed, with a jaxlib whose XLA knows these names
    (checked from 0.10 on), never over a user's own setting of the flag;
    PYNN_LEAKY_XLA_DEFAULTS=0 leaves XLA_FLAGS alone. It must be set before JAX starts
    its backends.
    """
    flags = environ.get("XLA_FLAGS", "")
    try:
        major_minor = tuple(int(x) for x in jaxlib_version.split(".")[:2])
    except ValueError:
        return None
    if (environ.get("PYNN_LEAKY_XLA_DEFAULTS", "1") == "0" or not cuda_plugin
            or major_minor < (0, 10) or "xla_gpu_enable_command_buffer" in flags):
        return None
    return (flags + " --xla_gpu_enable_command_buffer="
            "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL").strip()


def _set_xla_defaults():
    import importlib.metadata
    import importlib.util

    try:
        version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return
    plugin = any(importlib.util.find_spec(f"jax_cuda{v}_plugin") for v in (12, 13))
    flags = _xla_defaults(_os.environ, plugin, version)
    if flags is not None:
        _os.environ["XLA_FLAGS"] = flags


_set_xla_defaults()

import jax as _jax  # noqa: E402

# Float64 is the default precision (agreement with NEST); must be set before arrays exist.
_jax.config.update("jax_enable_x64", True)

from pyNN import errors, random, space  # noqa: E402,F401
from pyNN.connectors import *  # noqa: E402,F401,F403
from pyNN.network import Network  # noqa: E402,F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: E402,F401
from pyNN.recording import *  # noqa: E402,F401,F403
from pyNN.space import Space  # noqa: E402,F401
from pyNN.standardmodels import StandardCellType as _StandardCellType  # noqa: E402

from . import engine  # noqa: E402,F401
from .control import (  # noqa: E402,F401
    end,
    get_current_time,
    get_max_delay,
    get_min_delay,
    get_time_step,
    initialize,
    num_processes,
    rank,
    reset,
    run,
    run_for,
    run_until,
    setup,
)
from .peers import register_celltypes  # noqa: E402,F401
from .populations import Assembly, Population, PopulationView  # noqa: E402,F401
from .procedural_api import connect, create, record, record_v  # noqa: E402,F401
from .projections import Projection  # noqa: E402,F401
from .random import NativeRNG  # noqa: E402,F401
from .simulator import NumericalError  # noqa: E402,F401
from .standardmodels import *  # noqa: E402,F401,F403

__version__ = "0.1.0"


def list_standard_models():
    """Names of the standard cell types that pynn_leaky can simulate."""
    return sorted(
        name for name, obj in globals().items()
        if isinstance(obj, type) and issubclass(obj, _StandardCellType)
        and obj is not _StandardCellType
    )

from .checkpoint import load_state, save_state  # noqa: E402,F401
from .gradients import differentiable  # noqa: E402,F401
from .trials import run_trials  # noqa: E402,F401
