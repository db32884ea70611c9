"""Image layers: ``Conv2D``, ``AvgPool2D``, ``MaxPool2D`` and ``Flatten``.

Image batches are (n_samples, C, H, W), channels first, as in PyTorch; the
weights of ``Conv2D`` have the layout of ``torch.nn.Conv2d.weight``,
(out_ch, in_ch, kh, kw), and the layer computes torch's (cross-correlation)
convolution.

How: im2col. The patches of the (zero-padded) input are a strided view of it
(no copy); one copy lays them out as the columns of a (C·kh·kw, Ho·Wo·n)
matrix, and one matrix product with the flattened weights (out_ch, C·kh·kw)
gives every output pixel of every sample (one BLAS call per pass). Inside
Conv2D the sample axis is innermost, so the copies move long contiguous runs.
The backward pass scatters gradients back onto the input with one vectorized
add per kernel tap (kh·kw of them), never a loop over samples or pixels.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import initializers
from ..parameter import Parameter
from neurosim.validation import check_alloc, check_bool, check_int, real_array
from .base import Layer, _check_dtype, backward_args, check_batch

__all__ = ["Conv2D", "AvgPool2D", "MaxPool2D", "Flatten"]


# ------------------------------------------------------------------ helpers
def _pair(name, value, low):
    """An int or a pair of ints (h, w), each >= low, as a tuple (h, w)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair (h, w), got {value!r}")
        return tuple(check_int(name, v, low=low) for v in value)
    v = check_int(name, value, low=low)
    return (v, v)


def _compact(pair):
    """(h, w) as saved in a config: one int when h == w (JSON has no tuples)."""
    return pair[0] if pair[0] == pair[1] else list(pair)


def _out_size(size, kernel, stride, pad):
    """Output length of a window sweep along one axis (None when the input length is unknown)."""
    return None if size is None else (size + 2 * pad - kernel) // stride + 1


def _out_shape(layer, shape, channels):
    """Per-sample output (channels, Ho, Wo) of ``layer`` for input ``shape`` (checked)."""
    if shape is None:
        return (channels, None, None)
    if not isinstance(shape, tuple) or len(shape) != 3:
        raise ValueError(f"{type(layer).__name__} takes image batches (n, C, H, W); "
                         f"the previous layer gives (n, {shape})")
    hw = tuple(_out_size(s, k, st, p) for s, k, st, p in zip(shape[1:], layer.kernel, layer.stride, layer.padding))
    if any(o is not None and o < 1 for o in hw):
        raise ValueError(f"{layer!r}: input {shape[1]}x{shape[2]} (padding {layer.padding}) is smaller "
                         f"than the kernel {layer.kernel[0]}x{layer.kernel[1]}")
    return (shape[0] if channels is None else channels,) + hw


def _image_input(layer, X, channels):
    """X as a checked (n, C, H, W) batch of the layer's dtype, and its output size (Ho, Wo)."""
    want = layer._dtype()
    if type(X) is not np.ndarray or X.ndim != 4 or (X.dtype != want if want else X.dtype.kind != "f") or \
            (channels is not None and X.shape[1] != channels):
        X = check_batch(X, (channels, None, None), want, check_finite=False)
    hw = [_out_size(s, k, st, p) for s, k, st, p in zip(X.shape[2:], layer.kernel, layer.stride, layer.padding)]
    if min(hw) < 1:
        raise ValueError(f"X: images of {X.shape[2]}x{X.shape[3]} (padding {layer.padding}) are smaller "
                         f"than the kernel {layer.kernel[0]}x{layer.kernel[1]} of {layer!r}")
    return X, tuple(hw)


def _padded(X, pad, fill, buf):
    """X with ``pad`` = (ph, pw) rows/columns of ``fill`` on each side; ``buf`` is reused
    when it fits (its border is never written, so it keeps ``fill``). Returns (Xp, buffer)."""
    ph, pw = pad
    if ph == 0 and pw == 0:
        return X, buf
    n, c, h, w = X.shape
    shape = (n, c, h + 2 * ph, w + 2 * pw)
    if buf is None or buf.shape != shape or buf.dtype != X.dtype:
        check_alloc("padding", pad, math.prod(shape), X.dtype.itemsize)
        buf = np.full(shape, fill, X.dtype)
    buf[:, :, ph:ph + h, pw:pw + w] = X
    return buf, buf


def _tap(a, i, j, stride, out_hw):
    """The view of (padded) image array ``a`` that kernel tap (i, j) sees at every output pixel."""
    (sh, sw), (ho, wo) = stride, out_hw
    return a[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]


def _buffer(layer, name, shape, dtype, zero=False):
    """A scratch array of ``shape`` kept on the layer and reused while the shape holds
    (``zero``: zeros when made; callers keep the parts they never write at zero)."""
    buf = getattr(layer, name, None)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        setattr(layer, name, buf)
    return buf


# numpy copies a transposed array fast when the destination's inner axis is contiguous in
# the source too; moving the sample axis from first to last (or back) in one copy is not
# (5x slower on 64 x 16 x 24 x 24), so it goes through (C, n, H, W) in two fast copies.
def _channels_first(X):
    """(n, C, H, W) → a contiguous (C, n, H, W) copy."""
    return np.ascontiguousarray(X.transpose(1, 0, 2, 3))


def _samples_first(A):
    """(C, H, W, n) → a contiguous (n, C, H, W) copy, through (C, n, H, W)."""
    return np.ascontiguousarray(np.ascontiguousarray(A.transpose(0, 3, 1, 2)).transpose(1, 0, 2, 3))


def _unpad(dXp, pad, shape):
    ph, pw = pad
    return dXp if ph == 0 and pw == 0 else dXp[:, :, ph:ph + shape[2], pw:pw + shape[3]]


# ---------------------------------------------------------------- Conv2D
class Conv2D(Layer):
    """2-D convolution of image batches, as ``torch.nn.Conv2d`` (groups=1, dilation=1).

    ``Y[n, o, y, x] = b[o] + Σ_{c,i,j} W[o, c, i, j] · Xp[n, c, s·y + i, s·x + j]``,
    Xp the input zero-padded by ``padding`` on each side.

    Parameters
    ----------
    in_ch, out_ch : int
        Input and output channels.
    kernel : int or (int, int)
        Kernel size (kh, kw).
    stride : int or (int, int)
    padding : int or (int, int)
        Zero rows/columns added on each side.
    init : str or callable
        Weight initializer (see :mod:`ratenet.initializers`), given the shape
        (out_ch, in_ch, kh, kw): fan-in in_ch·kh·kw, fan-out out_ch·kh·kw.
    rng : None, int or numpy.random.Generator
    dtype : {numpy.float32, numpy.float64}
    bias : bool

    Shapes
    ------
    (n, in_ch, H, W) → (n, out_ch, Ho, Wo), Ho = (H + 2·ph − kh) // sh + 1 (Wo alike).
    ``W`` is (out_ch, in_ch, kh, kw), ``b`` (out_ch,).
    """

    fresh_output = True
    fresh_grad = True
    preserves_shape = False

    def __init__(self, in_ch, out_ch, kernel, stride=1, padding=0, init="glorot_uniform", rng=None,
                 dtype=np.float32, bias=True):
        self.in_ch = check_int("in_ch", in_ch, low=1)
        self.out_ch = check_int("out_ch", out_ch, low=1)
        self.kernel = _pair("kernel", kernel, 1)
        self.stride = _pair("stride", stride, 1)
        self.padding = _pair("padding", padding, 0)
        self.dtype = _check_dtype(dtype)
        shape = (self.out_ch, self.in_ch) + self.kernel
        check_alloc("kernel", kernel, math.prod(shape), 8)
        W = np.asarray(initializers.get(init)(shape, rng=rng, dtype=self.dtype))
        if W.shape != shape:
            raise ValueError(f"init: returned shape {W.shape}, expected {shape}")
        self.weight = Parameter(W, "W", dtype=self.dtype)
        self.bias = Parameter(np.zeros(self.out_ch), "b", dtype=self.dtype) if check_bool("bias", bias) else None
        self._cache = None

    W = property(lambda self: self.weight.data, lambda self, v: self._set(self.weight, v),
                 doc="Weights (out_ch, in_ch, kh, kw), torch's Conv2d.weight layout.")
    dW = property(lambda self: self.weight.grad, doc="dE/dW after backward, shape of W.")
    b = property(lambda self: None if self.bias is None else self.bias.data,
                 lambda self, v: self._set(self.bias, v), doc="Bias (out_ch,) or None.")
    db = property(lambda self: None if self.bias is None else self.bias.grad,
                  doc="dE/db after backward, (out_ch,) or None.")

    @staticmethod
    def _set(param, value):
        if param is None:
            raise ValueError("b: this Conv2D layer was built with bias=False")
        value = real_array(param.name, value, dtype=None)
        if value.shape != param.data.shape:
            raise ValueError(f"{param.name}: expected shape {param.data.shape}, got {value.shape}")
        param.data[...] = value

    def _dtype(self):
        return self.dtype

    def parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    @classmethod
    def state_shapes(cls, config):
        in_ch = check_int("in_ch", config.get("in_ch"), low=1)
        out_ch = check_int("out_ch", config.get("out_ch"), low=1)
        shapes = {"W": (out_ch, in_ch) + _pair("kernel", config.get("kernel"), 1)}
        if config.get("bias", True):
            shapes["b"] = (out_ch,)
        return shapes

    def input_features(self):
        return (self.in_ch, None, None)

    def output_features(self, n_in):
        return _out_shape(self, n_in, self.out_ch)

    def get_config(self):
        return {"in_ch": self.in_ch, "out_ch": self.out_ch, "kernel": _compact(self.kernel),
                "stride": _compact(self.stride), "padding": _compact(self.padding),
                "dtype": self.dtype.name, "bias": self.bias is not None}

    def __repr__(self):
        c = {k: tuple(v) if isinstance(v, list) else v for k, v in self.get_config().items()}
        extra = "".join(f", {k}={c[k]}" for k in ("stride", "padding") if c[k] != 1 - (k == "padding"))
        extra += "" if self.bias is not None else ", bias=False"
        extra += "" if self.dtype == np.float32 else f", dtype={self.dtype.name}"
        return f"Conv2D({self.in_ch}, {self.out_ch}, {c['kernel']}{extra})"

    def forward(self, X, training=False):
        """(n, in_ch, H, W) → (n, out_ch, Ho, Wo); a new array."""
        if training is not False and training is not True:
            check_bool("training", training)
        X, (ho, wo) = _image_input(self, X, self.in_ch)
        n, c, h, w = X.shape
        (kh, kw), (ph, pw) = self.kernel, self.padding
        check_alloc("X", X.shape, n * ho * wo * c * kh * kw, X.dtype.itemsize)
        check_alloc("padding", self.padding, n * c * (h + 2 * ph) * (w + 2 * pw), X.dtype.itemsize)
        # Inside the layer images are (C, H, W, n): samples innermost, so every copy
        # and every kernel tap below moves long contiguous runs (n·Wo values), not
        # short image rows. One transposing copy in, one out.
        Xp = _buffer(self, "_xp", (c, h + 2 * ph, w + 2 * pw, n), self.dtype, zero=True)
        Xp[:, ph:ph + h, pw:pw + w] = _channels_first(X).transpose(0, 2, 3, 1)
        # im2col: row (c, i, j) holds tap (i, j) of channel c at every (y, x, sample)
        cols = _buffer(self, "_cols", (c * kh * kw, ho * wo * n), self.dtype)
        patches = sliding_window_view(Xp, self.kernel, axis=(1, 2))[:, ::self.stride[0], ::self.stride[1]]
        np.copyto(cols.reshape(c, kh, kw, ho, wo, n), patches.transpose(0, 4, 5, 1, 2, 3))
        Z = _buffer(self, "_z", (self.out_ch, ho * wo * n), self.dtype)
        np.matmul(self.weight.data.reshape(self.out_ch, -1), cols, out=Z)      # the one GEMM
        if self.bias is not None:
            Z += self.bias.data[:, None]
        self._cache = (X.shape, (ho, wo))
        return _samples_first(Z.reshape(self.out_ch, ho, wo, n))

    def backward(self, dY, input_grad=True):
        """Write dW and db; return dE/dX (n, in_ch, H, W), or None with ``input_grad=False``."""
        if self._cache is None:
            raise RuntimeError("Conv2D.backward called before forward")
        (n, c, h, w), (ho, wo) = self._cache
        if input_grad is not True and input_grad is not False:
            input_grad = check_bool("input_grad", input_grad)
        if type(dY) is not np.ndarray or dY.dtype != self.dtype:
            dY = real_array("dY", dY, dtype=self.dtype, finite=False)
        if dY.shape != (n, self.out_ch, ho, wo):
            raise ValueError(f"dY: expected shape {(n, self.out_ch, ho, wo)} (the output of the last forward), "
                             f"got {dY.shape}")
        dZ = _buffer(self, "_dz", (self.out_ch, ho * wo * n), self.dtype)
        np.copyto(dZ.reshape(self.out_ch, ho, wo, n), _channels_first(dY).transpose(0, 2, 3, 1))
        np.matmul(dZ, self._cols.T, out=self.weight.grad.reshape(self.out_ch, -1))
        if self.bias is not None:
            np.add.reduce(dZ, axis=1, out=self.bias.grad)
        if not input_grad:
            return None
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        dcols = _buffer(self, "_dcols", self._cols.shape, self.dtype)
        np.matmul(self.weight.data.reshape(self.out_ch, -1).T, dZ, out=dcols)
        dcols = dcols.reshape(c, kh, kw, ho, wo, n)
        # col2im: one vectorized add per kernel tap, the adjoint of the patch view
        dXp = np.zeros((c, h + 2 * ph, w + 2 * pw, n), self.dtype)
        for i in range(kh):
            for j in range(kw):
                dXp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += dcols[:, i, j]
        return _samples_first(dXp[:, ph:ph + h, pw:pw + w])


# ----------------------------------------------------------------- pooling
class _Pool2D(Layer):
    """Shared parts of the pools: window sizes, shapes and the config."""

    fresh_output = True
    fresh_grad = True
    preserves_shape = False
    _fill = 0.0

    def __init__(self, kernel, stride=None, padding=0):
        self.kernel = _pair("kernel", kernel, 1)
        self.stride = self.kernel if stride is None else _pair("stride", stride, 1)
        self.padding = _pair("padding", padding, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel)):
            raise ValueError(f"padding: at most half the kernel {self.kernel} on each side "
                             f"(as torch), got {self.padding}")
        self._cache = None

    def _dtype(self):
        return None          # any float dtype; ints become float64

    def input_features(self):
        return (None, None, None)

    def output_features(self, n_in):
        return _out_shape(self, n_in, None)

    def get_config(self):
        return {"kernel": _compact(self.kernel), "stride": _compact(self.stride), "padding": _compact(self.padding)}

    def __repr__(self):
        c = {k: tuple(v) if isinstance(v, list) else v for k, v in self.get_config().items()}
        extra = "" if self.stride == self.kernel else f", stride={c['stride']}"
        extra += "" if self.padding == (0, 0) else f", padding={c['padding']}"
        return f"{type(self).__name__}({c['kernel']}{extra})"

    def _input(self, X, training):
        if training is not False and training is not True:
            check_bool("training", training)
        X, hw = _image_input(self, X, None)
        Xp, self._xp = _padded(X, self.padding, self._fill, getattr(self, "_xp", None))
        return X, Xp, hw

    def _grad(self, dY, input_grad):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        shape, hw = self._cache[:2]
        return backward_args(dY, input_grad, shape[:2] + hw)

    def _taps(self):
        return [(i, j) for i in range(self.kernel[0]) for j in range(self.kernel[1])]


class AvgPool2D(_Pool2D):
    """Average pooling over kh×kw windows, as ``torch.nn.AvgPool2d`` (count_include_pad=True).

    Parameters
    ----------
    kernel : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel`` (non-overlapping windows).
    padding : int or (int, int)
        Zeros added on each side (counted in the average), at most kernel/2.

    Shapes
    ------
    (n, C, H, W) → (n, C, Ho, Wo), Ho = (H + 2·ph − kh) // sh + 1.
    """

    def forward(self, X, training=False):
        X, Xp, hw = self._input(X, training)
        taps = self._taps()
        Y = _tap(Xp, *taps[0], self.stride, hw).copy()
        for i, j in taps[1:]:
            Y += _tap(Xp, i, j, self.stride, hw)
        Y *= Y.dtype.type(1.0 / len(taps))
        self._cache = (X.shape, hw)
        return Y

    def backward(self, dY, input_grad=True):
        dY, input_grad = self._grad(dY, input_grad)
        if not input_grad:
            return None
        shape, hw = self._cache
        ph, pw = self.padding
        dXp = np.zeros((shape[0], shape[1], shape[2] + 2 * ph, shape[3] + 2 * pw), dY.dtype)
        share = dY * dY.dtype.type(1.0 / (self.kernel[0] * self.kernel[1]))
        for i, j in self._taps():
            _tap(dXp, i, j, self.stride, hw)[...] += share
        return _unpad(dXp, self.padding, shape)


class MaxPool2D(_Pool2D):
    """Max pooling over kh×kw windows, as ``torch.nn.MaxPool2d``.

    The gradient goes to the first maximal element of each window (in row-major
    order), as torch's CPU kernel. Max pooling has no rate-exact spiking form:
    use :class:`AvgPool2D` in networks meant for conversion to spikes.

    Parameters
    ----------
    kernel : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel``.
    padding : int or (int, int)
        −inf added on each side (never the maximum), at most kernel/2.
    """

    _fill = -np.inf

    def forward(self, X, training=False):
        X, Xp, hw = self._input(X, training)
        taps = self._taps()
        Y = _tap(Xp, *taps[0], self.stride, hw).copy()
        arg = np.zeros(Y.shape, np.min_scalar_type(len(taps)))
        for t, (i, j) in enumerate(taps[1:], 1):
            v = _tap(Xp, i, j, self.stride, hw)
            better = v > Y             # strict: the first maximum wins ties
            arg[better] = t
            np.maximum(Y, v, out=Y)
        self._cache = (X.shape, hw, arg)
        return Y

    def backward(self, dY, input_grad=True):
        dY, input_grad = self._grad(dY, input_grad)
        if not input_grad:
            return None
        shape, hw, arg = self._cache
        ph, pw = self.padding
        dXp = np.zeros((shape[0], shape[1], shape[2] + 2 * ph, shape[3] + 2 * pw), dY.dtype)
        for t, (i, j) in enumerate(self._taps()):
            _tap(dXp, i, j, self.stride, hw)[...] += np.where(arg == t, dY, 0)
        return _unpad(dXp, self.padding, shape)


# ------------------------------------------------------------------ Flatten
class Flatten(Layer):
    """(n, d1, d2, ...) → (n, d1·d2·…) in C order, as ``torch.nn.Flatten()``.

    The output is a view of the input when it is contiguous (no copy).
    """

    preserves_shape = False

    def output_features(self, n_in):
        if isinstance(n_in, tuple):
            return None if None in n_in else math.prod(n_in)
        return n_in

    def forward(self, X, training=False):
        """(n, ...) → (n, prod(...))."""
        if training is not False and training is not True:
            check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = real_array("X", X, dtype=None, finite=False)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"X: expected a batch (n_samples, ...) with at least 2 dimensions, got shape {X.shape}")
        self._shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dY, input_grad=True):
        shape = getattr(self, "_shape", None)
        if shape is None:
            raise RuntimeError("Flatten.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, (shape[0], math.prod(shape[1:])))
        return dY.reshape(shape) if input_grad else None
