"""``Dropout``: inverted dropout (identity in evaluation)."""
import numpy as np

from .. import initializers
from neurosim.validation import check_bool, real_array
from .base import Layer, _check_float, backward_args

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate``
    and scale survivors by 1/(1 − rate), so the expected output equals the
    input; in evaluation the layer is the identity.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of dropping a unit.
    rng : None, int, numpy.random.Generator or SeedSequence
        The dropout masks' randomness. Without one, :func:`ratenet.fit` seeds the
        layer from its own ``rng`` so ``fit(..., rng=0)`` is reproducible.
    """

    def __init__(self, rate, rng=None):
        self.rate = _check_float(rate, "rate", 0.0, 1.0, high_open=True)
        self.rng = initializers.as_rng(rng)
        self.rng_given = rng is not None   # fit seeds layers whose rng was not given
        self._mask = None

    def forward(self, X, training=False):
        """(n_samples, n) → (n_samples, n)."""
        if training is not False and training is not True:
            training = check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = real_array("X", X, dtype=None, finite=False)
        self._shape = X.shape
        if not training or self.rate == 0.0:
            self._mask = None
            return X
        keep = self.rng.random(X.shape, dtype=X.dtype) >= self.rate
        self._mask = keep * X.dtype.type(1.0 / (1.0 - self.rate))
        if self._inplace_in:
            X *= self._mask
            return X
        return X * self._mask

    def backward(self, dY, input_grad=True):
        dY, input_grad = backward_args(dY, input_grad, getattr(self, "_shape", None))
        if not input_grad or self._mask is None:
            return dY if input_grad else None
        if self._inplace_grad:
            dY *= self._mask
            return dY
        return dY * self._mask
