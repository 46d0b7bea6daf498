"""write_data() is atomic: data go to a temporary file in the target directory that then
replaces the target. A failed or interrupted write leaves the old file (or none) under the
target name and no temporary file; bad paths and formats raise errors naming the path and
the allowed extensions; recorded data survive every failure."""

import os
import pickle

import neo
import numpy as np
import pytest
from pyNN import errors

import pynn_leaky as sim

DT = 0.1
ALLOWED = (".pkl", ".pickle", ".nix", ".h5")


@pytest.fixture(autouse=True)
def simulator():
    sim.setup(timestep=DT)
    yield sim
    sim.end()


@pytest.fixture
def cells():
    """Two cells relaxing towards R * i_offset = 1 mV and 2 mV, v recorded for 2 ms."""
    p = sim.Population(2, sim.LeakyIntegrator(i_offset=[1.0, 2.0]), label="cells")
    p.record("v")
    sim.run(2.0)
    return p


def v_of(block):
    return block.segments[0].filter(name="v")[0].magnitude


def expected_v():
    t = np.arange(21) * DT
    return np.stack([a * (1 - np.exp(-t / 10.0)) for a in (1.0, 2.0)], 1)


def read(path):
    if str(path).endswith((".nix", ".h5")):
        io = neo.io.NixIO(str(path), mode="ro")
        try:
            return io.read_block()
        finally:
            io.close()
    return neo.io.PickleIO(str(path)).read_block()


def leftovers(directory, keep):
    return sorted(set(os.listdir(directory)) - set(keep))


class Boom(RuntimeError):
    pass


def _explode(self, block):
    # Start writing, then fail: a non-atomic writer would leave a truncated file.
    with open(self.filename, "wb") as f:
        f.write(b"partial")
    raise Boom("disk on fire")


@pytest.mark.parametrize("suffix", ALLOWED)
def test_write_round_trip_all_formats(tmp_path, cells, suffix):
    target = tmp_path / f"v{suffix}"
    cells.write_data(str(target))
    np.testing.assert_allclose(v_of(read(target)), expected_v(), rtol=0, atol=1e-12)
    assert leftovers(tmp_path, [target.name]) == []


def test_write_accepts_pathlib_and_creates_directories(tmp_path, cells):
    target = tmp_path / "a" / "b" / "v.pkl"
    cells.write_data(target)
    np.testing.assert_allclose(v_of(read(target)), expected_v(), rtol=0, atol=1e-12)


def test_file_has_ordinary_permissions(tmp_path, cells):
    target = tmp_path / "v.pkl"
    cells.write_data(str(target))
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask


def test_existing_file_replaced_not_appended(tmp_path, cells):
    target = tmp_path / "v.nix"
    cells.write_data(str(target))
    cells.write_data(str(target))
    assert len(read(target).segments) == 1


@pytest.mark.parametrize("io_class", ["PickleIO", "NixIO"])
def test_failed_write_leaves_no_file(tmp_path, cells, monkeypatch, io_class):
    monkeypatch.setattr(getattr(neo.io, io_class), "write_block", _explode)
    target = tmp_path / ("v.pkl" if io_class == "PickleIO" else "v.nix")
    with pytest.raises(Boom):
        cells.write_data(str(target))
    assert leftovers(tmp_path, []) == []  # neither the target nor a temporary file


@pytest.mark.parametrize("interrupt", [Boom("disk on fire"), KeyboardInterrupt()])
def test_failed_write_keeps_old_file_and_data(tmp_path, cells, monkeypatch, interrupt):
    target = tmp_path / "v.pkl"
    target.write_bytes(pickle.dumps("old contents"))
    old = target.read_bytes()

    def fail(self, block):
        with open(self.filename, "wb") as f:
            f.write(b"partial")
        raise interrupt

    monkeypatch.setattr(neo.io.PickleIO, "write_block", fail)
    with pytest.raises(type(interrupt)):
        cells.write_data(str(target), clear=True)
    assert target.read_bytes() == old
    assert leftovers(tmp_path, [target.name]) == []
    # clear=True had no effect: every sample is still there, and can be written now
    np.testing.assert_allclose(v_of(cells.get_data()), expected_v(), rtol=0, atol=1e-12)
    monkeypatch.undo()
    cells.write_data(str(target), clear=True)
    np.testing.assert_allclose(v_of(read(target)), expected_v(), rtol=0, atol=1e-12)
    assert v_of(cells.get_data()).shape == (1, 2)  # cleared only after success


@pytest.mark.parametrize("name", ["v.txt", "v.csv", "v", "v.mat", "v.nwb", "v.PKL"])
def test_unknown_extension(tmp_path, cells, name):
    target = tmp_path / name
    with pytest.raises(errors.InvalidParameterValueError) as info:
        cells.write_data(str(target))
    message = str(info.value)
    assert str(target) in message
    for ext in ALLOWED:
        assert ext in message
    assert leftovers(tmp_path, []) == []
    np.testing.assert_allclose(v_of(cells.get_data()), expected_v(), rtol=0, atol=1e-12)


def test_unknown_extension_refused_at_record(tmp_path):
    p = sim.Population(1, sim.LeakyIntegrator())
    with pytest.raises(errors.InvalidParameterValueError, match=r"v\.txt.*\.pkl"):
        p.record("v", to_file=str(tmp_path / "v.txt"))
    assert sim.simulator.state.write_on_end == []


def _unwritable_paths(tmp_path):
    a_file = tmp_path / "plain"
    a_file.write_text("not a directory")
    a_dir = tmp_path / "dir.pkl"
    a_dir.mkdir()
    return {
        "parent is a file": (a_file / "v.pkl", NotADirectoryError),
        "grandparent is a file": (a_file / "sub" / "v.pkl", OSError),
        "target is a directory": (a_dir, IsADirectoryError),
    }


@pytest.mark.parametrize("case", ["parent is a file", "grandparent is a file",
                                  "target is a directory"])
def test_unwritable_path(tmp_path, cells, case):
    target, error = _unwritable_paths(tmp_path)[case]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(error) as info:
        cells.write_data(str(target))
    message = str(info.value)
    assert str(target) in message and ".pkl" in message
    assert sorted(os.listdir(tmp_path)) == before  # nothing left behind
    np.testing.assert_allclose(v_of(cells.get_data()), expected_v(), rtol=0, atol=1e-12)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_directory(tmp_path, cells):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="locked"):
            cells.write_data(str(locked / "v.pkl"))
    finally:
        locked.chmod(0o700)
    assert os.listdir(locked) == []


def test_end_writes_atomically_and_keeps_data_on_failure(tmp_path, monkeypatch):
    p = sim.Population(2, sim.LeakyIntegrator(i_offset=[1.0, 2.0]))
    target = tmp_path / "v.pkl"
    p.record("v", to_file=str(target))
    sim.run(2.0)
    monkeypatch.setattr(neo.io.PickleIO, "write_block", _explode)
    with pytest.raises(Boom):
        sim.end()
    assert leftovers(tmp_path, []) == []
    np.testing.assert_allclose(v_of(p.get_data()), expected_v(), rtol=0, atol=1e-12)
    monkeypatch.undo()
    sim.end()  # retries the pending write
    np.testing.assert_allclose(v_of(read(target)), expected_v(), rtol=0, atol=1e-12)


def test_assembly_write_is_atomic(tmp_path, monkeypatch):
    a = sim.Population(1, sim.LeakyIntegrator(i_offset=1.0))
    b = sim.Population(1, sim.LeakyIntegrator(i_offset=2.0))
    both = a + b
    both.record("v")
    sim.run(2.0)
    target = tmp_path / "both.pkl"
    monkeypatch.setattr(neo.io.PickleIO, "write_block", _explode)
    with pytest.raises(Boom):
        both.write_data(str(target), clear=True)
    assert leftovers(tmp_path, []) == []
    monkeypatch.undo()
    both.write_data(str(target), clear=True)
    np.testing.assert_allclose(v_of(read(target)), expected_v(), rtol=0, atol=1e-12)
    with pytest.raises(errors.InvalidParameterValueError, match=r"both\.txt"):
        both.write_data(str(tmp_path / "both.txt"))


def test_neo_io_instance_still_accepted(tmp_path, cells):
    """A Neo IO made by the caller is written as PyNN does (the caller owns that file)."""
    target = tmp_path / "v.pkl"
    cells.write_data(neo.io.PickleIO(str(target)))
    np.testing.assert_allclose(v_of(read(target)), expected_v(), rtol=0, atol=1e-12)
