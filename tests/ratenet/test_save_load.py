"""Model files: atomic saves, names, and defensive loading of crafted files."""
import errno
import io
import json
import os
import subprocess
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

import ratenet
from ratenet import Dense, ReLU, Sequential


def _model(seed=0, width=3):
    return Sequential([Dense(2, width, rng=seed), ReLU(), Dense(width, 2, rng=seed + 1)])


X = np.random.default_rng(5).standard_normal((4, 2)).astype(np.float32)


# ------------------------------------------------------------------ names
def test_load_accepts_every_name_save_accepted(tmp_path):
    m = _model()
    written = m.save(tmp_path / "m")
    assert written == str(tmp_path / "m.npz") and os.path.exists(written)
    assert not os.path.exists(tmp_path / "m")
    np.testing.assert_array_equal(ratenet.load(tmp_path / "m").predict(X), m.predict(X))
    np.testing.assert_array_equal(ratenet.load(str(tmp_path / "m.npz")).predict(X), m.predict(X))
    assert os.listdir(tmp_path) == ["m.npz"]          # no temporary file left behind


@pytest.mark.parametrize("bad", ["", ".", "..", "dir/"])
def test_save_refuses_names_that_are_not_files(tmp_path, bad):
    with pytest.raises(ValueError, match="path"):
        _model().save(bad)
    with pytest.raises(TypeError, match="path"):
        _model().save(12)


def test_load_os_errors_propagate(tmp_path):
    with pytest.raises(FileNotFoundError):
        ratenet.load(tmp_path / "nope.npz")
    with pytest.raises(IsADirectoryError):
        ratenet.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        _model().save(tmp_path / "missing_dir" / "m.npz")


# ---------------------------------------------------------- atomic writes
def _saved(tmp_path):
    path = tmp_path / "model.npz"
    old = _model(seed=0)
    old.save(path)
    return path, old


def _assert_old_intact(path, old):
    np.testing.assert_array_equal(ratenet.load(path).predict(X), old.predict(X))
    assert sorted(os.listdir(path.parent)) == [path.name]


def test_exception_during_write_keeps_previous_file(tmp_path, monkeypatch):
    path, old = _saved(tmp_path)
    real = np.lib.format.write_array
    calls = []

    def write_then_interrupt(fp, array, *a, **k):
        calls.append(1)
        if len(calls) == 2:        # second array: part of the new file is already written
            fp.write(b"\0" * 100)
            raise KeyboardInterrupt
        return real(fp, array, *a, **k)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _model(seed=7).save(path)
    monkeypatch.undo()
    _assert_old_intact(path, old)


def test_full_disk_keeps_previous_file(tmp_path, monkeypatch):
    path, old = _saved(tmp_path)
    import neurosim.io as nio

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nio.os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        _model(seed=7).save(path)
    monkeypatch.undo()
    _assert_old_intact(path, old)


def test_tiny_filesystem_keeps_previous_file(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root in a privileged container)")
    try:
        path = mnt / "model.npz"
        old = _model(seed=0, width=3)
        old.save(path)
        with pytest.raises(OSError):
            _model(seed=1, width=400).save(path)       # ~10 kB of weights: does not fit twice
        _assert_old_intact(path, old)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_two_writers_and_a_reader_never_see_a_torn_file(tmp_path):
    path = tmp_path / "shared.npz"
    models = [_model(seed=0, width=64), _model(seed=1, width=64)]
    models[0].save(path)
    expected = [m.predict(X) for m in models]
    errors, stop = [], threading.Event()

    def writer(m):
        try:
            for _ in range(25):
                m.save(path)
        except Exception as exc:          # pragma: no cover - reported below
            errors.append(exc)

    def reader():
        n = 0
        while not stop.is_set() or n < 5:
            try:
                got = ratenet.load(path).predict(X)
            except Exception as exc:      # pragma: no cover - reported below
                errors.append(exc)
                return
            assert any(np.array_equal(got, e) for e in expected)
            n += 1

    threads = [threading.Thread(target=writer, args=(m,)) for m in models]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert errors == []
    assert sorted(os.listdir(tmp_path)) == ["shared.npz"]


# ------------------------------------------------------------ crafted files
def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()


def _header_only(shape, dtype="<f4"):
    """An .npy member that declares ``shape`` but stores no data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _arch(layers, version=1):
    return {"format": "ratenet.Sequential", "version": version, "layers": layers}


def _write(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
    return path


def _meta(arch):
    return {"__ratenet__": _npy(np.array(json.dumps(arch))), "__version__": _npy(np.array(1, np.int64))}


def test_small_file_declaring_a_huge_layer_is_refused_before_allocating(tmp_path):
    arch = _arch([{"class": "Dense", "config": {"n_in": 20000, "n_out": 20000, "dtype": "float32", "bias": True}}])
    path = _write(tmp_path / "huge.npz", {**_meta(arch), "0.W": _npy(np.zeros((2, 2), np.float32)),
                                          "0.b": _npy(np.zeros(2, np.float32))})
    assert path.stat().st_size < 2000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="shape"):
            ratenet.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5e6, f"load allocated {peak / 1e6:.0f} MB for a 1 kB file"


def test_declared_shape_must_match_the_stored_bytes(tmp_path):
    arch = _arch([{"class": "Dense", "config": {"n_in": 2000, "n_out": 2000, "dtype": "float32", "bias": False}}])
    path = _write(tmp_path / "lie.npz", {**_meta(arch), "0.W": _header_only((2000, 2000))})
    with pytest.raises(ValueError, match="stores"):
        ratenet.load(path)


def test_size_limit_names_its_parameter(tmp_path):
    m = _model(width=300)
    m.save(tmp_path / "big.npz")
    with pytest.raises(ValueError, match="max_bytes"):
        ratenet.load(tmp_path / "big.npz", max_bytes=1000)
    np.testing.assert_array_equal(ratenet.load(tmp_path / "big.npz").predict(X), m.predict(X))


def test_zip_bomb_in_an_unused_entry_is_never_read(tmp_path, monkeypatch):
    m = _model()
    m.save(tmp_path / "good.npz")
    with zipfile.ZipFile(tmp_path / "good.npz") as zf:
        members = {n[:-4]: zf.read(n) for n in zf.namelist()}
    members["bomb"] = _npy(np.zeros(50_000_000, np.uint8))     # 50 MB of zeros, ~50 kB deflated
    path = _write(tmp_path / "bomb.npz", members, compress=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or real_open(self, name, *a, **k))
    np.testing.assert_array_equal(ratenet.load(path).predict(X), m.predict(X))
    assert "bomb.npy" not in opened and opened


def test_deep_json_and_bad_versions_are_value_errors(tmp_path):
    deep = "[" * 100000 + "]" * 100000
    path = _write(tmp_path / "deep.npz", {"__ratenet__": _npy(np.array(deep)),
                                          "__version__": _npy(np.array(1, np.int64))})
    with pytest.raises(ValueError, match="nested"):
        ratenet.load(path)
    arch = _arch([{"class": "ReLU", "config": {}}], version=2)
    path = _write(tmp_path / "v.npz", _meta(arch))
    with pytest.raises(ValueError, match="version"):
        ratenet.load(path)
    arch = _arch([{"class": "ReLU", "config": {}}], version="1")
    with pytest.raises(ValueError, match="version"):
        ratenet.load(_write(tmp_path / "v2.npz", _meta(arch)))
    ok = _write(tmp_path / "ok.npz", _meta(_arch([{"class": "ReLU", "config": {}}])))
    assert isinstance(ratenet.load(ok)[0], ReLU)


def test_object_arrays_are_refused_without_mentioning_pickle(tmp_path):
    m = _model()
    m.save(tmp_path / "good.npz")
    with zipfile.ZipFile(tmp_path / "good.npz") as zf:
        members = {n[:-4]: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    members["0.W"] = buf.getvalue()
    with pytest.raises(ValueError) as info:
        ratenet.load(_write(tmp_path / "obj.npz", members))
    assert "pickle" not in str(info.value)


class _Scale(ratenet.Layer):
    """A custom layer with a parameter and no state_shapes: built first, then checked."""

    def __init__(self, n):
        self.n = n
        self.s = ratenet.Parameter(np.full(n, 2.0, np.float32), "s")

    def parameters(self):
        return [self.s]

    def forward(self, X, training=False):
        return X * self.s.data


def test_custom_layer_with_parameters_round_trips(tmp_path):
    m = Sequential([Dense(2, 3, rng=0), _Scale(3)])
    m[1].s.data[:] = [1.0, -2.0, 3.0]
    path = m.save(tmp_path / "custom")
    loaded = ratenet.load(path)
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    with pytest.raises(ValueError, match="max_bytes"):
        ratenet.load(path, max_bytes=30)
