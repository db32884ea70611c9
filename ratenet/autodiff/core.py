"""The engine of ``ratenet.autodiff``: ``Var``, ``Op``, ``backward``, ``no_grad``.

A ``Var`` wraps a numpy array. Every operation on Vars is a small ``Op``
object that computes its value in ``forward`` and remembers its arguments;
the resulting Var points back to it through ``.creator``. Together they form
an expression graph. ``f.backward()`` walks that graph once, from ``f`` down
to the leaves, in reverse topological order: each Op receives
``s = dL/d(output)`` and passes ``s · d(output)/d(arg)`` to each argument,
where it is added to ``arg.grad``.

This module holds the engine and imports nothing else from the package;
``ops`` holds the arithmetic and elementwise operations (and gives ``Var`` its
operators), ``arrays`` the reductions, softmax and shape operations (and
``Var.sum``, ``Var.reshape``, ...). Import everything from ``ratenet.autodiff``.
"""
import contextlib
import numbers
import threading

import numpy as np

from neurosim.validation import check_bool, check_shape_tuple, check_str, real_array

# Grad mode is per thread, as in PyTorch, so a no_grad() block in one thread
# does not silently switch off gradients in another.
_state = threading.local()


def is_grad_enabled():
    """Return True unless called inside a ``no_grad()`` block."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Context manager: operations inside build no graph.

    Results have ``creator = None`` and ``requires_grad = False``; use it to
    evaluate a model or to update parameters without recording the update.

    Examples
    --------
    >>> with no_grad():
    ...     y = (x * 2).sum()      # y.creator is None
    """
    previous = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous


def _as_float_array(value, name="value"):
    """Convert array_like to a floating numpy array (ints and bools -> float64)."""
    if isinstance(value, Var):
        raise TypeError(f"{name} must be array_like, got a Var; use var.value "
                        "or var.detach() to wrap its value in a new leaf")
    if value is None:
        raise TypeError(f"{name} must be array_like, got None")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array_like of real numbers ({exc})") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} "
                        "(allowed: bool, integer or floating)")
    return arr


def _arg(x, name):
    """A public function's argument as a Var (array_likes become constants), checked by name."""
    if isinstance(x, Var):
        return x
    return Var(_as_float_array(x, name), requires_grad=False)


def as_var(x, like=None):
    """Return ``x`` if it is a Var, else wrap it as a constant (no gradient).

    A plain Python or numpy scalar takes the dtype of ``like`` (a Var), so
    ``x32 * 2.0`` stays float32 instead of being promoted to float64.
    """
    if isinstance(x, Var):
        return x
    if like is not None and not isinstance(like, Var):
        raise TypeError(f"like must be a Var or None, got {type(like).__name__}")
    if like is not None and isinstance(x, numbers.Number) and not isinstance(x, complex):
        return Var(np.asarray(x, dtype=like.dtype), requires_grad=False)
    return Var(_as_float_array(x, "x"), requires_grad=False)


def unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched (checked public form).

    Parameters
    ----------
    g : array_like
        A gradient of the broadcast shape.
    shape : tuple of int
        The shape the argument had before broadcasting.
    """
    g = real_array("g", g, dtype=None, finite=False)
    shape = check_shape_tuple("shape", shape)
    if len(shape) > g.ndim or any(n not in (1, m) for n, m in zip(shape[::-1], g.shape[::-1])):
        raise ValueError(f"shape {shape} does not broadcast to g's shape {g.shape}")
    return _unbroadcast(g, shape)


def _unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched.

    If ``a`` of ``shape`` was broadcast to ``g.shape`` in the forward pass, each
    element of ``a`` was used once per copy, so its gradient is the sum of the
    gradients of all its copies.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


class Var:
    """A node of the expression graph: a numpy array and its gradient.

    Parameters
    ----------
    value : array_like
        The value; bool and integer input becomes float64, floating input
        keeps its dtype and is not copied (so ``x.value -= lr * x.grad``
        updates the array in place). Operations keep references to their
        inputs, so change values only between a backward and the next forward.
    requires_grad : bool, default True
        Whether ``backward`` computes a gradient for this Var.
    name : str, optional
        Label shown in ``repr``.

    Attributes
    ----------
    value : ndarray
        The array.
    grad : ndarray or None
        ``dL/dvalue``, same shape as ``value``, accumulated by ``backward``
        (zeros before the first call); None if ``requires_grad`` is False.
    creator : Op or None
        The operation that produced this Var (None for leaves).
    """

    # numpy hands mixed expressions (ndarray * Var, np.sin(Var)) to
    # __array_ufunc__ (attached in ops.py) instead of building an object array; the
    # priority covers the few paths (e.g. ndarray.__matmul__ in old numpy) that ask for it.
    __array_priority__ = 1000

    def __init__(self, value, requires_grad=True, name=None):
        self.value = _as_float_array(value)
        self.requires_grad = requires_grad if requires_grad is True or requires_grad is False else \
            check_bool("requires_grad", requires_grad)
        if name is not None:
            check_str("name", name)
        self.creator = None
        self.name = name
        self._grad = None

    # -- array-like properties -------------------------------------------
    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)
    dtype = property(lambda self: self.value.dtype)

    def __len__(self):
        return len(self.value)

    @property
    def grad(self):
        # Allocated on first use: intermediate results of a forward pass
        # under no_grad, or constants, never need one.
        if self._grad is None and self.requires_grad:
            self._grad = np.zeros_like(self.value)
        return self._grad

    @grad.setter
    def grad(self, g):
        if g is not None:
            g = np.array(g, dtype=self.dtype)
            if g.shape != self.shape:
                raise ValueError(f"grad must have the shape of value {self.shape}, got {g.shape}")
        self._grad = g

    def item(self):
        """The value of a one-element Var as a Python float."""
        return self.value.item()

    def detach(self):
        """A new leaf with the same value (shared array) and no history."""
        return Var(self.value, requires_grad=False, name=self.name)

    def __repr__(self):
        label = f"{self.name}, " if self.name else ""
        creator = f", creator={type(self.creator).__name__}" if self.creator else ""
        return f"Var({label}shape={self.shape}, dtype={self.dtype}{creator})"

    # -- the backward pass ---------------------------------------------------
    def backward(self, grad=None):
        """Accumulate ``d self / d v`` (times ``grad``) into ``v.grad`` for every Var below.

        Parameters
        ----------
        grad : array_like, optional
            The seed ``s = dL/dself``, same shape as ``self``. Defaults to 1,
            which is only allowed when ``self`` has a single element.

        Notes
        -----
        Nodes are visited once each, in reverse topological order, so a Var
        used several times (or a diamond-shaped graph) receives the sum of all
        its contributions before it passes anything on. The traversal is
        iterative: a chain of any depth works without recursion. Gradients
        add up over calls; call ``zero_grad`` in between.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() called on a Var that does not require grad "
                               "(was it computed under no_grad()?)")
        if grad is None:
            if self.size != 1:
                raise ValueError(f"grad must be given for a non-scalar output of shape "
                                 f"{self.shape}; backward() without grad needs one element")
            seed = np.ones_like(self.value)
        else:
            seed = real_array("grad", grad, dtype=self.dtype)   # NaN/inf seeds: ValueError
            if seed.shape != self.shape:
                raise ValueError(f"grad has shape {seed.shape}, the output has shape "
                                 f"{self.shape}; they must be equal")
        # This pass's contributions are kept apart from .grad, so calling
        # backward twice adds exactly two gradients, not 1 + 2.
        pending = {id(self): seed}
        for node in reversed(topological_order(self)):
            s = pending.pop(id(node), None)
            if s is None:        # no path from self to node carries a gradient
                continue
            node.grad += s
            op = node.creator
            if op is None:
                continue
            grads = op.backward(s)
            if not isinstance(grads, (tuple, list)):
                grads = (grads,)
            if len(grads) != len(op.args):
                raise RuntimeError(f"{type(op).__name__}.backward returned {len(grads)} "
                                   f"gradients for {len(op.args)} arguments")
            for arg, g in zip(op.args, grads):
                if g is None or not arg.requires_grad:
                    continue
                g = np.asarray(g)
                if g.shape != arg.shape:
                    raise RuntimeError(f"{type(op).__name__}.backward returned a gradient of "
                                       f"shape {g.shape} for an argument of shape {arg.shape}")
                key = id(arg)
                pending[key] = g if key not in pending else pending[key] + g

    def zero_grad(self, graph=False):
        """Reset ``grad`` to zeros.

        Parameters
        ----------
        graph : bool, default False
            If True, reset every Var in the graph below (and including) this one.
        """
        nodes = topological_order(self) if graph else [self]
        for node in nodes:
            if node._grad is not None:
                node._grad.fill(0)

    # The operators (+ - * / ** @, numpy ufuncs) and the array methods (sum, mean,
    # reshape, transpose, T, indexing) are attached where their ops are defined,
    # in ops.py and arrays.py: this module holds only the graph machinery and
    # imports neither.


class Op:
    """Base class of operations: subclass and define ``forward`` and ``backward``.

    ``forward(*values)`` receives the arguments' ndarrays and returns the
    output ndarray; it may save on ``self`` whatever ``backward`` needs.
    ``backward(s)`` receives ``s = dL/d(output)`` (shape of the output) and
    returns one gradient per argument, each of that argument's shape (or None
    for an argument that needs none). Keyword arguments of ``apply`` go to
    ``__init__``.

    Examples
    --------
    >>> class Square(Op):
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x * x
    ...     def backward(self, s):
    ...         return (2 * self.x * s,)
    >>> y = Square.apply(Var(3.0))      # y.value == 9; after y.backward(), dy/dx == 6
    """

    args = ()

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on Vars (or array_likes, taken as constants) and record it."""
        op = cls(**kwargs)
        args = tuple(as_var(a) for a in args)
        out = Var(op.forward(*(a.value for a in args)), requires_grad=False)
        if is_grad_enabled() and any(a.requires_grad for a in args):
            op.args = args
            out.creator = op
            out.requires_grad = True
        return out

    def forward(self, *values):
        raise NotImplementedError

    def backward(self, s):
        raise NotImplementedError


def topological_order(root):
    """The Vars below ``root`` that require grad, each after all of its arguments.

    An iterative depth-first search (an explicit stack, no recursion), so
    graphs of any depth work. The last element is ``root`` itself.
    """
    if not isinstance(root, Var):
        raise TypeError(f"root must be a Var, got {type(root).__name__}")
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if id(node) in seen or not node.requires_grad:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if node.creator is not None:
            stack.extend((arg, False) for arg in node.creator.args if id(arg) not in seen)
    return order


def zero_grad(*vars):
    """Reset the gradients of every Var in the graphs below ``vars``."""
    if len(vars) == 1 and isinstance(vars[0], (list, tuple)):
        vars = tuple(vars[0])          # zero_grad([a, b]) as zero_grad(a, b)
    for i, v in enumerate(vars):
        if not isinstance(v, Var):
            raise TypeError(f"vars[{i}] must be a Var, got {type(v).__name__}")
    for v in vars:
        v.zero_grad(graph=True)
