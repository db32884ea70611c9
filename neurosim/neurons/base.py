"""The neuron-model contract: a model declares its parameters, its state and one vectorized step.

A model is a small class in the spirit of Nengo's ``NeuronType``::

    class QIF(neurosim.NeuronModel):
        state = {"v": 0.0}                          # name -> initial value (or StateVar)

        def __init__(self, tau=0.01, v_reset=-1e3):  # parameters are constructor keywords
            super().__init__(tau=tau, v_reset=v_reset)

        def step(self, dt, J, v):                    # update the state in place, return who spiked
            ...
            return spiked

Everything else is derived from these declarations: a network allocates one array per
state variable (per neuron and trial), probes any of them by name, snapshots and restores
them, runs them in batch, and ``simulate`` / :func:`neurosim.tuning_curve` measure the
model's f-I curve. The model object holds parameters only; its state lives in the arrays
the runtime owns and passes to ``step``.

One step is a transaction (:func:`advance`): ``step`` runs on scratch copies of the state,
its result is checked (a boolean array of the right shape, finite state), and only then is
the state committed. So an exception or Ctrl-C inside user code leaves the state at the last
step boundary, and a continued run equals an uninterrupted one.
"""
import inspect

import numpy as np

from .. import validation as check
from ..errors import SimulationError
from ._limits import MAX_RECORD_BYTES, MAX_STEPS


class StateVar:
    """A declared state variable: its initial value and unit (for documentation and probes).

    Parameters
    ----------
    initial : float
        Value of every neuron at t = 0 (a population's ``v0`` overrides the one named "v").
    unit : str
        E.g. "mV", "1" (dimensionless, default), "A".
    """

    __slots__ = ("initial", "unit", "doc")

    def __init__(self, initial=0.0, unit="1", doc=""):
        self.initial = check.check_number("initial", initial)
        self.unit = check.check_str("unit", unit)
        self.doc = check.check_str("doc", doc)

    @classmethod
    def builtin(cls, initial, unit, doc):
        """A built-in model's declaration, whose initial value may be -inf (a time: "never") or None
        (computed by the model when a population is built, e.g. HH gates at rest)."""
        var = cls.__new__(cls)
        var.initial, var.unit, var.doc = initial, unit, doc
        return var

    def __repr__(self):
        return f"StateVar({self.initial!r}, unit={self.unit!r})"


class Declares:
    """What every neuron kind declares: its state variables (``state``, name -> initial value or StateVar).

    The built-in models (LIF, HodgkinHuxley) and every :class:`NeuronModel` share it. A network
    reads the declaration to allocate, probe, snapshot and restore a population's state.
    """

    state = {}

    @classmethod
    def state_variables(cls):
        """The declared state: ``{name: StateVar}`` in declaration order."""
        out = {}
        for name, spec in cls.state.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise TypeError(f"{cls.__name__}.state: names must be identifiers, got {name!r}")
            out[name] = spec if isinstance(spec, StateVar) else StateVar(spec)
        return out


class NeuronModel(Declares):
    """Base class of neuron models defined by their state and one vectorized step.

    Subclasses give:

    ``state`` (class attribute)
        ``{name: initial value or StateVar}``, in the order the arrays are passed to ``step``.
    parameters
        Constructor keywords, stored by ``super().__init__(**params)`` as attributes. Each is a
        number, or an array with one value per neuron (shape ``(n,)``: it broadcasts against
        the state arrays, also with a batch).
    ``step(self, dt, J, **state) -> spiked``
        Advance every neuron by ``dt`` seconds with the total input ``J`` held constant:
        update the state arrays in place and return a boolean array (True: spiked in this
        step). Optionally return ``(spiked, offsets)``, offsets in seconds after the step's
        start (shape of ``J``, read where ``spiked``), for spike times inside the step;
        otherwise a spike is stamped at the start of its step (Brian2's convention).
        Arrays have shape ``(n,)``, or ``(B, n)`` in a network with ``batch=B``.

    A subclass may set ``input_unit`` (the unit of J, for docs). ``Network(timing="precise")``
    refuses user models: a grid step has no exact spike-time method.

    Compiled steps: when numba is importable, ``step`` is compiled with ``numba.njit`` (``self``
    becomes a namedtuple of the parameters, so the step may read ``self.<parameter>`` and call
    numpy functions numba supports; see :mod:`neurosim.neurons.compiled_model`). A step numba
    cannot compile runs as Python, with one ``RuntimeWarning`` naming numba's error. A class
    sets ``jit = False`` to keep its step in Python without trying (the built-in AdEx,
    Izhikevich and IF do: their vectorized steps call other methods or touch only the spiking neurons).
    """

    input_unit = "1"
    default_dt = 1e-4
    jit = True

    def __init__(self, **params):
        for name, value in params.items():
            setattr(self, name, _parameter(name, value))

    # ---- declarations ------------------------------------------------------------------
    @property
    def parameters(self):
        """``{name: value}`` of the constructor keywords (read from the signature of ``__init__``)."""
        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values()
                 if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        return {name: getattr(self, name) for name in names if hasattr(self, name)}

    def step(self, dt, J, **state):
        raise NotImplementedError(f"{type(self).__name__} must define step(self, dt, J, **state) -> spiked")

    def check_population(self, n):
        """Refuse per-neuron parameters whose length is not n (called when a population is built)."""
        for name, value in self.parameters.items():
            if isinstance(value, np.ndarray) and value.ndim and value.shape != (n,):
                raise ValueError(f"{type(self).__name__}.{name}: a per-neuron parameter must have shape ({n},) "
                                 f"for a population of {n} neurons, got shape {value.shape}")

    def initial_state(self, shape, v0=None):
        """Fresh state arrays ``{name: ndarray(shape)}``; ``v0`` (broadcastable) sets the variable "v"."""
        arrays = {name: np.full(shape, var.initial) for name, var in self.state_variables().items()}
        if v0 is not None:
            if "v" not in arrays:
                raise ValueError(f"v0: {type(self).__name__} declares no state variable 'v' "
                                 f"(its state: {sorted(arrays)})")
            arrays["v"][...] = v0
        return arrays

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        return f"{type(self).__name__}({params})"

    # ---- single-population simulation (tuning curves) ----------------------------------------
    def simulate(self, J, T, dt=None, record=(), max_steps=MAX_STEPS, max_record_bytes=MAX_RECORD_BYTES,
                 backend="auto"):
        """Simulate ``M`` unconnected neurons with constant inputs ``J`` for ``T`` seconds.

        Parameters
        ----------
        J : float or array_like (M,)
            Input of each neuron, in the model's ``input_unit``; per-neuron parameters must have
            shape (M,).
        T, dt : float
            Duration and step in seconds (dt defaults to ``default_dt``).
        record : sequence of str
            State variables to record at the end of every step.
        max_steps, max_record_bytes : int
            Limits checked before anything runs or is allocated (ValueError above them).
        backend : {"auto", "numpy", "numba"}
            How ``step`` runs: "numpy" calls the Python method; "numba" compiles it (ImportError
            without numba); "auto" (default) compiles it when numba is importable (and
            ``NEUROSIM_BACKEND`` is not "numpy"). A step numba cannot compile runs as Python with one
            warning. The results agree to rounding either way.

        Returns
        -------
        neurosim.SimulationResult
            Spikes (``events()``, ``rates()``), and ``t`` plus one (steps, M) trace per recorded variable.
        """
        from ..spikes import SimulationResult, SpikeRecorder
        from .._optional import require_numba
        from .compiled_model import stepper
        backend = check.check_choice("backend", backend, ("auto", "numpy", "numba"))
        if backend == "numba":
            require_numba()
        J = check.finite_array("J", J).reshape(-1)
        if J.size == 0:
            raise ValueError("J must hold at least one input, got an empty array")
        dt = self.default_dt if dt is None else check.positive("dt", dt)
        steps = check.n_steps(T, dt, max_steps=max_steps)
        names = list(self.state_variables())
        record = [record] if isinstance(record, str) else list(record)
        for name in record:
            if name not in names:
                raise ValueError(f"record: {name!r} is not a state variable of {type(self).__name__} "
                                 f"(declared: {names})")
        check.check_work("recorded traces", 8 * steps * J.size * len(record), max_record_bytes,
                         "max_record_bytes", unit="bytes")
        self.check_population(J.size)
        state = self.initial_state(J.shape)
        traces = {name: np.empty((steps, J.size)) for name in record}
        recorder = SpikeRecorder(J.size, dt)
        scratch = {name: np.empty_like(a) for name, a in state.items()}
        step = stepper(self, None if backend == "auto" else backend == "numba")
        for k in range(steps):
            idx, offsets = advance(self, dt, J, state, scratch, t0=k * dt, step=step)
            if idx.size:
                recorder._record(k, idx, offsets)
            for name in record:
                traces[name][k] = state[name]
        t = (np.arange(steps) + 1) * dt if record else None
        return SimulationResult(recorder, steps * dt, t=t, **traces)


def advance(model, dt, J, state, scratch, t0=0.0, commit=True, step=None):
    """One transactional step of ``model``: run ``step`` on ``scratch``, check it, then commit into ``state``.

    Parameters
    ----------
    state, scratch : dict name -> ndarray
        The committed state and same-shaped work arrays (all of one shape, (n,) or (B, n)).
    commit : bool
        Copy the stepped scratch into ``state`` (True), or leave it in ``scratch`` for the
        caller to swap in (a network commits later, after every part of the step is prepared).
    J : ndarray
        Total input, the shape of the state arrays.
    step : callable, optional
        What runs the step, ``step(dt, J, **state)``: default ``model.step``; a
        :class:`neurosim.neurons.compiled_model.CompiledStep` runs it compiled by numba.

    Returns
    -------
    (indices, offsets) : flat indices (int64) of the neurons that spiked and their offsets (s) after t0.

    Raises
    ------
    TypeError
        ``step`` returned something other than a boolean array of the state's shape.
    SimulationError
        A state variable became non-finite (nothing is committed).
    """
    for name, a in state.items():
        np.copyto(scratch[name], a)
    out = (model.step if step is None else step)(dt, J, **scratch)
    offsets = None
    if isinstance(out, tuple) and len(out) == 2:
        out, offsets = out
    shape = J.shape
    if not isinstance(out, np.ndarray) or out.dtype != bool or out.shape != shape:
        got = (f"{type(out).__name__}" if not isinstance(out, np.ndarray) else f"{out.dtype} array {out.shape}")
        raise TypeError(f"{type(model).__name__}.step must return a boolean array of shape {shape} "
                        f"(or (spiked, offsets)), got {got}")
    for name, a in scratch.items():
        if a.shape != shape:
            raise TypeError(f"{type(model).__name__}.step replaced state variable {name!r} "
                            f"(shape {a.shape}); update it in place")
        if not np.isfinite(a).all():
            bad = int(np.flatnonzero(~np.isfinite(a.reshape(-1)))[0])
            raise SimulationError(f"{type(model).__name__}: state variable {name!r} of neuron {bad} became "
                                  f"non-finite in the step at t={t0:g} s (dt={dt:g} s); a smaller dt or "
                                  f"a stabler step is needed")
    idx = np.flatnonzero(out.reshape(-1))
    if offsets is None:
        off = np.zeros(idx.size)
    else:
        off = np.asarray(offsets, dtype=float).reshape(-1)[idx] if np.ndim(offsets) else np.full(idx.size,
                                                                                                   float(offsets))
        if off.size and not (np.all(off >= 0.0) and np.all(off < dt)):
            raise ValueError(f"{type(model).__name__}.step: spike offsets must lie in [0, dt) = [0, {dt:g}) s")
    if commit:
        for name, a in state.items():
            np.copyto(a, scratch[name])
    return idx, off


def _parameter(name, value):
    """A model parameter: a finite number, or a finite 1-D array (one value per neuron)."""
    if isinstance(value, (str, bytes)) or value is None or callable(value):
        return value  # options (a method name, a rule) are the model's to check
    arr = np.asarray(value)
    if arr.dtype == bool:
        return value
    if arr.ndim == 0:
        return check.check_number(name, value)
    arr = check.finite_array(name, value)
    if arr.ndim != 1:
        raise ValueError(f"{name}: a per-neuron parameter must be 1-D (one value per neuron), got shape {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)  # the description is changed by assignment, never in place
    return arr
