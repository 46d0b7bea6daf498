"""Checkpoints: save the full simulator state to a file and restore it.

``run(a); save_state(f)`` then, in the same or a new process with the same network built
by the same script, ``load_state(f); run(b)`` gives exactly what ``run(a + b)`` gives:
the time, every cell's state, the synaptic input in flight (delay ring buffer and spikes
not yet delivered) and the connection weights are restored, and the random streams of
the engine depend only on ``rng_seed`` and the step, so they continue where they were.
Recorded data is not part of a checkpoint: recording continues from the loaded time.
"""

import os
import tempfile

import jax
import numpy as np

from . import simulator

_FORMAT = 2  # 2: the random sources' phases are part of the state


def _network():
    from . import _build

    state = simulator.state
    if not state.initialized:
        raise RuntimeError("pynn_leaky: call setup() and build the network before checkpoints")
    return _build.current(state)


_ADDED = ("region_analysis", "skip_empty_rows", "check_every_step", "window_blocks",
          "spikes_per_batch")
"""Layout fields added after format 2 that do not describe the state: left out of the
fingerprint, which then stays the one that earlier versions wrote (their files load)."""
_GROUP_ADDED = ("silent_inh",)
"""The same for the fields of a group's layout (``silent_inh`` depends on the state)."""


def _repr(value):
    """repr of a layout field, groups without the fields of _GROUP_ADDED."""
    if isinstance(value, tuple) and value and hasattr(value[0], "silent_inh"):
        groups = [f"{type(g).__name__}(" + ", ".join(
            f"{k}={v!r}" for k, v in g._asdict().items() if k not in _GROUP_ADDED) + ")"
            for g in value]
        return "(" + ", ".join(groups) + ("," if len(groups) == 1 else "") + ")"
    return repr(value)


def _fingerprint(net, rows=None):
    # Execution settings (chunk length, delivery interval, loop blocking, compile options)
    # change how the same state is advanced, not the state: a checkpoint loads across them.
    # The string is repr((layout, sizes, sizes)) as format-2 files hold it. ``rows``: the
    # fingerprint the network would have with that many ring-buffer rows.
    layout = net.layout._replace(chunk=0, interval=1, steps_per_sync=1)
    if rows is not None:
        n_target = rows * net.n_cells
        layout = layout._replace(synapses=layout.synapses._replace(n_target=n_target))
        if layout.plastic is not None:
            layout = layout._replace(plastic=layout.plastic._replace(n_target=n_target))
    fields = ", ".join(f"{k}={_repr(v)}" for k, v in layout._asdict().items()
                       if k not in _ADDED)
    sizes = [p.size for p in net.neurons], [p.size for p in net.spikers]
    return f"({type(layout).__name__}({fields}), {sizes[0]!r}, {sizes[1]!r})"


def save_state(filename):
    """Write time, cell states, synaptic input in flight and weights to `filename` (.npz)."""
    state = simulator.state
    net = _network()
    leaves = jax.tree.leaves(jax.device_get(state.engine_state))
    arrays = {f"state_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    for i, prj in enumerate(state.projections):
        arrays[f"weight_{i}"] = prj._weight
    directory = os.path.dirname(os.path.abspath(filename)) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, format=_FORMAT, step=state.step, dt=state.dt,
                     fingerprint=_fingerprint(net), **arrays)
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_state(filename):
    """Restore a checkpoint written by :func:`save_state` into the same network."""
    state = simulator.state
    with np.load(filename, allow_pickle=False) as data:
        saved = {k: data[k] for k in data.files}
    if int(saved["format"]) != _FORMAT:
        raise ValueError(f"{filename}: checkpoint format {int(saved['format'])} is not "
                         f"supported (this version reads format {_FORMAT})")
    if float(saved["dt"]) != state.dt:
        raise ValueError(f"{filename}: saved with timestep {float(saved['dt'])} ms, but the "
                         f"simulator runs with timestep {state.dt} ms")
    for i, prj in enumerate(state.projections):
        key = f"weight_{i}"
        if key not in saved or saved[key].shape != prj._weight.shape:
            raise ValueError(f"{filename}: projection {i} ('{prj.label}') does not match the "
                             "checkpoint: build the same network as when it was saved")
        if not np.array_equal(saved[key], prj._weight):
            prj._set_values("weight", np.arange(len(prj)), saved[key])
    net = _network()
    template = jax.tree.structure(state.engine_state)
    leaves = [saved[f"state_{i}"] for i in range(template.num_leaves)]
    fingerprint = str(saved["fingerprint"])
    if fingerprint != _fingerprint(net):
        # Files of networks without inhibitory projections written before such networks
        # had a one-row ring buffer hold an inhibitory row, empty: it is dropped.
        ring = len(jax.tree.leaves(state.engine_state.groups))  # State: groups, ring, ...
        if (net.n_rows == 1 and fingerprint == _fingerprint(net, rows=2)
                and not leaves[ring].reshape(-1, 2, net.n_cells)[:, 1].any()):
            leaves[ring] = leaves[ring].reshape(-1, 2, net.n_cells)[:, 0].reshape(-1)
        else:
            raise ValueError(f"{filename}: the network differs from the one saved (sizes, "
                             "models or delays): build the same network as when it was saved")
    restored = jax.tree.unflatten(template, leaves)
    state.engine_state = jax.tree.map(
        lambda new, old: jax.numpy.asarray(new, old.dtype), restored, state.engine_state
    )
    if not net.silence_holds(state.engine_state):
        state.mark_changed()  # rebuilt at the next run, which then reads the inhibitory current
    state.step = int(saved["step"])
    state.running = True
    for recorder in state.recorders:
        recorder._clear_buffers()
