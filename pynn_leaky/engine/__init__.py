"""The pure-JAX engine of pynn_leaky.

Never imports pyNN, neo or quantities: it works on integer steps and plain arrays, and
can be jit-compiled, vmapped and differentiated on its own.
"""

from . import _currents as currents
from . import _leaky as leaky
from . import _sources as sources
from . import _synapses as synapses
from ._network import (
    RECORDABLE as RECORDABLE,
    GroupLayout as GroupLayout,
    Layout as Layout,
    Outputs as Outputs,
    Params as Params,
    Recording as Recording,
    State as State,
    init_state as init_state,
    run_chunk as run_chunk,
    simulate as simulate,
)

__all__ = [
    "RECORDABLE",
    "GroupLayout",
    "Layout",
    "Outputs",
    "Params",
    "Recording",
    "State",
    "currents",
    "init_state",
    "leaky",
    "run_chunk",
    "simulate",
    "sources",
    "synapses",
]
