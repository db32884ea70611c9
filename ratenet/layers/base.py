"""The ``Layer`` contract and the checks at its public boundary.

A batch is an array whose first axis indexes samples: (n_samples, n_features)
for dense layers, (n_samples, C, H, W) for images (channels first, as in
PyTorch). Weights are (post, pre), so a dense layer computes ``Z = X @ W.T + b``.

Every layer caches what its backward pass needs during ``forward`` (whatever
the ``training`` flag), so ``backward`` always refers to the most recent
``forward``. Gradients are *written* (not accumulated) into ``Parameter.grad``.
"""
import inspect
import math

import numpy as np

from neurosim.validation import check_bool, check_float_dtype, check_number, real_array

__all__ = ["Layer", "LAYER_REGISTRY", "check_batch", "check_targets", "all_finite", "backward_args",
           "shapes_match", "shape_text"]

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
    X : array_like, shape (n_samples, n_features) or (n_samples, C, H, W)
    n_features : int, tuple or None
        An int: a 2-D batch with that many columns. A tuple ``(C, H, W)``: a
        4-D image batch whose sizes match the tuple's entries (an entry None
        matches any size). None: any 2-D or 4-D batch.
    dtype : numpy dtype or None
        Converted to this dtype (no copy when it already matches); None keeps a
        float dtype and turns ints and bools into float64.
    check_finite : bool
        Reject NaN/inf entries.

    Returns
    -------
    ndarray of ``dtype``, the shape of ``X``
    """
    if X is None:
        raise TypeError(f"{name}: expected a numeric array (a batch), got None")
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
    if isinstance(n_features, tuple):
        _check_image_batch(X, n_features, name)
    elif X.ndim != 2 and not (n_features is None and X.ndim == 4):
        hint = " (one sample? use X.reshape(1, -1))" if X.ndim == 1 else ""
        allowed = "2-D batch (n_samples, n_features) or a 4-D image batch (n_samples, C, H, W)" \
            if n_features is None else "2-D batch (n_samples, n_features)"
        raise ValueError(f"{name}: expected a {allowed}, got shape {X.shape}{hint}")
    elif n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name}: expected {n_features} features (columns), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: empty batch, shape {X.shape}")
    if X.dtype != dtype:
        X = X.astype(dtype)
    if check_finite and not all_finite(X):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return X


def _check_image_batch(X, shape, name):
    want = "(n_samples, " + ", ".join("?" if s is None else str(s) for s in shape) + ")"
    if X.ndim != 1 + len(shape):
        hint = ""
        if X.ndim == 2 and len(shape) == 3 and shape[0] is not None:
            side = math.isqrt(max(X.shape[1] // shape[0], 0))
            if side * side * shape[0] == X.shape[1]:
                hint = f" (flat images? use X.reshape(-1, {shape[0]}, {side}, {side}))"
        raise ValueError(f"{name}: expected a {1 + len(shape)}-D image batch {want}, got shape {X.shape}{hint}")
    if any(s is not None and s != x for s, x in zip(shape, X.shape[1:])):
        raise ValueError(f"{name}: expected a {1 + len(shape)}-D image batch {want}, got shape {X.shape}")


def shapes_match(need, shape):
    """Whether per-sample ``shape`` satisfies the requirement ``need`` (None matches anything;
    an int needs the same int; a tuple the same length, None entries matching any size)."""
    if need is None or shape is None:
        return True
    if isinstance(need, tuple) != isinstance(shape, tuple):
        return False
    if not isinstance(need, tuple):
        return need == shape
    return len(need) == len(shape) and all(a is None or b is None or a == b for a, b in zip(need, shape))


def shape_text(shape):
    """A per-sample shape as the batch shape text ``(n, ...)``: 10 -> "(n, 10)", None -> "(n, ?)"."""
    parts = shape if isinstance(shape, tuple) else (shape,)
    return "(n, " + ", ".join("?" if s is None else str(s) for s in parts) + ")"


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
    # Whether the output has the input's shape (activations, dropout). Sequential
    # reads a model's input shape from its first layer that needs one, as long as
    # only shape-preserving layers come before it.
    preserves_shape = True
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
        """Required per-sample input shape: an int (columns of a 2-D batch), a tuple
        such as ``(C, None, None)`` (an image batch; None: any size), or None (any)."""
        return None

    def output_features(self, n_in):
        """Per-sample output shape for per-sample input shape ``n_in`` (int, tuple or None)."""
        return n_in

    def accepts(self, shape):
        """Whether this layer takes inputs of per-sample ``shape`` (int, tuple; None: unknown).

        The default compares with :meth:`input_features`; a layer that takes
        several layouts (BatchNorm: features or channels) overrides it.
        """
        return shapes_match(self.input_features(), shape)

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


