"""``Dense``: the fully connected layer ``Z = X @ W.T + b`` (weights (post, pre))."""
import numpy as np

from .. import initializers
from ..parameter import Parameter
from neurosim.validation import check_alloc, check_bool, check_int, real_array
from .base import Layer, _check_dtype, check_batch

__all__ = ["Dense"]


class Dense(Layer):
    """Fully connected layer ``Z = X @ W.T + b``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths; ``W`` has shape (n_out, n_in), ``b`` (n_out,).
    init : str or callable
        Weight initializer name (see :mod:`ratenet.initializers`) or function.
    rng : None, int or numpy.random.Generator
        Randomness of the initializer.
    dtype : {numpy.float32, numpy.float64}
    bias : bool
        Whether to add a bias (initialized to zero).
    """

    fresh_output = True
    fresh_grad = True
    preserves_shape = False

    def __init__(self, n_in, n_out, init="glorot_uniform", rng=None, dtype=np.float32, bias=True):
        self.n_in = check_int("n_in", n_in, low=1)
        self.n_out = check_int("n_out", n_out, low=1)
        self.dtype = _check_dtype(dtype)
        check_alloc("n_in" if self.n_in >= self.n_out else "n_out", n_in if self.n_in >= self.n_out else n_out,
                    self.n_in * self.n_out, 8)
        W = np.asarray(initializers.get(init)((self.n_out, self.n_in), rng=rng, dtype=self.dtype))
        if W.shape != (self.n_out, self.n_in):
            raise ValueError(f"init: returned shape {W.shape}, expected {(self.n_out, self.n_in)}")
        self.weight = Parameter(W, "W", dtype=self.dtype)
        self.bias = (Parameter(np.zeros(self.n_out), "b", dtype=self.dtype)
                     if check_bool("bias", bias) else None)
        self._X = None

    # Arrays by their usual names; setters copy into the existing buffer so
    # optimizers holding the Parameter keep seeing the same array.
    W = property(lambda self: self.weight.data,
                 lambda self, v: self._set(self.weight, v), doc="Weights (n_out, n_in).")
    dW = property(lambda self: self.weight.grad, doc="dE/dW after backward, (n_out, n_in).")
    b = property(lambda self: None if self.bias is None else self.bias.data,
                 lambda self, v: self._set(self.bias, v), doc="Bias (n_out,) or None.")
    db = property(lambda self: None if self.bias is None else self.bias.grad,
                  doc="dE/db after backward, (n_out,) or None.")

    @staticmethod
    def _set(param, value):
        if param is None:
            raise ValueError("b: this Dense layer was built with bias=False")
        value = np.asarray(value)
        if value.shape != param.data.shape:
            raise ValueError(f"{param.name}: expected shape {param.data.shape}, got {value.shape}")
        param.data[...] = value

    def parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    @classmethod
    def state_shapes(cls, config):
        n_in, n_out = check_int("n_in", config.get("n_in"), low=1), check_int("n_out", config.get("n_out"), low=1)
        shapes = {"W": (n_out, n_in)}
        if config.get("bias", True):
            shapes["b"] = (n_out,)
        return shapes

    def input_features(self):
        return self.n_in

    def output_features(self, n_in):
        if n_in is not self.n_in and check_int("n_in", n_in, low=1) != self.n_in:
            raise ValueError(f"n_in: this Dense layer takes {self.n_in} input features, got {n_in}")
        return self.n_out

    def get_config(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "dtype": self.dtype.name,
                "bias": self.bias is not None}

    def __repr__(self):
        extra = "" if self.bias is not None else ", bias=False"
        extra += "" if self.dtype == np.float32 else f", dtype={self.dtype.name}"
        return f"Dense({self.n_in}, {self.n_out}{extra})"

    def forward(self, X, training=False):
        """(n_samples, n_in) → (n_samples, n_out); a new array."""
        if training is not False and training is not True:
            check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype != self.dtype or X.ndim != 2 or X.shape[1] != self.n_in:
            X = check_batch(X, self.n_in, self.dtype, check_finite=False)
        self._X = X
        Z = X @ self.weight.data.T
        if self.bias is not None:
            Z += self.bias.data
        return Z

    def backward(self, dY, input_grad=True):
        """Write ``dW = dYᵀ X`` and ``db = Σ dY``; return ``dX = dY W`` (or None)."""
        X = self._X
        if X is None:
            raise RuntimeError("Dense.backward called before forward")
        if input_grad is not True and input_grad is not False:
            input_grad = check_bool("input_grad", input_grad)
        if type(dY) is not np.ndarray or dY.dtype != self.dtype:
            dY = real_array("dY", dY, dtype=self.dtype, finite=False)
        if dY.shape != (X.shape[0], self.n_out):
            raise ValueError(f"dY: expected shape {(X.shape[0], self.n_out)}, got {dY.shape}")
        np.matmul(dY.T, X, out=self.weight.grad)
        if self.bias is not None:
            np.add.reduce(dY, axis=0, out=self.bias.grad)
        return dY @ self.weight.data if input_grad else None
