"""neurosim.io.atomic_write: the written file looks as if written in place (mode, umask, symlinks)."""
import os
import stat

import numpy as np
import pytest

from neurosim.io import atomic_write

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and symlinks")


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@posix
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_0666_minus_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "a.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.bin") == 0o666 & ~umask


@posix
@pytest.mark.parametrize("mode", [0o644, 0o600, 0o640, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "a.txt"
    path.write_text("old")
    os.chmod(path, mode)
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new" and _mode(path) == mode


@posix
def test_a_symlink_is_kept_and_its_target_written(tmp_path):
    real = tmp_path / "data" / "model.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    chain = tmp_path / "chain.npz"          # a link to a link
    chain.symlink_to(link)
    with atomic_write(chain) as f:
        f.write(b"new")
    assert chain.is_symlink() and link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new" and _mode(real) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["model.npz"]  # no stray temporary


@posix
def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "out.png"
    link.symlink_to(tmp_path / "real.png")
    with atomic_write(link) as f:
        f.write(b"png")
    assert link.is_symlink() and (tmp_path / "real.png").read_bytes() == b"png"


@posix
def test_sequential_save_respects_umask_mode_and_links(tmp_path):
    import ratenet
    model = ratenet.Sequential([ratenet.Dense(2, 1)])
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "m.npz") == 0o644
    os.chmod(tmp_path / "m.npz", 0o664)
    (tmp_path / "l.npz").symlink_to(tmp_path / "m.npz")
    model.save(tmp_path / "l.npz")
    assert (tmp_path / "l.npz").is_symlink() and _mode(tmp_path / "m.npz") == 0o664
    assert np.array_equal(ratenet.load(tmp_path / "l.npz").predict(np.ones((1, 2))), model.predict(np.ones((1, 2))))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@posix
def test_the_standalone_runner_saves_with_the_same_modes_and_links(tmp_path):
    from neurosim.export.pynn.runner import save   # its own copy: generated scripts do not import neurosim
    old = os.umask(0o022)
    try:
        save(str(tmp_path / "new.npz"), {"a": np.arange(3)})
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.npz") == 0o644
    os.chmod(tmp_path / "new.npz", 0o640)
    (tmp_path / "link.npz").symlink_to(tmp_path / "new.npz")
    save(str(tmp_path / "link.npz"), {"a": np.arange(4)})
    assert (tmp_path / "link.npz").is_symlink() and _mode(tmp_path / "new.npz") == 0o640
    assert np.load(tmp_path / "new.npz")["a"].size == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "new.npz"]
