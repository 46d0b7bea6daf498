"""Population, PopulationView and Assembly of pynn_leaky (parameters live on the host)."""

import os

import numpy as np
from lazyarray import larray as LazyArray
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify
from pyNN.standardmodels import StandardCellType

from . import simulator
from .recording import Recorder, check_filename, write_block
from .standardmodels.cells import check_initial_values, check_parameters


class Assembly(common.Assembly):
    _simulator = simulator

    def write_data(self, io, variables="all", gather=True, clear=False, annotations=None):
        """Write the Assembly's recorded data; a filename is written atomically.

        See :func:`pynn_leaky.recording.write_block`. With ``clear=True`` the data are
        cleared only after the file is in place.
        """
        if not isinstance(io, (str, os.PathLike)):
            return super().write_data(io, variables, gather, clear, annotations)
        check_filename(os.fspath(io))
        write_block(self.get_data(variables, gather, False, annotations), io)
        if clear:
            for p in self.populations:
                p.recorder.clear()


def _check_initial(cells, initial_values):
    """Refuse unknown state variables and arrays of the wrong length (PyNN errors)."""
    known = list(cells.celltype.default_initial_values)
    for name, value in initial_values.items():
        if name not in known:
            raise errors.NonExistentParameterError(
                name, f"{type(cells.celltype).__name__} (initial values)", known
            )
        if isinstance(value, (list, tuple, np.ndarray)) and np.shape(value) != (cells.size,):
            raise errors.InvalidDimensionsError(
                f"initial value of {name} has shape {np.shape(value)}: give a scalar or an "
                f"array of shape ({cells.size},) for '{cells.label}'"
            )


def local_positions(pop, indices):
    """Positions of cells of Population `pop` (indices in the Population) in its arrays,
    which hold the local cells only: the identity, but in an emulated partition, where
    cells that another rank holds get -1."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        indices = indices.astype(np.int64)
    if pop._all_local:
        return indices
    positions = np.cumsum(pop._mask_local) - 1
    return np.where(pop._mask_local[indices], positions[indices], -1)


def held(pop):
    """Number of cells of Population `pop` this process holds (its local cells)."""
    return pop.size if pop._all_local else int(pop._mask_local.sum())


def _mask(cells):
    """The evaluation mask of `cells`: None when every cell is local (the usual case)."""
    return None if cells._mask_local.all() else cells._mask_local


def _evaluate(parameter_space, mask_local):
    """Evaluate new parameter values (for the local cells only); a value that is not a
    number, array, sequence, distribution or function raises InvalidParameterValueError
    naming it."""
    mask = None if mask_local.all() else mask_local
    try:
        parameter_space.evaluate(mask=mask, simplify=False)
    except (ValueError, TypeError) as err:
        given = {name: value.base_value for name, value in parameter_space._parameters.items()}
        raise errors.InvalidParameterValueError(
            f"cannot set {given!r}: {err}. Give numbers, arrays, sequences, random "
            "distributions or functions of the cell index"
        ) from None


def _native_names(celltype, names):
    unknown = [n for n in names if n not in celltype.get_parameter_names()]
    if unknown:
        raise errors.NonExistentParameterError(
            unknown[0], type(celltype).__name__, celltype.get_parameter_names()
        )
    if any(name in celltype.computed_parameters() for name in names):
        return celltype.get_native_names()
    return celltype.get_native_names(*names)


class _Get:
    def get(self, parameter_names, gather=False, simplify=True):
        gather = simulator.state.gather(gather)
        return super().get(parameter_names, gather, simplify)

    get.__doc__ = common.BasePopulation.get.__doc__


class PopulationView(_Get, common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def _get_parameters(self, *names):
        native = self._get_native_parameters(*_native_names(self.celltype, names))
        return self.celltype.reverse_translate(native)

    def _where(self):
        """Positions of the view's local cells in the grandparent's (local) arrays."""
        root = self.grandparent
        where = self.index_in_grandparent(np.arange(self.size))[self._mask_local]
        return local_positions(root, where)

    def _get_native_parameters(self, *names):
        values = {}
        for name in names:
            value = self.grandparent._parameters[name]
            values[name] = simplify(
                value[self._where()] if isinstance(value, np.ndarray) else value
            )
        return ParameterSpace(values, shape=(self.local_size,))

    def _set_parameters(self, parameter_space):
        _evaluate(parameter_space, self._mask_local)
        new = {name: value for name, value in parameter_space.items()}
        check_parameters(self.celltype, new)
        for name, value in new.items():
            self.grandparent._parameters[name][self._where()] = value
        simulator.state.mark_changed()

    def initialize(self, **initial_values):
        _check_initial(self, initial_values)
        root = self.grandparent
        where = self.index_in_grandparent(np.arange(self.size))
        for variable, value in initial_values.items():
            values = LazyArray(value, shape=(self.size,), dtype=float).evaluate(simplify=False)
            full = root.initial_values[variable].evaluate(simplify=False).copy()
            full[where] = values
            root.initialize(**{variable: full})

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(_Get, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def __init__(self, size, cellclass, cellparams=None, structure=None, initial_values={},  # noqa: B006 (PyNN)
                 label=None):
        if not simulator.state.initialized:
            raise RuntimeError("pynn_leaky: call setup() before creating populations")
        super().__init__(size, cellclass, cellparams, structure, initial_values, label)

    def initialize(self, **initial_values):
        _check_initial(self, initial_values)
        super().initialize(**initial_values)

    def _create_cells(self):
        if not isinstance(self.celltype, StandardCellType):
            raise errors.InvalidModelError(
                f"pynn_leaky cannot simulate cell type {type(self.celltype).__name__}: "
                "use one of list_standard_models()"
            )
        first = simulator.state.id_counter
        self.all_cells = np.fromiter(map(simulator.ID, range(first, first + self.size)),
                                     dtype=simulator.ID, count=self.size)
        self._mask_local = simulator.state.local_mask(self.all_cells)
        self._all_local = bool(self._mask_local.all())
        for cell in self.all_cells:
            # what ID.__setattr__ does for "parent", without its Python call (10^6 cells:
            # 0.6 s of the 1.9 s that creating them took)
            cell.__dict__["parent"] = self
        simulator.state.id_counter += self.size
        ps = self.celltype.native_parameters
        try:
            ps.shape = (self.size,)
            # Only the local cells' values are kept (all of them, but in an emulated
            # partition); random values are drawn as pyNN.mock draws them.
            ps.evaluate(mask=_mask(self), simplify=False)
        except ValueError as err:
            raise errors.InvalidDimensionsError(
                f"a parameter of {type(self.celltype).__name__} does not fit a population of "
                f"{self.size} cells: give a scalar or an array of length {self.size} ({err})"
            ) from None
        self._parameters = ps.as_dict()
        check_parameters(self.celltype, self._parameters)
        self._pending_state = {}
        simulator.state.populations.append(self)
        simulator.state.mark_changed()

    def _set_initial_value_array(self, variable, initial_values):
        values = np.broadcast_to(
            np.asarray(initial_values.evaluate(simplify=False), dtype=float), (self.size,)
        ).copy()
        check_initial_values(self.celltype, variable, values)
        if simulator.state.engine_state is not None:
            # Already running: the value also replaces the current state (as on NEST).
            self._pending_state[variable] = values if self._all_local \
                else values[self._mask_local]
            simulator.state.mark_changed()

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _get_parameters(self, *names):
        native = self._get_native_parameters(*_native_names(self.celltype, names))
        return self.celltype.reverse_translate(native)

    def _get_native_parameters(self, *names):
        return ParameterSpace(
            {name: simplify(self._parameters[name]) for name in names},
            shape=(held(self),),
        )

    def _set_parameters(self, parameter_space):
        _evaluate(parameter_space, self._mask_local)
        new = {name: value for name, value in parameter_space.items()}
        check_parameters(self.celltype, new)
        self._parameters.update(new)
        simulator.state.mark_changed()
