"""pynn_leaky: a PyNN backend whose populations run on a JAX engine.

Use it as any PyNN backend::

    import pynn_leaky as sim
    sim.setup(timestep=0.1)
    cells = sim.Population(10, sim.LeakyIntegrator(tau=20.0, R=40.0))
"""

import importlib.util as _util
import os as _os

# On NVIDIA GPUs, XLA can run loops and conditionals inside CUDA graphs ("command
# buffers"), so that the step loop no longer waits for the host at every condition: W1
# ran 2x faster on an H100 (README, "GPU"). Only where a CUDA plugin of JAX is installed,
# only before JAX starts its backends, never over a user's own setting of the flag;
# PYNN_LEAKY_XLA_DEFAULTS=0 leaves XLA_FLAGS alone.
if (_os.environ.get("PYNN_LEAKY_XLA_DEFAULTS", "1") != "0"
        and "xla_gpu_enable_command_buffer" not in _os.environ.get("XLA_FLAGS", "")
        and any(_util.find_spec(f"jax_cuda{v}_plugin") for v in (12, 13))):
    _os.environ["XLA_FLAGS"] = (
        _os.environ.get("XLA_FLAGS", "") + " --xla_gpu_enable_command_buffer="
        "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL").strip()

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
