"""The pure-JAX engine of pynn_leaky.

Never imports pyNN, neo or quantities: it works on integer steps and plain arrays, and
can be jit-compiled, vmapped and differentiated on its own.
"""

from . import _aeif as aeif
from . import _currents as currents
from . import _gsl as gsl
from . import _hh as hh
from . import _iaf as iaf
from . import _iaf_alpha as iaf_alpha
from . import _iaf_cond as iaf_cond
from . import _iaf_delta as iaf_delta
from . import _izhikevich as izhikevich
from . import _leaky as leaky
from . import _plastic as plastic
from . import _sharding as sharding
from . import _sources as sources
from . import _synapses as synapses
from ._network import (
    ADAPTIVE as ADAPTIVE,
)
from ._network import (
    FIELDS as FIELDS,
)
from ._network import (
    RECORDABLE as RECORDABLE,
)
from ._network import (
    SILENT_INH_MODELS as SILENT_INH_MODELS,
)
from ._network import (
    GroupLayout as GroupLayout,
)
from ._network import (
    Layout as Layout,
)
from ._network import (
    Outputs as Outputs,
)
from ._network import (
    Params as Params,
)
from ._network import (
    Recording as Recording,
)
from ._network import (
    State as State,
)
from ._network import (
    chunk_programs as chunk_programs,
)
from ._network import (
    current_values as current_values,
)
from ._network import (
    exact_first_bad as exact_first_bad,
)
from ._network import (
    init_state as init_state,
)
from ._network import (
    packs_spikes as packs_spikes,
)
from ._network import (
    run_chunk as run_chunk,
)
from ._network import (
    run_chunk_batched as run_chunk_batched,
)
from ._network import (
    simulate as simulate,
)
from ._network import (
    spike_counts as spike_counts,
)
from ._network import (
    spike_events as spike_events,
)

__all__ = [
    "FIELDS",
    "RECORDABLE",
    "SILENT_INH_MODELS",
    "GroupLayout",
    "Layout",
    "Outputs",
    "Params",
    "Recording",
    "State",
    "aeif",
    "current_values",
    "exact_first_bad",
    "currents",
    "iaf",
    "gsl",
    "hh",
    "iaf_alpha",
    "iaf_cond",
    "iaf_delta",
    "izhikevich",
    "init_state",
    "leaky",
    "plastic",
    "chunk_programs",
    "run_chunk",
    "run_chunk_batched",
    "sharding",
    "simulate",
    "sources",
    "packs_spikes",
    "spike_counts",
    "spike_events",
    "synapses",
]
