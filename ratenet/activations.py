"""Activation functions as layers.

An activation is a :class:`Activation` subclass that implements only
``function(z)`` and ``derivative(z)`` (elementwise dy/dz); the base class turns
them into a layer whose backward pass multiplies by the derivative. That is
also the extension point for neuron-model activations (LIF rate curves,
measured tuning curves): subclass, implement the two methods, store the
constructor arguments as attributes of the same name, done — the activation
can then be plotted, trained through, saved and loaded.

Some classes override forward/backward for speed (ReLU works in place inside a
Sequential, Sigmoid/Tanh reuse their output) or because the layer is not
elementwise (Softmax and LogSoftmax backpropagate with a Jacobian-vector
product; their ``derivative`` is the Jacobian's diagonal, for plotting).
"""
import numpy as np
from scipy.special import expit

from neurosim.validation import check_alloc, check_bool, check_dtype, check_int, check_number, real_array
from .layers import LAYER_REGISTRY, Layer, _check_float, backward_args

__all__ = [
    "Activation", "Identity", "Step", "Sigmoid", "Tanh", "HardTanh", "Softsign",
    "ReLU", "LeakyReLU", "Softplus", "Softmax", "LogSoftmax",
    "get_activation", "one_hot", "argmax", "to_labels",
]


def _as_float_array(z, name="z"):
    if type(z) is np.ndarray and z.dtype.kind == "f":
        return z
    return real_array(name, z, dtype=None, finite=False)


class Activation(Layer):
    """Elementwise activation ``y = f(z)`` defined by ``function`` and ``derivative``.

    Subclasses implement

    - ``function(z)``: ndarray of any shape → ndarray of the same shape,
    - ``derivative(z)``: dy/dz at ``z``, same shape.
    """

    def function(self, z):
        """f(z), elementwise. z: ndarray (any shape) → same shape."""
        raise NotImplementedError

    def derivative(self, z):
        """f'(z), elementwise. z: ndarray (any shape) → same shape."""
        raise NotImplementedError

    def forward(self, X, training=False):
        """(n_samples, n) → (n_samples, n)."""
        if training is not False and training is not True:
            check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = _as_float_array(X, "X")
        self._z = X
        return self.function(X)

    def backward(self, dY, input_grad=True):
        """dE/dX = dE/dY · f'(z) for the z of the last forward."""
        z = getattr(self, "_z", None)
        if z is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, z.shape)
        if not input_grad:
            return None
        d = self.derivative(z)
        if self._inplace_grad:
            np.multiply(dY, d, out=dY)
            return dY
        return dY * d


class Identity(Activation):
    """y = z (a linear output layer)."""

    def function(self, z):
        return _as_float_array(z)

    def derivative(self, z):
        return np.ones_like(_as_float_array(z))

    def forward(self, X, training=False):
        if training is not False and training is not True:
            check_bool("training", training)
        X = _as_float_array(X, "X")
        self._shape = X.shape
        return X

    def backward(self, dY, input_grad=True):
        dY, input_grad = backward_args(dY, input_grad, getattr(self, "_shape", None))
        return dY if input_grad else None


class Step(Activation):
    """Heaviside step: y = 1 for z > 0, else 0 (the perceptron's threshold unit).

    Its derivative is zero almost everywhere, so it can only be used for
    prediction: ``forward(training=True)`` and ``backward`` raise ValueError.
    """

    _MSG = ("Step has a zero derivative almost everywhere and cannot be trained "
            "with backprop; train with Sigmoid/Tanh/HardTanh and use Step only "
            "for prediction (training=False)")

    def function(self, z):
        z = _as_float_array(z)
        return (z > 0).astype(z.dtype)

    def derivative(self, z):
        return np.zeros_like(_as_float_array(z))

    def forward(self, X, training=False):
        if check_bool("training", training):
            raise ValueError(self._MSG)
        return super().forward(X)

    def backward(self, dY, input_grad=True):
        raise ValueError(self._MSG)


class Sigmoid(Activation):
    """Logistic sigmoid y = 1 / (1 + e^(−z)); y' = y (1 − y)."""

    fresh_grad = True

    def function(self, z):
        z = _as_float_array(z)
        return expit(z)

    def derivative(self, z):
        z = _as_float_array(z)
        y = expit(z)
        return y * (1 - y)

    def forward(self, X, training=False):
        if training is not False and training is not True:
            check_bool("training", training)
        self._y = expit(_as_float_array(X, "X"))
        return self._y

    def backward(self, dY, input_grad=True):
        y = getattr(self, "_y", None)
        if y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, y.shape)
        if not input_grad:
            return None
        y = self._y
        dX = dY * y if not self._inplace_grad else np.multiply(dY, y, out=dY)
        dX -= dX * y                     # dY·y·(1 − y)
        return dX


class Tanh(Activation):
    """Hyperbolic tangent; y' = 1 − y²."""

    fresh_grad = True

    def function(self, z):
        z = _as_float_array(z)
        return np.tanh(z)

    def derivative(self, z):
        z = _as_float_array(z)
        return 1 - np.tanh(z) ** 2

    def forward(self, X, training=False):
        if training is not False and training is not True:
            check_bool("training", training)
        self._y = np.tanh(_as_float_array(X, "X"))
        return self._y

    def backward(self, dY, input_grad=True):
        y = getattr(self, "_y", None)
        if y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, y.shape)
        if not input_grad:
            return None
        y = self._y
        d = y * y
        np.subtract(1, d, out=d)
        if self._inplace_grad:
            dY *= d
            return dY
        d *= dY
        return d


class HardTanh(Activation):
    """y = clip(z, −1, 1); y' = 1 inside (−1, 1), 0 outside."""

    def function(self, z):
        z = _as_float_array(z)
        return np.clip(z, -1, 1)

    def derivative(self, z):
        z = _as_float_array(z)
        return (np.abs(z) < 1).astype(z.dtype)


class Softsign(Activation):
    """y = z / (1 + |z|); y' = 1 / (1 + |z|)²."""

    def function(self, z):
        z = _as_float_array(z)
        return z / (1 + np.abs(z))

    def derivative(self, z):
        z = _as_float_array(z)
        return 1 / (1 + np.abs(z)) ** 2


class ReLU(Activation):
    """Rectified linear unit y = max(z, 0); y' = 1 for z > 0, else 0."""

    fresh_grad = True

    def function(self, z):
        z = _as_float_array(z)
        return np.maximum(z, 0)

    def derivative(self, z):
        z = _as_float_array(z)
        return (z > 0).astype(z.dtype)

    def forward(self, X, training=False):
        if training is not False and training is not True:
            check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = _as_float_array(X, "X")
        # In a Sequential after Dense, X is a fresh array nobody else holds.
        self._y = np.maximum(X, 0, out=X if self._inplace_in else None)
        return self._y

    def backward(self, dY, input_grad=True):
        y = getattr(self, "_y", None)
        if y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, y.shape)
        if not input_grad:
            return None
        mask = self._y > 0
        if self._inplace_grad:
            np.multiply(dY, mask, out=dY)
            return dY
        return dY * mask


class LeakyReLU(Activation):
    """y = z for z > 0, else slope·z.

    Parameters
    ----------
    slope : float
        Gradient for negative inputs (finite).
    """

    def __init__(self, slope=0.01):
        self.slope = _check_float(slope, "slope")

    def function(self, z):
        z = _as_float_array(z)
        return np.where(z > 0, z, z * z.dtype.type(self.slope))

    def derivative(self, z):
        z = _as_float_array(z)
        return np.where(z > 0, z.dtype.type(1), z.dtype.type(self.slope))


class Softplus(Activation):
    """y = log(1 + e^z), computed without overflow; y' = sigmoid(z)."""

    def function(self, z):
        return np.logaddexp(0, _as_float_array(z))

    def derivative(self, z):
        z = _as_float_array(z)
        return expit(z)


def _over_last_axis(z):
    """``z`` is a valid argument of a row-wise (last-axis) function; True if it is empty."""
    if z.ndim == 0:
        raise ValueError("z: softmax is taken over the last axis (the classes); got a 0-d array, "
                         "pass at least one axis, e.g. z.reshape(1, -1)")
    return z.size == 0


def _softmax(z):
    if _over_last_axis(z):
        return np.empty_like(z)   # no rows, or rows of no classes: an empty result of z's shape
    e = z - z.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def _log_softmax(z):
    if _over_last_axis(z):
        return np.empty_like(z)
    s = z - z.max(axis=-1, keepdims=True)
    s -= np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return s


class Softmax(Activation):
    """Row-wise softmax y_k = e^(z_k) / Σ_j e^(z_j) (max-subtracted, no overflow).

    ``derivative`` returns the Jacobian diagonal y(1 − y) for plotting;
    ``backward`` uses the full Jacobian-vector product y ⊙ (dY − ⟨dY, y⟩).
    With CategoricalCrossEntropy, Sequential skips this backward and uses
    the fused gradient (y − t)/n.
    """

    def function(self, z):
        return _softmax(_as_float_array(z))

    def derivative(self, z):
        y = self.function(z)
        return y * (1 - y)

    def forward(self, X, training=False):
        if training is not False and training is not True:
            check_bool("training", training)
        self._y = _softmax(_as_float_array(X, "X"))
        return self._y

    def backward(self, dY, input_grad=True):
        y = getattr(self, "_y", None)
        if y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, y.shape)
        if not input_grad:
            return None
        y = self._y
        dX = dY - np.einsum("ij,ij->i", dY, y)[:, None]
        dX *= y
        return dX


class LogSoftmax(Activation):
    """Row-wise log-softmax y_k = z_k − log Σ_j e^(z_j), via logsumexp.

    ``derivative`` returns the Jacobian diagonal 1 − softmax(z); ``backward``
    uses dY − softmax(z) Σ_k dY_k. Pair with NLLLoss (fused automatically).
    """

    def function(self, z):
        return _log_softmax(_as_float_array(z))

    def derivative(self, z):
        return 1 - _softmax(_as_float_array(z))

    def forward(self, X, training=False):
        if training is not False and training is not True:
            check_bool("training", training)
        self._y = _log_softmax(_as_float_array(X, "X"))
        return self._y

    def backward(self, dY, input_grad=True):
        y = getattr(self, "_y", None)
        if y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, y.shape)
        if not input_grad:
            return None
        return dY - np.exp(self._y) * dY.sum(axis=1, keepdims=True)


_ALIASES = {"linear": "identity", "logistic": "sigmoid", "heaviside": "step",
            "leaky": "leakyrelu", "lrelu": "leakyrelu"}


def _key(name):
    return name.lower().replace("_", "").replace("-", "")


def get_activation(name, **kwargs):
    """Build an activation by name, e.g. ``get_activation("leaky_relu", slope=0.1)``.

    Parameters
    ----------
    name : str or Activation
        Class name, case-, dash- and underscore-insensitive (``"relu"``,
        ``"LeakyReLU"``, ``"log_softmax"``); aliases ``linear``, ``logistic``,
        ``heaviside``. Any imported ``Activation`` subclass is found. An
        Activation instance is returned unchanged.
    **kwargs
        Constructor arguments.

    Returns
    -------
    Activation
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name: expected an activation name, got {type(name).__name__}")
    key = _ALIASES.get(_key(name), _key(name))
    table = {_key(n): c for n, c in LAYER_REGISTRY.items()
             if issubclass(c, Activation) and c is not Activation}
    if key not in table:
        raise ValueError(f"name: unknown activation {name!r}; allowed: {sorted(table)}")
    return table[key](**kwargs)


def one_hot(labels, n_classes=None, dtype=np.float32):
    """One-hot encode integer class labels.

    Parameters
    ----------
    labels : array_like of int, shape (n_samples,)
        Values in [0, n_classes). Integral floats are accepted.
    n_classes : int, optional
        Defaults to ``max(labels) + 1``.
    dtype : numpy dtype

    Returns
    -------
    ndarray, shape (n_samples, n_classes)
    """
    dtype = check_dtype("dtype", dtype)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels: expected a 1-D array, got shape {labels.shape}")
    if labels.dtype.kind == "f":
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise ValueError("labels: expected integer class labels, got non-integral floats")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class labels, got dtype {labels.dtype}")
    labels = labels.astype(np.intp)
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    n_classes = check_int("n_classes", n_classes, low=1)
    check_alloc("n_classes", n_classes, labels.size * n_classes, dtype.itemsize)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels: values must be in [0, {n_classes}), got range "
            f"[{labels.min()}, {labels.max()}]")
    out = np.zeros((labels.size, n_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def argmax(Y):
    """Index of the largest entry of each row. Y: (n_samples, n) → (n_samples,) int."""
    Y = real_array("Y", Y, dtype=None, ndim=2, finite=True, allow_empty=False)
    return Y.argmax(axis=1)


def to_labels(Y, threshold=0.5):
    """Class labels from network outputs (the one implementation; ``fit`` and
    ``evaluate`` count accuracy with it).

    Parameters
    ----------
    Y : array_like, shape (n_samples, n_classes) or (n_samples, 1)
        With one column (a sigmoid output) the label is ``Y > threshold``;
        otherwise the row argmax.
    threshold : float
        Finite.

    Returns
    -------
    ndarray of int, shape (n_samples,)
    """
    threshold = check_number("threshold", threshold)
    Y = real_array("Y", Y, dtype=None, ndim=2, finite=False, allow_empty=False)
    if not np.isfinite(Y).all():
        raise ValueError("Y: contains NaN or inf; a non-finite output has no class label")
    return _labels(Y, threshold)


def _labels(Y, threshold):
    """Unchecked :func:`to_labels` for internal callers (Y 2-D float)."""
    if Y.shape[1] == 1:
        return (Y[:, 0] > threshold).astype(np.intp)
    return Y.argmax(axis=1)
