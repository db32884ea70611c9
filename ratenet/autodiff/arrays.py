"""Reductions, softmax and shape operations for ``ratenet.autodiff``.

Operations that work along whole axes: ``sum``, ``mean``, ``softmax``,
``log_softmax``, ``reshape``, ``transpose`` and indexing. Import them from
``ratenet.autodiff``.
"""
import numpy as np

from neurosim.validation import check_bool
from .core import Op, Var, _arg

__all__ = ["sum", "mean", "softmax", "log_softmax", "reshape", "transpose", "getitem"]


# -- reductions -----------------------------------------------------------------
def _axes(axis, ndim):
    """Normalize ``axis`` (None, int or tuple of ints) to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    raw = (axis,) if isinstance(axis, (int, np.integer)) else axis
    try:
        raw = tuple(raw)
    except TypeError:
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}") from None
    out = []
    for a in raw:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for an array of {ndim} dimensions "
                             f"(allowed: {-ndim} to {ndim - 1})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def _check_axis(axis):
    """Type-check ``axis`` (None, an int or a tuple of ints) when an Op is built."""
    if axis is None or (isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_))):
        return axis
    if isinstance(axis, tuple) and all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))
                                       for a in axis):
        return axis
    raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r} ({type(axis).__name__})")


class Sum(Op):
    """Sum over axes: every summed element receives ``s`` (copied back along those axes)."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = _check_axis(axis), check_bool("keepdims", keepdims)

    def forward(self, x):
        self.shape = x.shape
        self.axes = _axes(self.axis, x.ndim)
        return np.sum(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, s):
        if not self.keepdims:
            s = np.expand_dims(s, self.axes)
        return (np.broadcast_to(s, self.shape).copy(),)


class Mean(Sum):
    """Mean over axes: every element receives ``s / n``, n = number of elements averaged."""

    def forward(self, x):
        total = super().forward(x)
        self.n = int(np.prod([x.shape[a] for a in self.axes]))
        return total / self.n if self.n else total * np.nan

    def backward(self, s):
        return (super().backward(s)[0] / self.n,)


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (None: all axes; int; tuple of ints), as ``numpy.sum``."""
    return Sum.apply(_arg(x, "x"), axis=axis, keepdims=check_bool("keepdims", keepdims))


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (None: all axes; int; tuple of ints), as ``numpy.mean``."""
    return Mean.apply(_arg(x, "x"), axis=axis, keepdims=check_bool("keepdims", keepdims))


# -- softmax: stable, by subtracting the maximum ---------------------------------
class Softmax(Op):
    """softmax along ``axis``; ∂L/∂x = y ⊙ (s − Σ s⊙y) along the axis."""

    def __init__(self, axis=-1):
        self.axis = _check_axis(axis)

    def forward(self, x):
        _axes(self.axis, x.ndim)             # validates
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        self.y = e / np.sum(e, axis=self.axis, keepdims=True)
        return self.y

    def backward(self, s):
        y = self.y
        return (y * (s - np.sum(s * y, axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    """log softmax along ``axis``: x − max − log Σ exp(x − max); ∂L/∂x = s − softmax · Σ s."""

    def __init__(self, axis=-1):
        self.axis = _check_axis(axis)

    def forward(self, x):
        _axes(self.axis, x.ndim)
        shifted = x - np.max(x, axis=self.axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))
        self.softmax = np.exp(out)
        return out

    def backward(self, s):
        return (s - self.softmax * np.sum(s, axis=self.axis, keepdims=True),)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis`` (default: last; a tuple or None: jointly over those
    or all axes), computed without overflow."""
    return Softmax.apply(_arg(x, "x"), axis=axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) along ``axis``, stable for large |x| (no log of 0)."""
    return LogSoftmax.apply(_arg(x, "x"), axis=axis)


# -- shape operations: move the gradient back to where each value came from --------
class Reshape(Op):
    def __init__(self, shape):
        parts = (shape,) if isinstance(shape, (int, np.integer)) else shape
        if not isinstance(parts, (tuple, list)) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) for n in parts):
            raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r} ({type(shape).__name__})")
        if any(n < -1 for n in parts) or [int(n) for n in parts].count(-1) > 1:
            raise ValueError(f"shape entries must be >= 0, with at most one -1, got {shape!r}")
        self.new_shape = shape

    def forward(self, x):
        self.shape = x.shape
        try:
            return np.reshape(x, self.new_shape)
        except (ValueError, TypeError) as err:
            raise ValueError(f"cannot reshape an array of shape {x.shape} "
                             f"({x.size} elements) to shape {self.new_shape}") from err

    def backward(self, s):
        return (s.reshape(self.shape),)


class Transpose(Op):
    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        try:
            out = np.transpose(x, self.axes)
        except (ValueError, TypeError) as err:
            raise ValueError(f"axes must be None or a permutation of 0..{x.ndim - 1} for an "
                             f"array of shape {x.shape}, got {self.axes!r}") from err
        axes = range(x.ndim)[::-1] if self.axes is None else self.axes
        self.inverse = np.argsort([int(a) % x.ndim for a in axes])
        return out

    def backward(self, s):
        return (np.transpose(s, self.inverse),)


class GetItem(Op):
    """``x[index]`` for basic, slice, boolean and integer-array indexing.

    The gradient is scattered back with ``np.add.at``, so an element picked
    several times (``x[[0, 0]]``) receives the sum of its contributions.
    """

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        try:
            return x[self.index]
        except IndexError as err:
            raise ValueError(f"index {self.index!r} is invalid for an array of shape {x.shape}: {err}") from None

    def backward(self, s):
        g = np.zeros(self.shape, dtype=np.result_type(self.dtype, s.dtype))
        if _is_basic(self.index):
            g[self.index] += s          # a view: no element can be picked twice
        else:
            np.add.at(g, self.index, s)
        return (g,)


def _is_basic(index):
    """True for ints, slices, Ellipsis and None only (numpy's "basic" indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer))
               and not isinstance(p, (bool, np.bool_)) for p in parts)


def reshape(x, shape):
    """The same values in ``shape`` (one entry may be -1)."""
    return Reshape.apply(_arg(x, "x"), shape=shape)


def transpose(x, axes=None):
    """Permute the axes (default: reverse them), as ``numpy.transpose``."""
    return Transpose.apply(_arg(x, "x"), axes=axes)


def _plain_index(index):
    # Var indices (e.g. labels) index by their value and carry no gradient.
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Var):
        return index.value.astype(np.intp) if index.dtype.kind == "f" else index.value
    if isinstance(index, (list, np.ndarray)):
        index = np.asarray(index)
        if index.dtype.kind not in "biu" and index.size:
            raise TypeError(f"index arrays must hold ints or bools, got dtype {index.dtype}")
        return index
    if index is None or index is Ellipsis or isinstance(index, slice) or (
            isinstance(index, (int, np.integer))):
        return index
    raise TypeError(f"index must be an int, slice, Ellipsis, None, an int/bool array or a tuple "
                    f"of those, got {index!r} ({type(index).__name__})")


def getitem(x, index):
    """``x[index]`` with a gradient; any numpy index (ints, slices, masks, arrays)."""
    return GetItem.apply(_arg(x, "x"), index=_plain_index(index))


# -- Var's array methods, defined here with the ops they call ------------------------
def _var_sum(self, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all); see ``autodiff.sum``."""
    return sum(self, axis=axis, keepdims=keepdims)


def _var_mean(self, axis=None, keepdims=False):
    """Mean over ``axis`` (int, tuple or None for all); see ``autodiff.mean``."""
    return mean(self, axis=axis, keepdims=keepdims)


def _var_reshape(self, *shape):
    """Same values in a new shape (``x.reshape(2, 3)`` or ``x.reshape((2, 3))``)."""
    return reshape(self, shape[0] if len(shape) == 1 else shape)


def _var_transpose(self, *axes):
    """Permute axes (reverse them by default), as ``ndarray.transpose``."""
    return transpose(self, axes[0] if len(axes) == 1 else (axes or None))


Var.sum, Var.mean, Var.reshape, Var.transpose = _var_sum, _var_mean, _var_reshape, _var_transpose
Var.T = property(_var_transpose, doc="The transpose (axes reversed).")
Var.__getitem__ = getitem
