"""``BatchNorm``: batch normalization over features (2-D batches) or channels (image batches)."""
import numpy as np

from ..parameter import Parameter
from neurosim.validation import check_alloc, check_bool, check_int
from .base import Layer, _check_dtype, _check_float, backward_args, check_batch

__all__ = ["BatchNorm"]


class BatchNorm(Layer):
    """Batch normalization, ``Y = γ (X − μ)/sqrt(σ² + eps) + β``, per feature or per channel.

    A 2-D batch (n_samples, n_features) is normalized per feature over the
    samples (torch's ``BatchNorm1d``); an image batch (n_samples, C, H, W) per
    channel over the samples and pixels (torch's ``BatchNorm2d``), with
    ``n_features = C``. Training uses the batch mean and (biased) variance and
    updates the running statistics ``running = (1 − momentum) running + momentum · batch``
    (the running variance uses the unbiased batch variance, m/(m − 1) times the
    biased one, m the number of values per statistic); evaluation uses the
    running statistics.

    Parameters
    ----------
    n_features : int
        Features (2-D input) or channels (image input).
    momentum : float in (0, 1]
        Weight of the new batch in the running statistics (torch's convention).
    eps : float > 0
    dtype : {numpy.float32, numpy.float64}
    """

    _buffers = ("running_mean", "running_var")
    fresh_output = True
    fresh_grad = True

    def __init__(self, n_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        self.n_features = check_int("n_features", n_features, low=1)
        check_alloc("n_features", n_features, n_features, 8)
        self.momentum = _check_float(momentum, "momentum", 0.0, 1.0, low_open=True)
        self.eps = _check_float(eps, "eps", 0.0, low_open=True)
        self.dtype = _check_dtype(dtype)
        self.gamma = Parameter(np.ones(n_features), "gamma", dtype=self.dtype)
        self.beta = Parameter(np.zeros(n_features), "beta", dtype=self.dtype)
        self.running_mean = np.zeros(n_features, dtype=self.dtype)
        self.running_var = np.ones(n_features, dtype=self.dtype)
        self._cache = None

    def parameters(self):
        return [self.gamma, self.beta]

    @classmethod
    def state_shapes(cls, config):
        n = (check_int("n_features", config.get("n_features"), low=1),)
        return {"gamma": n, "beta": n, "running_mean": n, "running_var": n}

    def input_features(self):
        return self.n_features

    def accepts(self, shape):
        if isinstance(shape, tuple):
            return len(shape) == 3 and shape[0] in (None, self.n_features)
        return shape is None or shape == self.n_features

    def _check(self, X):
        if type(X) is np.ndarray and X.dtype == self.dtype and X.ndim in (2, 4) and X.shape[1] == self.n_features:
            return X
        if np.ndim(X) == 4:
            return check_batch(X, (self.n_features, None, None), self.dtype, check_finite=False)
        return check_batch(X, self.n_features, self.dtype, check_finite=False)

    def forward(self, X, training=False):
        """(n_samples, n_features) or (n_samples, C, H, W) → the same shape."""
        if training is not False and training is not True:
            training = check_bool("training", training)
        X = self._check(X)
        # Per-channel vectors broadcast as (C,) on 2-D batches and (C, 1, 1) on images.
        shape = (-1,) + (1,) * (X.ndim - 2)
        axes = (0,) if X.ndim == 2 else (0, 2, 3)
        if training:
            m = X.size // self.n_features            # values per statistic
            if m < 2:
                raise ValueError("X: BatchNorm in training needs at least 2 values per "
                                 f"{'feature' if X.ndim == 2 else 'channel'}, got shape {X.shape}")
            mean = X.mean(axis=axes)
            xhat = X - mean.reshape(shape)
            var = _sum_sq(xhat, axes) / m
            inv_std = 1.0 / np.sqrt(var + self.eps)
            mom = self.momentum
            self.running_mean *= 1 - mom
            self.running_mean += mom * mean
            self.running_var *= 1 - mom
            self.running_var += (mom * m / (m - 1)) * var
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            xhat = X - self.running_mean.reshape(shape)
        xhat *= inv_std.reshape(shape)
        self._cache = (xhat, inv_std, training, axes, shape)
        return xhat * self.gamma.data.reshape(shape) + self.beta.data.reshape(shape)

    def backward(self, dY, input_grad=True):
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        xhat, inv_std, training, axes, shape = self._cache
        dY, input_grad = backward_args(dY, input_grad, xhat.shape)
        if dY.ndim == 2:
            dgamma = np.einsum("ij,ij->j", dY, xhat, out=self.gamma.grad)
            dbeta = np.add.reduce(dY, axis=0, out=self.beta.grad)
        else:
            dgamma = np.einsum("ijkl,ijkl->j", dY, xhat, out=self.gamma.grad)
            dbeta = np.sum(dY, axis=axes, out=self.beta.grad)
        if not input_grad:
            return None
        scale = (self.gamma.data * inv_std).reshape(shape)
        if not training:
            return dY * scale
        # d/dX of the batch statistics: remove the mean and the xhat-component.
        m = dY.size // self.n_features
        dX = dY - (dbeta / m).reshape(shape)
        dX -= xhat * (dgamma / m).reshape(shape)
        dX *= scale
        return dX


def _sum_sq(x, axes):
    """Σ x² over ``axes`` per feature/channel (one pass, no temporary of x's size)."""
    return np.einsum("ij,ij->j", x, x) if x.ndim == 2 else np.einsum("ijkl,ijkl->j", x, x)
