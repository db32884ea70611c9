"""Layers: the ``Layer`` contract, ``Dense``, ``Dropout`` and ``BatchNorm``.

A batch is a 2-D array of rows, shape (n_samples, n_features); weights are
(post, pre) = (n_out, n_in), so a dense layer computes ``Z = X @ W.T + b``.

Every layer caches what its backward pass needs during ``forward`` (whatever
the ``training`` flag), so ``backward`` always refers to the most recent
``forward``. Gradients are *written* (not accumulated) into ``Parameter.grad``.
"""
import inspect

import numpy as np

from . import initializers
from .parameter import Parameter
from neurosim.validation import check_alloc, check_bool, check_float_dtype, check_int, check_number, real_array

__all__ = ["Layer", "Dense", "Dropout", "BatchNorm", "LAYER_REGISTRY"]

#: Every ``Layer`` subclass by class name; ``ratenet.load`` rebuilds from it.
LAYER_REGISTRY = {}


def _check_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """Validate a real scalar in [low, high] (ends open when asked); see ``check_number``."""
    return check_number(name, value, low, high, low_open, high_open)


def _check_dtype(dtype):
    return check_float_dtype("dtype", dtype)


def check_batch(X, n_features, dtype, name="X", check_finite=True):
    """Validate and convert a batch at a public boundary (ratenet's one batch validator).

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
    n_features : int or None
        Required number of columns (None: any).
    dtype : numpy dtype or None
        Converted to this dtype (no copy when it already matches); None keeps a
        float dtype and turns ints and bools into float64.
    check_finite : bool
        Reject NaN/inf entries.

    Returns
    -------
    ndarray, shape (n_samples, n_features), of ``dtype``
    """
    if X is None:
        raise TypeError(f"{name}: expected a 2-D numeric array, got None")
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except ValueError as exc:
            raise ValueError(f"{name}: cannot convert to an array ({exc})") from exc
    if X.dtype.kind not in "biuf":
        what = "complex numbers" if X.dtype.kind == "c" else f"dtype {X.dtype}"
        raise TypeError(f"{name}: expected a real numeric array, got {what}")
    if dtype is None:
        dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)
    if X.ndim != 2:
        hint = " (one sample? use X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(
            f"{name}: expected a 2-D batch (n_samples, n_features), got shape {X.shape}{hint}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name}: expected {n_features} features (columns), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: empty batch, shape {X.shape}")
    if X.dtype != dtype:
        X = X.astype(dtype)
    if check_finite and not all_finite(X):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return X


def check_targets(y, n, dtype, name="y"):
    """Validate training targets: int class indices (n,) or float targets (n,) / (n, k).

    Returns int indices as ``intp`` and float targets (and 2-D ints) as ``dtype``.
    NaN/inf targets are a ValueError, complex or strings a TypeError.
    """
    if y is None:
        raise TypeError(f"{name}: expected targets (class indices or an array), got None")
    y = np.asarray(y)
    if y.dtype.kind in "iub":
        y = y.astype(np.intp) if y.ndim == 1 else y.astype(dtype)
    elif y.dtype.kind == "f":
        y = y.astype(dtype, copy=False)
    else:
        what = "complex numbers" if y.dtype.kind == "c" else f"dtype {y.dtype}"
        raise TypeError(f"{name}: expected numeric targets (class indices or float values), got {what}")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) or ({n}, n_outputs) to match the inputs, got {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name}: contains NaN or inf values")
    return y


def all_finite(X):
    """True if the float array X has no NaN/inf (fast path: one BLAS dot)."""
    # NaN and inf propagate through a sum of squares; only a finite overflow
    # (entries beyond ~1e19) needs the exact, twice slower, elementwise test.
    x = X.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        ok = np.isfinite(np.dot(x, x))
    return bool(ok) or bool(np.isfinite(X).all())


def backward_args(dY, input_grad, shape, name="dY"):
    """Check ``backward``'s public arguments; a few ns when they are already right.

    ``input_grad`` must be a bool flag (TypeError otherwise); ``dY`` a real float
    array (ints become float64; complex, strings, None: TypeError) of ``shape``,
    the shape of the last forward's output (ValueError otherwise; None: any).
    Returns ``(dY, input_grad)``.
    """
    if input_grad is not True and input_grad is not False:
        input_grad = check_bool("input_grad", input_grad)
    if type(dY) is not np.ndarray or dY.dtype.kind != "f":
        dY = real_array(name, dY, dtype=None, finite=False)
    if shape is not None and dY.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (the output of the last forward), got {dY.shape}")
    return dY, input_grad


class Layer:
    """Base class of all layers.

    Subclasses implement ``forward`` and ``backward``; layers with trainable
    arrays return them from ``parameters()`` as :class:`Parameter` objects.
    Non-trainable state saved with the model (e.g. running statistics) is named
    in the class attribute ``_buffers``. Constructor arguments are stored as
    attributes of the same name so ``get_config`` can rebuild the layer.
    """

    _buffers = ()
    # Whether forward/backward return a new array that the layer itself does not
    # keep; Sequential uses this to let the next layer work in place.
    fresh_output = False
    fresh_grad = False
    # Set by Sequential when overwriting the forward input / backward dY is safe.
    _inplace_in = False
    _inplace_grad = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYER_REGISTRY[cls.__name__] = cls

    def forward(self, X, training=False):
        """Output for a batch ``X`` (n_samples, n_in) → (n_samples, n_out)."""
        raise NotImplementedError

    def backward(self, dY, input_grad=True):
        """Given dE/dY (n_samples, n_out), set parameter grads and return dE/dX.

        With ``input_grad=False`` dE/dX is not computed and None is returned
        (Sequential does that for its first layer: it saves one matmul).
        """
        raise NotImplementedError

    def __call__(self, X, training=False):
        return self.forward(X, training)

    @classmethod
    def state_shapes(cls, config):
        """Shapes of the arrays :meth:`state` will hold for constructor arguments ``config``.

        ``ratenet.load`` checks a file against them before building the layer, so a
        crafted file cannot make it allocate more than it stores. Returns a dict
        name -> shape, or None when unknown (a custom layer with parameters that does
        not override this: it is then built first and checked after).
        """
        if cls.parameters is Layer.parameters and not cls._buffers:
            return {}
        return None

    def parameters(self):
        """Trainable parameters, a list of :class:`Parameter`."""
        return []

    def input_features(self):
        """Required number of input columns, or None if any width works."""
        return None

    def output_features(self, n_in):
        """Number of output columns for ``n_in`` input columns."""
        return n_in

    def state(self):
        """Live arrays saved with the model: parameters then buffers, by name."""
        out = {p.name: p.data for p in self.parameters()}
        out.update((name, getattr(self, name)) for name in self._buffers)
        return out

    def astype(self, dtype):
        """Convert parameters and buffers to ``dtype`` in place; returns self."""
        dtype = _check_dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        for name in self._buffers:
            setattr(self, name, getattr(self, name).astype(dtype))
        if hasattr(self, "dtype"):
            self.dtype = dtype
        return self

    def get_config(self):
        """JSON-serializable constructor arguments (``rng`` is never saved).

        The default reads the attribute named like each ``__init__`` argument.
        """
        config = {}
        for name, par in inspect.signature(type(self).__init__).parameters.items():
            if name in ("self", "rng") or par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
                continue
            if not hasattr(self, name):
                raise TypeError(
                    f"{type(self).__name__}: cannot save: constructor argument {name!r} "
                    "is not stored as an attribute of that name; override get_config()")
            value = getattr(self, name)
            if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
                value = np.dtype(value).name
            elif isinstance(value, np.generic):
                value = value.item()
            config[name] = value
        return config

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except TypeError:
            args = "..."
        return f"{type(self).__name__}({args})"


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


class BatchNorm(Layer):
    """Batch normalization over the batch axis, ``Y = γ (X − μ)/sqrt(σ² + eps) + β``.

    Training uses the batch mean and (biased) variance and updates the running
    statistics ``running = (1 − momentum) running + momentum · batch`` (the
    running variance uses the unbiased batch variance); evaluation uses the
    running statistics.

    Parameters
    ----------
    n_features : int
    momentum : float in (0, 1]
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

    def forward(self, X, training=False):
        """(n_samples, n_features) → (n_samples, n_features)."""
        if training is not False and training is not True:
            training = check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype != self.dtype or X.ndim != 2 or X.shape[1] != self.n_features:
            X = check_batch(X, self.n_features, self.dtype, check_finite=False)
        if training:
            n = X.shape[0]
            if n < 2:
                raise ValueError("X: BatchNorm in training needs a batch of at least 2 samples")
            mean = X.mean(axis=0)
            xhat = X - mean
            var = np.einsum("ij,ij->j", xhat, xhat) / n
            inv_std = 1.0 / np.sqrt(var + self.eps)
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            xhat = X - self.running_mean
        xhat *= inv_std
        self._cache = (xhat, inv_std, training)
        return xhat * self.gamma.data + self.beta.data

    def backward(self, dY, input_grad=True):
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        xhat, inv_std, training = self._cache
        dY, input_grad = backward_args(dY, input_grad, xhat.shape)
        dgamma = np.einsum("ij,ij->j", dY, xhat, out=self.gamma.grad)
        dbeta = np.add.reduce(dY, axis=0, out=self.beta.grad)
        if not input_grad:
            return None
        scale = self.gamma.data * inv_std
        if not training:
            return dY * scale
        # d/dX of the batch statistics: remove the mean and the xhat-component.
        n = dY.shape[0]
        dX = dY - dbeta / n
        dX -= xhat * (dgamma / n)
        dX *= scale
        return dX
