"""Freed memory handed back to the operating system at the ends of phases (_memory)."""

import ctypes
import os
import platform

import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim
from pynn_leaky import _memory


@pytest.fixture
def calls(monkeypatch):
    """Count the releases instead of trimming (the function is found once per process)."""
    seen = []
    monkeypatch.setattr(_memory, "_trim", [lambda pad: seen.append(pad)])
    monkeypatch.setattr(_memory, "_released", set())  # as in a new process
    return seen


def _network(n_cells=11):
    sim.setup(timestep=0.1, rng_seed=1, progress=False)
    # sizes of no other test: this process has not compiled the program yet
    src = sim.Population(23, sim.SpikeSourcePoisson(rate=50.0))
    cells = sim.Population(n_cells, sim.LeakyIntegrator(), initial_values={"v": -65.0})
    sim.Projection(src, cells, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(2)),
                   sim.StaticSynapse(weight=0.05, delay=1.0))
    cells.record("v")
    return cells


def test_released_after_the_first_build_and_the_first_compile(calls):
    cells = _network()
    sim.run(50.0)
    assert calls == [0, 0]  # after the build, and once the chunk program was compiled
    sim.run(50.0)  # nothing built or compiled: nothing to return (short runs pay nothing)
    cells.set(tau=15.0)  # the network is built again (its program is reused)
    sim.run(50.0)
    v = cells.get_data().segments[0].filter(name="v")[0]
    assert v.shape == (1501, 11) and np.isfinite(np.asarray(v)).all()
    sim.end()
    # another network, built and compiled: the next build or compile would need the
    # memory once more, so it is kept
    _network(n_cells=12)
    sim.run(50.0)
    sim.end()
    assert calls == [0, 0]


def test_off_by_environment(monkeypatch):
    monkeypatch.setattr(_memory, "_trim", [])
    monkeypatch.setenv(_memory.ENV, "0")
    _memory.release()
    assert _memory._trim == [None]


def test_bad_setting_refused_by_name(monkeypatch):
    monkeypatch.setattr(_memory, "_trim", [])
    monkeypatch.setenv(_memory.ENV, "yes")
    with pytest.raises(errors.InvalidParameterValueError,
                       match="PYNN_LEAKY_RELEASE_MEMORY = 'yes'"):
        _memory.release()
    assert _memory._trim == []  # asked again next time


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_glibc_trim_returns_freed_heap_memory(monkeypatch):
    monkeypatch.setattr(_memory, "_trim", [])
    monkeypatch.delenv(_memory.ENV, raising=False)
    _memory.release()
    assert _memory._trim[0] is not None

    def rss_kib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

    # 64 MiB in 64 KiB blocks (below the allocator's mmap threshold: heap memory), every
    # block written, then all freed but the last (it pins the heap's top, so only a trim
    # can return the memory below it)
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(1 << 16) for _ in range(1024)]
    for b in blocks:
        ctypes.memset(b, 1, 1 << 16)
    for b in blocks[:-1]:
        libc.free(b)
    before = rss_kib()
    _memory.release()
    after = rss_kib()
    libc.free(blocks[-1])
    assert before - after > 32 * 1024  # KiB: most of the 64 MiB
