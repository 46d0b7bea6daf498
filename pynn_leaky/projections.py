"""Projection of pynn_leaky: connections stored as flat numpy arrays.

Connectors call ``_convergent_connect`` (one postsynaptic cell, many presynaptic) or,
for the common connectors, :mod:`pynn_leaky._connect` builds all connections at once.
"""


import numpy as np
from pyNN import common, errors
from pyNN.space import Space

from . import _connect, simulator
from .standardmodels.cells import is_neuron, is_spiking_neuron
from .standardmodels.synapses import StaticSynapse
from .standardmodels.synapses import check_values as _synapse_checks


class Connection(common.Connection):
    """One connection, a view on the projection's arrays."""

    def __init__(self, projection, index):
        self.projection = projection
        self.index = index

    @property
    def presynaptic_index(self):
        return int(self.projection._pre[self.index])

    @property
    def postsynaptic_index(self):
        return int(self.projection._post[self.index])

    def _get_weight(self):
        return float(self.projection._current("weight")[self.index])

    def _set_weight(self, w):
        self.projection._set_values("weight", np.array([self.index]), np.array([w], float))

    def _get_delay(self):
        return float(self.projection._delay[self.index])

    def _set_delay(self, d):
        self.projection._set_values("delay", np.array([self.index]), np.array([d], float))

    weight = property(_get_weight, _set_weight)
    delay = property(_get_delay, _set_delay)

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, name) for name in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector,
                 synapse_type=None, source=None, receptor_type=None, space=Space(), label=None):  # noqa: B008
        if not simulator.state.initialized:
            raise RuntimeError("pynn_leaky: call setup() before creating projections")
        for cell_set in (presynaptic_population, postsynaptic_population):
            if not isinstance(cell_set, (common.BasePopulation, common.Assembly)):
                raise errors.ConnectionError(
                    f"Projection endpoints must be Populations, PopulationViews or Assemblies, "
                    f"not {type(cell_set).__name__}"
                )
        for pop in _populations(presynaptic_population):
            if is_neuron(pop.celltype) and not is_spiking_neuron(pop.celltype):
                raise errors.ConnectionError(
                    f"Population '{pop.label}' ({type(pop.celltype).__name__}) cannot be the "
                    "presynaptic side of a Projection: it does not spike"
                )
        for pop in _populations(postsynaptic_population):
            if not is_neuron(pop.celltype):
                raise errors.ConnectionError(
                    f"Population '{pop.label}' ({type(pop.celltype).__name__}) cannot receive "
                    "synapses: it is a spike source"
                )
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population,
                                   connector, synapse_type, source, receptor_type, space, label)
        if not hasattr(self.synapse_type, "engine_kind"):
            raise NotImplementedError(
                f"pynn_leaky does not implement {type(self.synapse_type).__name__}; use "
                "StaticSynapse, TsodyksMarkramSynapse, STDPMechanism or SimpleStochasticSynapse"
            )
        self._kind = self.synapse_type.engine_kind
        self._extra_names = [n for n in self.synapse_type.get_parameter_names()
                             if n not in ("weight", "delay", "dendritic_delay_fraction")]
        self._extra = {n: np.zeros(0) for n in self._extra_names}
        self._live = None  # current values of plastic synapses, pulled from the engine
        self._chunks = []
        empty = np.zeros(0, np.int64)
        self._arrays = (empty, empty, np.zeros(0), np.zeros(0))
        self.version = 0
        if not _connect.connect_fast(connector, self):
            connector.connect(self)
        self._flush()
        simulator.state.projections.append(self)
        simulator.state.mark_changed()

    # -- storage -----------------------------------------------------------------------
    @property
    def _pre(self):
        return self._arrays[0]

    @property
    def _post(self):
        return self._arrays[1]

    @property
    def _weight(self):
        return self._arrays[2]

    @property
    def _delay(self):
        """Delays (ms) as given; the engine rounds them to the time grid when it builds."""
        return self._arrays[3]

    @property
    def _plastic(self):
        return self._kind is not None

    def _flush(self):
        if self._chunks:
            self._pull()
            parts = [c[:4] for c in self._chunks]
            if self._arrays[0].size:
                parts.insert(0, self._arrays)
            # one chunk (a fast connector) is taken as it is: no copy of 10^8 connections
            self._arrays = parts[0] if len(parts) == 1 else tuple(
                np.concatenate([p[i] for p in parts]) for i in range(4))
            for n in self._extra_names:
                self._extra[n] = np.concatenate([self._extra[n]] + [c[4][n] for c in self._chunks])
            self._chunks = []
            self.version += 1

    def _pull(self):
        """Copy the current values of plastic synapses from the engine into ``_live``."""
        state = simulator.state
        net = state.network
        if self._plastic and net is not None and state.engine_state is not None:
            values = net.plastic_values(state.engine_state, self)
            if values is not None:
                self._live = values

    def _current(self, name):
        """A per-connection variable now: plastic values from the engine, else stored."""
        self._flush()
        self._pull()
        if self._live is not None and name in self._live:
            return self._live[name]
        return self._weight if name == "weight" else self._extra[name]

    def _add(self, pre, post, weight, delay, extra=None, fresh=False):
        """Append connections; validate weights and delays first (nothing is added on error).

        A single value (e.g. one weight for all) is kept as one value broadcast to every
        connection (read only), not copied 10^8 times; arrays are copied unless ``fresh``
        (new arrays that nothing else holds, from the vectorised connectors)."""
        # cell indices in 4 bytes each where the populations allow (10^8 connections:
        # 800 MB less held)
        index = np.int32 if max(self.pre.size, self.post.size) < 2**31 else np.int64
        pre = np.asarray(pre, dtype=index).ravel()
        weight, delay = np.asarray(weight, dtype=float), np.asarray(delay, dtype=float)
        self._check_weights(weight)
        check_delays(delay)
        extra = {n: np.asarray(extra[n], dtype=float) for n in self._extra_names} \
            if self._extra_names else {}
        _synapse_checks(self.synapse_type, extra)

        def keep(x, dtype=float):
            x = np.asarray(x, dtype=dtype)
            if x.size == 1:
                return np.broadcast_to(x.reshape(()), pre.shape)
            if fresh and x.shape == pre.shape:
                return x
            return np.broadcast_to(x, pre.shape).copy()

        self._chunks.append((pre, keep(post, index), keep(weight), keep(delay),
                             {n: keep(v) for n, v in extra.items()}))

    def _check_weights(self, weight):
        """PyNN's sign rules: conductances (uS) >= 0 on every receptor; currents (nA) and
        voltage jumps (mV) >= 0 on 'excitatory', <= 0 on 'inhibitory'."""
        if weight.size == 0:
            return
        bad = ~np.isfinite(weight)
        if bad.any():
            raise errors.ConnectionError(
                f"weight = {float(weight[bad][0])!r} is not allowed: weights must be finite"
            )
        # PyNN only projects onto Assemblies whose cells are all of one synapse kind.
        posts = _populations(self.post)
        conductance = posts[0].celltype.conductance_based
        units = posts[0].celltype.weight_units
        if (conductance or self.receptor_type == "excitatory") and (weight < 0).any():
            kind = "conductance-based synapses" if conductance else "excitatory synapses"
            raise errors.ConnectionError(
                f"weight = {float(weight[weight < 0][0])!r} {units} is not allowed for "
                f"receptor_type '{self.receptor_type}': weights must be >= 0 ({kind})"
            )
        if self.receptor_type == "inhibitory" and not conductance and (weight > 0).any():
            raise errors.ConnectionError(
                f"weight = {float(weight[weight > 0][0])!r} {units} is not allowed for "
                "receptor_type 'inhibitory': weights must be <= 0 (current-based synapses)"
            )

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index,
                            location_selector=None, **connection_parameters):
        if location_selector is not None:
            raise NotImplementedError("pynn_leaky has only point neurons")
        pre = np.asarray(presynaptic_indices, dtype=np.int64)
        self._add(pre, postsynaptic_index, connection_parameters.get("weight", 0.0),
                  connection_parameters.get("delay", simulator.state.min_delay_or_dt),
                  connection_parameters)

    def _min_delay(self):
        return float(self._delay.min())

    def _max_delay(self):
        return float(self._delay.max())

    # -- PyNN API ----------------------------------------------------------------------
    def __len__(self):
        self._flush()
        return int(self._pre.size)

    def __getitem__(self, i):
        self._flush()
        if isinstance(i, (int, np.integer)):
            if not -len(self) <= i < len(self):
                raise IndexError(f"connection index {i} out of range (0..{len(self) - 1})")
            return Connection(self, int(i) % len(self))
        return [Connection(self, j) for j in np.arange(len(self))[i]]

    @property
    def connections(self):
        return [Connection(self, j) for j in range(len(self))]

    def _get_attributes_as_list(self, names):
        columns = [self._column(name) for name in names]
        return list(zip(*[c.tolist() for c in columns]))

    def _column(self, name):
        self._flush()
        if name == "presynaptic_index":
            return self._pre
        if name == "postsynaptic_index":
            return self._post
        if name == "delay":
            return self._delay
        if name == "weight" or name in self._extra_names:
            return self._current(name)
        if name == "dendritic_delay_fraction" and self._kind == "stdp":
            return np.full(self._pre.size, float(self.synapse_type.dendritic_delay_fraction))
        raise errors.NonExistentParameterError(name, type(self.synapse_type).__name__,
                                               ["weight", "delay", *self._extra_names])

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        self._flush()
        combine = {"sum": np.add, "min": np.fmin, "max": np.fmax}
        out = []
        for name in names:
            name = name[:-1] if name in ("weights", "delays") else name
            values = self._column(name)
            array = np.full(self.shape, np.nan)
            flat = self._pre.astype(np.int64) * self.shape[1] + self._post
            if multiple_synapses in ("last", "first"):
                order = slice(None) if multiple_synapses == "last" else slice(None, None, -1)
                array.ravel()[flat[order]] = values[order]
            else:
                op = combine[multiple_synapses]
                uniq, inverse = np.unique(flat, return_inverse=True)
                if op is np.add:
                    acc = np.bincount(inverse, weights=values, minlength=uniq.size)
                else:
                    acc = np.full(uniq.size, np.nan)
                    op.at(acc, inverse, values)
                array.ravel()[uniq] = acc
            out.append(array)
        return out

    def _set_attributes(self, parameter_space):
        self._flush()
        lazy = dict(parameter_space.items())
        parameter_space.evaluate(mask=(self._pre, self._post))
        for name, value in parameter_space.items():
            if name not in ("weight", "delay", *self._extra_names):
                raise errors.NonExistentParameterError(
                    name, type(self.synapse_type).__name__,
                    ["weight", "delay", *self._extra_names])
            value = np.asarray(value, float)
            if value.ndim > 1 or value.size not in (1, self._pre.size):
                # functions of distance/indices evaluate on the index arrays' outer product:
                # evaluate the (pre, post) matrix once and pick the connections
                value = np.asarray(lazy[name].evaluate(simplify=False), float)[
                    self._pre, self._post]
            value = np.broadcast_to(value, self._pre.shape)
            self._set_values(name, np.arange(self._pre.size), value)

    def _set_values(self, name, index, value):
        self._pull()  # plastic changes so far are kept; the set values replace them
        pre, post, weight, delay = (a.copy() for a in self._arrays)
        if name == "weight":
            self._check_weights(value)
            weight[index] = value
            if self._live is not None:
                self._live = {**self._live, "weight": self._live["weight"].copy()}
                self._live["weight"][index] = value
        elif name == "delay":
            check_delays(value)
            delay[index] = value
        else:
            _synapse_checks(self.synapse_type, {name: value})
            column = self._extra[name].copy()
            column[index] = value
            self._extra = {**self._extra, name: column}
        self._arrays = (pre, post, weight, delay)
        self.version += 1
        simulator.state.mark_changed()

    def save(self, attribute_names, file, format="list", gather=True, with_address=True):
        gather = simulator.state.gather(gather)
        self._flush()
        return super().save(attribute_names, file, format, gather, with_address)

    def get(self, attribute_names, format, gather=True, with_address=True,
            multiple_synapses="sum"):
        gather = simulator.state.gather(gather)
        return super().get(attribute_names, format, gather, with_address, multiple_synapses)

    get.__doc__ = common.Projection.get.__doc__

    def size(self, gather=True):
        gather = simulator.state.gather(gather)
        return super().size(gather)

    size.__doc__ = common.Projection.size.__doc__


def _populations(cell_set):
    if isinstance(cell_set, common.Assembly):
        return [p.grandparent if isinstance(p, common.PopulationView) else p
                for p in cell_set.populations]
    if isinstance(cell_set, common.PopulationView):
        return [cell_set.grandparent]
    return [cell_set]


def check_delays(delay):
    """Refuse delays (ms) outside [min_delay, max_delay] (min_delay 'auto': the time step).

    Delays are kept as given; the engine rounds them to the time grid when it builds
    the network (:func:`delay_steps`).
    """
    state = simulator.state
    delay = np.asarray(delay, dtype=float)
    if delay.size == 0:
        return
    lo = state.min_delay_or_dt
    hi = state.max_delay
    bad = ~np.isfinite(delay) | (delay < lo - 1e-9 * state.dt)
    if hi != "auto":
        bad |= delay > hi + 1e-9 * state.dt
    if bad.any():
        upper = "" if hi == "auto" else f" and <= max_delay = {hi} ms"
        raise errors.ConnectionError(
            f"delay = {delay[bad].ravel()[0]!r} ms is not allowed: delays must be >= "
            f"{'min_delay' if state.min_delay != 'auto' else 'the time step'} = {lo} ms{upper}"
        )


def delay_steps(delay, dt):
    """Delays (ms) to whole steps of `dt`: the nearest step, halves up, at least 1 (NEST's
    ``ld_round(delay * steps_per_ms)``: 0.15 ms at dt 0.1 is 2 steps).

    Returns ``(steps, off)``: ``off`` marks the delays that were not on the grid (to a
    relative tolerance of 1e-6 of a step), for the caller's warning.
    """
    delay = np.asarray(delay, dtype=float)
    if delay.size > 1 and delay.min() == delay.max():
        # one delay for all (the common case): computed once, shared read-only views
        steps, off = delay_steps(delay.flat[:1], dt)
        return np.broadcast_to(steps, delay.shape), np.broadcast_to(off, delay.shape)
    exact = delay * (1.0 / dt)
    steps = np.floor(exact + 0.5)
    np.subtract(exact, steps, out=exact)
    off = np.abs(exact, out=exact) > 1e-6
    np.maximum(steps, 1, out=steps)
    # 4 bytes per synapse where every delay allows (steps beyond int32 would be refused by
    # the engine's ring-buffer check anyway)
    return steps.astype(np.int32 if steps.max(initial=1) < 2**31 else np.int64), off
