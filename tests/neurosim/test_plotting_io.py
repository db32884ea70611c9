"""neurosim.plotting.save_figure: checked arguments, atomic write, the previous file kept on failure."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from neurosim import fit_lif
from neurosim.plotting import save_figure


@pytest.mark.parametrize("kwargs, err", [
    (dict(fig=1), TypeError), (dict(path=None), TypeError), (dict(path=""), ValueError),
    (dict(dpi=float("nan")), ValueError), (dict(dpi=0), ValueError), (dict(dpi="high"), TypeError)])
def test_save_figure_rejects_bad_arguments(tmp_path, kwargs, err):
    fig = plt.figure()
    args = dict(fig=fig, path=str(tmp_path / "a.png"), dpi=50)
    args.update(kwargs)
    with pytest.raises(err):
        save_figure(**args)
    plt.close(fig)


def test_save_figure_refuses_a_folder_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    fig = plt.figure()
    with pytest.raises(ValueError, match="folder"):
        save_figure(fig, tmp_path)
    target = tmp_path / "a.png"
    assert save_figure(fig, target, dpi=40) == str(target)
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError):
        save_figure(fig, target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    plt.close(fig)


@pytest.mark.parametrize("bad, err", [("x", TypeError), (1j, TypeError), (np.nan, ValueError), (None, TypeError)])
def test_lif_fit_J_checks_its_input(bad, err):
    I = np.linspace(0, 50, 20)
    with pytest.warns(RuntimeWarning):
        fit = fit_lif(I, np.maximum(0, np.linspace(-10, 100, 20)))
    with pytest.raises(err, match="I"):
        fit.J(bad)
    np.testing.assert_allclose(fit.J(np.float32(2.0)), fit.gain * 2.0 + fit.bias, rtol=1e-7)
