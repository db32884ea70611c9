"""Data handling: preprocessing fitted on training data, splits, mini-batches, toy datasets.

Preprocessors follow the ``fit`` / ``transform`` pattern: fit them on the
training set only and apply the same transform to validation and test data,
otherwise test statistics leak into training.

The toy datasets are classic teaching problems: XOR (Minsky & Papert 1969), the noisy discrete mapping
(class prototypes plus Gaussian noise) and the dose -> blood-sugar regression
with few training and many test points (to show overfitting and its cures).
"""
import numpy as np

from neurosim.validation import as_rng, check_alloc, check_bool, check_float_dtype, check_int, check_number, check_same_length, real_array, renamed_argument
from .layers import check_batch

from .activations import one_hot  # noqa: F401  (re-exported: one definition, in activations)

__all__ = ["Standardizer", "PCAWhitening", "ZCAWhitening", "train_test_split", "train_val_test_split",
           "one_hot", "batches", "xor", "noisy_mapping", "dose_sugar", "dose_sugar_curve", "load_digits_split"]


def _matrix(X, name="X"):
    return check_batch(X, None, None, name)


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
