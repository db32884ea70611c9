"""Losses: value ``loss(Y, y) -> float`` and gradient ``loss.gradient(Y, y)``.

Every loss is a mean over the batch of a sum over output units, so
``gradient`` is already divided by the batch size n. Outputs Y have shape
(n, k); targets y have the same shape, or — for the classification losses
(CategoricalCrossEntropy, NLLLoss, Hinge) — are integer class indices of
shape (n,).

A loss may name a ``fused_activation``: when a Sequential ends with exactly
that activation, :meth:`Sequential.backward_loss` calls
``loss.fused_gradient(Y, y)``, the gradient with respect to the activation's
*input*, e.g. (y − t)/n for softmax + cross-entropy. That is exact, cheaper
and stable where the chained gradient would divide by a vanishing probability.
"""
import numpy as np

from .activations import LogSoftmax, Sigmoid, Softmax
from neurosim.validation import check_same_length, real_array, renamed_argument
from .layers import _check_float

__all__ = ["Loss", "MSE", "BinaryCrossEntropy", "CategoricalCrossEntropy",
           "NLLLoss", "Hinge", "get_loss"]


def _eps(dtype):
    # Probabilities are clipped to [eps, 1 − eps] before log or division: with
    # the dtype's machine epsilon, log and 1/y stay finite and moderate.
    return np.finfo(dtype).eps


class Loss:
    """Base class. Subclasses implement ``_value`` and ``_gradient``."""

    fused_activation = None
    class_targets = False   # accepts integer class indices as targets

    def _check(self, Y, T):
        if not isinstance(Y, np.ndarray) or Y.dtype.kind != "f":
            Y = real_array("Y", Y, dtype=None, finite=False)
        if Y.ndim != 2 or Y.shape[0] == 0:
            raise ValueError(f"Y: expected a non-empty 2-D array (n_samples, n_outputs), got shape {Y.shape}")
        if T is None:
            raise TypeError("y: expected targets, got None")
        if not isinstance(T, np.ndarray):
            T = np.asarray(T)
        check_same_length("Y", Y, "y", T)
        if self.class_targets and T.ndim == 1 and T.dtype.kind in "iu":
            if T.size and (T.min() < 0 or T.max() >= Y.shape[1]):
                raise ValueError(
                    f"y: class labels must be in [0, {Y.shape[1]}), got range [{T.min()}, {T.max()}]")
            return Y, T
        if T.dtype.kind not in "biuf":
            raise TypeError(f"y: expected a real numeric array, got dtype {T.dtype}")
        if T.shape != Y.shape:
            extra = " (or y integer class labels of shape (n,))" if self.class_targets else ""
            raise ValueError(f"Y and y must have the same shape{extra}: Y has shape {Y.shape}, "
                             f"y has shape {T.shape}")
        if T.dtype != Y.dtype:
            T = T.astype(Y.dtype)   # keep the gradient in the model's dtype
        if not np.isfinite(T).all():
            raise ValueError("y: contains NaN or infinite values")
        return Y, T

    @renamed_argument("T", "y")
    def __call__(self, Y, y):
        """Loss value (mean over the batch).

        Parameters
        ----------
        Y : ndarray, shape (n, k)
            Network outputs.
        y : ndarray, shape (n, k), or int labels (n,) for classification losses
            Targets (``T=`` is a deprecated spelling).

        Returns
        -------
        float
        """
        Y, T = self._check(Y, y)
        return float(self._value(Y, T))

    @renamed_argument("T", "y")
    def gradient(self, Y, y):
        """dL/dY, shape (n, k), same dtype as Y, already divided by n."""
        Y, T = self._check(Y, y)
        return self._gradient(Y, T)

    def fused_gradient(self, Y, y):
        """dL/dZ where Y = fused_activation(Z); shape (n, k), divided by n."""
        raise NotImplementedError(f"{type(self).__name__} has no fused gradient")

    def __repr__(self):
        return f"{type(self).__name__}()"


def _onehot_like(Y, labels):
    T = np.zeros_like(Y)
    T[np.arange(Y.shape[0]), labels] = 1
    return T


class MSE(Loss):
    """Mean over the batch of ½‖y − t‖²; gradient (y − t)/n."""

    def _value(self, Y, T):
        D = Y - T
        return 0.5 * np.einsum("ij,ij->", D, D, dtype=np.float64) / Y.shape[0]

    def _gradient(self, Y, T):
        G = Y - T
        G *= Y.dtype.type(1.0 / Y.shape[0])
        return G


class BinaryCrossEntropy(Loss):
    """Mean over the batch of −Σ_k [t log y + (1 − t) log(1 − y)], y ∈ (0, 1).

    Targets are in [0, 1] with the shape of Y. Fused with a final Sigmoid,
    the gradient with respect to the sigmoid's input is (y − t)/n.
    """

    fused_activation = Sigmoid

    def _check(self, Y, T):
        Y, T = super()._check(Y, T)
        # Outside [0, 1] the loss is unbounded below: training would diverge silently.
        if T.size and (T.min() < 0 or T.max() > 1):
            raise ValueError(f"y: BinaryCrossEntropy targets must be in [0, 1], "
                             f"got range [{T.min()}, {T.max()}]")
        return Y, T

    def _value(self, Y, T):
        e = _eps(Y.dtype)
        Yc = np.clip(Y, e, 1 - e)
        total = np.einsum("ij,ij->", T, np.log(Yc), dtype=np.float64)
        total += np.einsum("ij,ij->", 1 - T, np.log1p(-Yc), dtype=np.float64)
        return -total / Y.shape[0]

    def _gradient(self, Y, T):
        e = _eps(Y.dtype)
        Yc = np.clip(Y, e, 1 - e)
        G = Yc - T
        G /= Yc * (1 - Yc) * Y.shape[0]
        return G

    def fused_gradient(self, Y, y):
        Y, T = self._check(Y, y)
        G = Y - T
        G *= Y.dtype.type(1.0 / Y.shape[0])
        return G


class CategoricalCrossEntropy(Loss):
    """Mean over the batch of −Σ_k t_k log y_k, for probabilities Y (softmax output).

    Targets are one-hot (or any distributions) of Y's shape, or integer class
    indices (n,). Fused with a final Softmax, the gradient with respect to the
    softmax input is (y Σ_k t_k − t)/n, i.e. (y − t)/n for one-hot targets.
    """

    fused_activation = Softmax
    class_targets = True

    def _value(self, Y, T):
        e = _eps(Y.dtype)
        if T.ndim == 1:
            p = Y[np.arange(Y.shape[0]), T]
            return -np.log(np.maximum(p, e)).sum(dtype=np.float64) / Y.shape[0]
        return -np.einsum("ij,ij->", T, np.log(np.maximum(Y, e)), dtype=np.float64) / Y.shape[0]

    def _gradient(self, Y, T):
        if T.ndim == 1:
            T = _onehot_like(Y, T)
        G = T / np.maximum(Y, _eps(Y.dtype))
        G *= Y.dtype.type(-1.0 / Y.shape[0])
        return G

    def fused_gradient(self, Y, y):
        Y, T = self._check(Y, y)
        scale = Y.dtype.type(1.0 / Y.shape[0])
        if T.ndim == 1:
            G = Y * scale
            G[np.arange(Y.shape[0]), T] -= scale
            return G
        G = Y * T.sum(axis=1, keepdims=True)   # softmax Jacobian: y Σt − t
        G -= T
        G *= scale
        return G


class NLLLoss(Loss):
    """Negative log-likelihood for log-probabilities Y (LogSoftmax output):
    mean over the batch of −Σ_k t_k y_k.

    Targets as for CategoricalCrossEntropy. Fused with a final LogSoftmax,
    the gradient with respect to its input is (e^y Σ_k t_k − t)/n.
    """

    fused_activation = LogSoftmax
    class_targets = True

    def _value(self, Y, T):
        if T.ndim == 1:
            return -Y[np.arange(Y.shape[0]), T].sum(dtype=np.float64) / Y.shape[0]
        return -np.einsum("ij,ij->", T, Y, dtype=np.float64) / Y.shape[0]

    def _gradient(self, Y, T):
        if T.ndim == 1:
            T = _onehot_like(Y, T)
        return T * Y.dtype.type(-1.0 / Y.shape[0])

    def fused_gradient(self, Y, y):
        Y, T = self._check(Y, y)
        if T.ndim == 1:
            T = _onehot_like(Y, T)
        G = np.exp(Y)
        G *= T.sum(axis=1, keepdims=True)
        G -= T
        G *= Y.dtype.type(1.0 / Y.shape[0])
        return G


class Hinge(Loss):
    """Multiclass max-margin loss: mean over the batch of
    Σ_{c ≠ true} max(0, Δ + s_c − s_true), for raw scores Y.

    Parameters
    ----------
    margin : float > 0
        Δ (default 1).

    Targets are integer class indices (n,) or one-hot rows (argmax is used).
    """

    class_targets = True

    def __init__(self, margin=1.0):
        self.margin = _check_float(margin, "margin", 0.0, low_open=True)

    def _margins(self, Y, T):
        labels = T if T.ndim == 1 else T.argmax(axis=1)
        rows = np.arange(Y.shape[0])
        M = Y - Y[rows, labels][:, None]
        M += Y.dtype.type(self.margin)
        np.maximum(M, 0, out=M)
        M[rows, labels] = 0
        return M, rows, labels

    def _value(self, Y, T):
        M, _, _ = self._margins(Y, T)
        return M.sum(dtype=np.float64) / Y.shape[0]

    def _gradient(self, Y, T):
        M, rows, labels = self._margins(Y, T)
        G = (M > 0).astype(Y.dtype)
        G[rows, labels] = -G.sum(axis=1)
        G *= Y.dtype.type(1.0 / Y.shape[0])
        return G

    def __repr__(self):
        return f"Hinge(margin={self.margin})"


_LOSSES = {"mse": MSE, "binarycrossentropy": BinaryCrossEntropy, "bce": BinaryCrossEntropy,
           "categoricalcrossentropy": CategoricalCrossEntropy, "crossentropy": CategoricalCrossEntropy,
           "nllloss": NLLLoss, "nll": NLLLoss, "hinge": Hinge}


def get_loss(name, **kwargs):
    """Build a loss by name (``"mse"``, ``"bce"``, ``"cross_entropy"``, ``"nll"``,
    ``"hinge"``, or a class name; case- and underscore-insensitive).

    Returns
    -------
    Loss
    """
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name: expected a loss name, got {type(name).__name__}")
    key = name.lower().replace("_", "").replace("-", "")
    if key not in _LOSSES:
        raise ValueError(f"name: unknown loss {name!r}; allowed: {sorted(_LOSSES)}")
    return _LOSSES[key](**kwargs)
