"""A user :class:`neurosim.NeuronModel`'s ``step`` compiled with numba, or the Python step with one warning.

``type(model).step`` is compiled with ``numba.njit`` as it is written; ``self`` is replaced by a
namedtuple of the model's parameters (numba supports attribute access on namedtuples), so
``self.tau`` in the step reads the parameter. A step that numba cannot compile (it calls other
methods of ``self``, reads attributes that are not constructor parameters, uses Python objects
numba does not type, ...) runs as Python instead, and a ``RuntimeWarning`` says so once per model
class and argument types, with numba's error summary.

The compiled function is cached per model class and argument types (numba's dispatcher keeps one
specialization per type signature), so a sweep over parameter values compiles once. ``fastmath``
is off: the compiled step gives the Python step's numbers to rounding (tests/neurosim/test_kinds.py).

The transaction around the step (scratch copies, the checks of its result, the commit) is
:func:`neurosim.neurons.base.advance`'s, unchanged: only the call of ``step`` differs.
"""
import collections
import inspect
import warnings

import numpy as np

from .._optional import numba_enabled

_DISPATCHERS = {}  # model class -> (numba dispatcher, parameter namedtuple type, positional state names)
_FAILED = {}       # (model class, argument type key) -> numba's error summary
_WARNED = set()


class CompiledStep:
    """``step(dt, J, **state)`` of ``model``, compiled where numba can, else the Python method.

    Parameters
    ----------
    model : neurosim.NeuronModel
        The model; its parameters are read at each call (an assigned parameter takes effect at
        the next step, as with the Python step).

    Attributes
    ----------
    compiled : bool or None
        True once a call ran compiled, False once it fell back to Python, None before the first call.
    """

    def __init__(self, model):
        self.model = model
        self.compiled = None
        self._entry = None  # (dispatcher, Params, state names), looked up at the first call
        self._keys = None   # the state names of the last call (checked once per set of names)

    def __call__(self, dt, J, **state):
        model = self.model
        entry = self._entry
        if entry is None:
            entry = self._entry = _dispatcher(type(model)) or False
        if entry is False:
            return self._python(dt, J, state, "step takes *args or **kwargs; numba needs the state variables "
                                              "as named arguments")
        dispatcher, Params, names = entry
        if self._keys != state.keys():
            if set(names) != set(state):
                return self._python(dt, J, state, "step's arguments are not (dt, J, <declared state>)")
            self._keys = state.keys()
        try:
            params = Params(*[getattr(model, f) for f in Params._fields])
        except AttributeError as err:
            return self._python(dt, J, state, f"a parameter is missing ({err})")
        args = (params, float(dt), J, *[state[n] for n in names])
        key = (type(model), _type_key(args))
        if key in _FAILED:
            return self._python(dt, J, state, _FAILED[key])
        try:
            out = dispatcher(*args)
        except _numba_error() as err:  # compilation failed: nothing ran, the state is untouched
            _FAILED[key] = _summary(err)
            return self._python(dt, J, state, _FAILED[key])
        self.compiled = True
        return out

    def _python(self, dt, J, state, why):
        if why is not None:
            self.compiled = False
            if type(self.model) not in _WARNED:  # once per model class
                _WARNED.add(type(self.model))
                warnings.warn(f"{type(self.model).__name__}.step runs as Python: numba cannot compile it "
                              f"({why})", RuntimeWarning, stacklevel=4)
        return self.model.step(dt, J, **state)


def stepper(model, compile=None):
    """The step function to call for ``model``: a :class:`CompiledStep`, or the bound Python ``step``.

    Parameters
    ----------
    model : neurosim.NeuronModel
    compile : bool, optional
        Compile (True), run Python (False) or decide: compile when numba is importable and
        ``NEUROSIM_BACKEND`` is not "numpy" (None, default).
    """
    if compile is None:
        compile = numba_enabled()
    if not compile or not getattr(type(model), "jit", True) or _is_base_step(type(model).step):
        return model.step
    return CompiledStep(model)


def _numba_error():
    from numba.core.errors import NumbaError
    return NumbaError


def _is_base_step(fn):
    """NeuronModel's own step (which raises NotImplementedError), identified without importing base (a cycle)."""
    return getattr(fn, "__module__", None) == "neurosim.neurons.base" and fn.__qualname__ == "NeuronModel.step"


def _dispatcher(cls):
    if cls in _DISPATCHERS:
        return _DISPATCHERS[cls]
    import numba
    fn = cls.step
    sig = inspect.signature(fn)
    args = list(sig.parameters.values())
    entry = None
    if (len(args) >= 3 and all(a.kind is a.POSITIONAL_OR_KEYWORD for a in args)):
        names = tuple(a.name for a in args[3:])
        fields = sorted(_parameter_names(cls))
        Params = collections.namedtuple(f"{cls.__name__}Parameters", fields)
        entry = (numba.njit(fn), Params, names)
    _DISPATCHERS[cls] = entry
    return entry


def _parameter_names(cls):
    sig = inspect.signature(cls.__init__)
    return [p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _type_key(args):
    """A cheap key of what numba's types depend on: Python type, and dtype, ndim, layout of arrays."""
    key = []
    for a in args:
        if isinstance(a, tuple):
            key.append(_type_key(a))
        elif a.__class__ is np.ndarray:
            key.append((a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.writeable))
        else:
            key.append(a.__class__)
    return tuple(key)


def _summary(err):
    """numba's error, short: its first explanatory line and where in the step (without the traceback)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    what = next((ln for ln in lines if not ln.startswith(("Failed in", "During:", "File", "^", "<source", "-"))),
                lines[0] if lines else "")
    where = next((ln.rstrip(":") for ln in lines if ln.startswith("File ")), None)
    return f"{type(err).__name__}: {what[:300]}" + (f" ({where})" if where else "")
