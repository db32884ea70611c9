"""Arithmetic and elementwise operations for ``ratenet.autodiff``.

Each operation is a small ``Op`` subclass (forward + backward) and a function
that applies it, e.g. ``sin(x)`` is ``Sin.apply(x)``. Binary operations
broadcast like numpy; their backward sums the gradient back to each
argument's shape (``unbroadcast``). All functions accept Vars or array_likes
(taken as constants). Import them from ``ratenet.autodiff``.
"""
import numpy as np
from scipy.special import expit

from .core import Op, Var, _arg, _unbroadcast as unbroadcast, as_var

__all__ = ["matmul", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "softplus"]


# -- arithmetic: the matrix rules of reverse-mode differentiation, plus broadcasting --
class Add(Op):
    """``a + b``: both arguments receive ``s`` (summed back to their shapes)."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, s):
        return unbroadcast(s, self.shapes[0]), unbroadcast(s, self.shapes[1])


class Sub(Op):
    """``a - b``: ``a`` receives ``s``, ``b`` receives ``-s``."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, s):
        return unbroadcast(s, self.shapes[0]), unbroadcast(-s, self.shapes[1])


class Mul(Op):
    """``a * b`` elementwise: ``a`` receives ``s * b``, ``b`` receives ``s * a``."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, s):
        return unbroadcast(s * self.b, self.a.shape), unbroadcast(s * self.a, self.b.shape)


class Div(Op):
    """``a / b`` elementwise: ``a`` receives ``s / b``, ``b`` receives ``-s a / b²``."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, s):
        sb = s / self.b
        return unbroadcast(sb, self.a.shape), unbroadcast(-sb * self.a / self.b, self.b.shape)


class Pow(Op):
    """``a ** b`` elementwise: ``a`` receives ``s b a^(b-1)``, ``b`` receives ``s a^b log a``."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, s):
        a, b = self.a, self.b
        ga = gb = None
        if self.args[0].requires_grad:
            # d(a^b)/da = b a^(b-1); for b == 0 it is 0 everywhere, also at a == 0
            # where b a^(b-1) would be 0·inf (PyTorch gives 0 too).
            with np.errstate(divide="ignore", invalid="ignore"):
                da = np.where(b == 0, 0.0, b * a ** (b - 1)).astype(np.result_type(a, b), copy=False)
            ga = unbroadcast(s * da, a.shape)
        if self.args[1].requires_grad:
            # d(a^b)/db = a^b log a; at a == 0 the limit is 0 (for b > 0), not 0·(-inf).
            with np.errstate(divide="ignore", invalid="ignore"):
                dlog = np.where(a == 0, 0.0, self.out * np.log(np.where(a == 0, 1.0, a)))
            gb = unbroadcast(s * dlog, b.shape)
        return ga, gb


class Neg(Op):
    """``-a``: the argument receives ``-s``."""

    def forward(self, a):
        return -a

    def backward(self, s):
        return (-s,)


class MatMul(Op):
    """``a @ b`` with numpy's rules (1-D vectors, stacks of matrices).

    For matrices ``a`` receives ``s bᵀ`` and ``b`` receives ``aᵀ s``; vectors
    are treated as a one-row (``a``) or one-column (``b``) matrix, and
    batch axes that were broadcast are summed back.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs arguments with at least 1 dimension, got "
                             f"shapes {a.shape} and {b.shape}; use * for scalars")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ValueError(f"matmul shape mismatch: a has shape {a.shape}, b has shape "
                             f"{b.shape}; a.shape[-1] ({a.shape[-1]}) must equal "
                             f"b.shape[{0 if b.ndim == 1 else -2}] ({inner_b})")
        self.a, self.b = a, b
        return a @ b

    def backward(self, s):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            s = s[..., None]
        if a.ndim == 1:
            s = s[..., None, :]
        ga = s @ np.swapaxes(b2, -1, -2)
        gb = np.swapaxes(a2, -1, -2) @ s
        if a.ndim == 1:
            ga = ga[..., 0, :]
        if b.ndim == 1:
            gb = gb[..., 0]
        return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


def matmul(a, b):
    """``a @ b`` for Vars or arrays; shapes as in ``numpy.matmul``."""
    return MatMul.apply(_arg(a, "a"), _arg(b, "b"))


# -- elementwise functions: the argument receives s * f'(x) --------------------
class Exp(Op):
    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, s):
        return (s * self.y,)


class Log(Op):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, s):
        return (s / self.x,)


class Sin(Op):
    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, s):
        return (s * np.cos(self.x),)


class Cos(Op):
    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, s):
        return (-s * np.sin(self.x),)


class Tanh(Op):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, s):
        return (s * (1 - self.y * self.y),)


class Sigmoid(Op):
    def forward(self, x):
        self.y = expit(x)        # stable for large |x|, unlike 1 / (1 + exp(-x))
        return self.y

    def backward(self, s):
        return (s * self.y * (1 - self.y),)


class ReLU(Op):
    """max(x, 0); the derivative at 0 is taken as 0."""

    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, s):
        return (s * self.mask,)


class Softplus(Op):
    """log(1 + eˣ), computed as logaddexp(0, x) so large x does not overflow."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x).astype(x.dtype, copy=False)

    def backward(self, s):
        return (s * expit(self.x),)


def exp(x):
    """eˣ elementwise."""
    return Exp.apply(_arg(x, "x"))


def log(x):
    """Natural logarithm elementwise (x > 0)."""
    return Log.apply(_arg(x, "x"))


def sin(x):
    """sin(x) elementwise (radians)."""
    return Sin.apply(_arg(x, "x"))


def cos(x):
    """cos(x) elementwise (radians)."""
    return Cos.apply(_arg(x, "x"))


def tanh(x):
    """tanh(x) elementwise."""
    return Tanh.apply(_arg(x, "x"))


def sigmoid(x):
    """The logistic function 1 / (1 + e⁻ˣ) elementwise."""
    return Sigmoid.apply(_arg(x, "x"))


def relu(x):
    """max(x, 0) elementwise."""
    return ReLU.apply(_arg(x, "x"))


def softplus(x):
    """log(1 + eˣ) elementwise, a smooth ReLU."""
    return Softplus.apply(_arg(x, "x"))


# -- Var's operators: f = sin(x) + x * y reads like math ---------------------------
# They live here, with the ops they build, so core.py needs no import of this module.
def _binary(op, reflected=False, like=True):
    if reflected:
        return lambda self, other: op.apply(as_var(other, self if like else None), self)
    return lambda self, other: op.apply(self, as_var(other, self if like else None))


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """Route numpy ufuncs on Vars (``arr * x``, ``np.exp(x)``) to autodiff ops."""
    op = _UFUNCS.get(ufunc)
    if op is None or method != "__call__" or kwargs:
        return NotImplemented
    like = next(x for x in inputs if isinstance(x, Var))
    return op.apply(*(as_var(x, like) for x in inputs))


_UFUNCS = {np.add: Add, np.subtract: Sub, np.multiply: Mul, np.true_divide: Div, np.power: Pow,
           np.matmul: MatMul, np.negative: Neg, np.exp: Exp, np.log: Log, np.sin: Sin,
           np.cos: Cos, np.tanh: Tanh}

for _name, _op in (("add", Add), ("sub", Sub), ("mul", Mul), ("truediv", Div), ("pow", Pow)):
    setattr(Var, f"__{_name}__", _binary(_op))
    setattr(Var, f"__r{_name}__", _binary(_op, reflected=True))
Var.__matmul__ = _binary(MatMul, like=False)
Var.__rmatmul__ = _binary(MatMul, reflected=True, like=False)
Var.__neg__ = lambda self: Neg.apply(self)
Var.__pos__ = lambda self: self
Var.__array_ufunc__ = _array_ufunc
