"""Automatic differentiation on expression graphs of numpy arrays.

Backprop is reverse-mode automatic differentiation (Linnainmaa 1970; Rumelhart,
Hinton & Williams 1986; the engine's shape follows Karpathy's micrograd, 2020): variables and
operations form an expression graph, each variable remembers its creator,
``backward`` starts from 1 at the top and each operation passes
``s · ∂op/∂arg`` down to its arguments, where it accumulates in ``grad``.
This package is that engine, small enough to read in one sitting, with
matrices: ``∇A`` of ``A + B`` is ``s``; ``∇A`` of ``A @ B`` is ``s Bᵀ`` and
``∇B`` is ``Aᵀ s``.

Examples
--------
>>> from ratenet.autodiff import Var, sin
>>> x, y = Var(2.0), Var(3.0)
>>> f = sin(x) + x * y
>>> f.backward()
>>> x.grad, y.grad                 # cos(2) + 3, 2
(array(2.58385316), array(2.))

Where things live (read them in this order):

- ``core``   ``Var``, ``Op``, ``backward``, ``no_grad``, ``zero_grad`` (the graph only)
- ``ops``    ``+ - * / ** @`` and negation, exp, log, sin, cos, tanh,
  sigmoid, relu, softplus (and Var's operators)
- ``arrays`` sum, mean, softmax, log_softmax, reshape, transpose, indexing
  (and ``Var.sum``, ``Var.T``, ``Var[...]``)
- ``bridge`` ``AutodiffLoss`` (a loss for ``fit`` written in autodiff) and
  ``check_layer`` (a ratenet layer against the same computation in autodiff)
"""
from .arrays import (GetItem, LogSoftmax, Mean, Reshape, Softmax, Sum, Transpose,
                              getitem, log_softmax, mean, reshape, softmax, sum, transpose)
from .bridge import AutodiffLoss, LayerCheck, check_layer
from .core import (Op, Var, as_var, is_grad_enabled, no_grad, topological_order,
                            unbroadcast, zero_grad)
from .ops import (Add, Cos, Div, Exp, Log, MatMul, Mul, Neg, Pow, ReLU, Sigmoid, Sin,
                           Softplus, Sub, Tanh, cos, exp, log, matmul, relu, sigmoid, sin,
                           softplus, tanh)

__all__ = [
    # engine
    "Var", "Op", "no_grad", "is_grad_enabled", "zero_grad", "topological_order",
    "as_var", "unbroadcast",
    # functions
    "matmul", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "softplus",
    "sum", "mean", "softmax", "log_softmax", "reshape", "transpose", "getitem",
    # operation classes (for reading, subclassing and isinstance checks)
    "Add", "Sub", "Mul", "Div", "Pow", "Neg", "MatMul", "Exp", "Log", "Sin", "Cos",
    "Tanh", "Sigmoid", "ReLU", "Softplus", "Sum", "Mean", "Softmax", "LogSoftmax",
    "Reshape", "Transpose", "GetItem",
    # bridge to the layer API
    "AutodiffLoss", "check_layer", "LayerCheck",
]
