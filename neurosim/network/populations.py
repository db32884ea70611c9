"""Populations: the description (:class:`Population`) and the runtime stepping of each neuron kind.

A population kind plugs into the runtime through :data:`KINDS`: a model class
maps to a runtime class with this interface (all arrays flat over
``B * n`` neurons, trial-major, or ``(n,)`` without a batch):

``__init__(pop, B, dt, groups, inputs)``
    Build the state. ``groups`` are the :class:`SynapseGroup` s into the
    population, ``inputs`` its :class:`CurrentInputRuntime` s.
``prepare(k, t0)``
    Everything of step k that may fail or draw random numbers (user input
    functions, noise draws). Must not change committed state.
``step(k, t0) -> (indices, offsets)``
    Advance the neurons over ``[t0, t0 + dt)`` (commit phase; must not raise
    on valid state): flat indices of the neurons that spiked and their offsets (s)
    after t0.
``arrays()``
    The model's declared state variables (``model.state_variables()``) -> their flat arrays.
    Probes of a state variable, snapshots and restores are derived from it.
``snapshot_extra()`` / ``restore_extra(extra)``
    What carries from step to step besides the declared state: random streams,
    an integrator's buffers, queued events (None when nothing).
"""
import numpy as np

from .. import validation as check
from .changes import read_only
from .connections import membrane_coefficients
from .plan import Stateful
from .views import select
from ..neurons.base import NeuronModel, advance
from ..neurons.compiled_model import stepper
from .._optional import numba_enabled
from ..errors import SimulationError
from ..neurons.hh import HHState, HodgkinHuxley
from ..neurons.integrate import IF, settle
from ..neurons.lif import LIF, LIFState
from ..neurons.lif.conductance import ConductanceInput, conductance_current
from ..synapses.conductance import is_conductance, step_mean_coefficients
from ..synapses.delta import Delta, apply_jumps


class Population:
    """N LIF or Hodgkin-Huxley neurons with per-neuron bias (a description: parameters only).

    Attributes
    ----------
    model : LIF or HodgkinHuxley
        Normalized LIF model (threshold 1, reset 0), or an HH model (mV, uA/cm^2).
    n : int
    bias : ndarray (n,) or (B, n)
        Constant input added to every neuron, in the units the population was built
        with: normalized J (LIF), amperes (LIF from ``LIFUnits``) or uA/cm^2 (HH);
        one row per trial with a batch. Assigning converts back.
    v0 : ndarray (n,) or (B, n)
        Initial voltages: normalized (LIF), volts (``LIFUnits``) or mV (HH).
    normalized : object with ``bias`` and ``v0``
        The same values in the model's internal units (normalized for LIF), which the
        runtime and the exporters use.
    name : str
    units : LIFUnits or None
        The physical description when the population was built from one.
    method : str or None
        HH integrator (see :mod:`neurosim.neurons.hh`); None for LIF.
    inputs : list of CurrentInput
        Currents injected with ``Network.add_current_input``.
    """

    def __init__(self, model, n, bias, v0, name, units, method=None):
        """``bias`` and ``v0`` are in the model's internal units (normalized for LIF)."""
        self.model, self.n, self.name, self.units = model, n, name, units
        self.normalized = _Values(read_only(bias), read_only(v0))
        self.method = method
        self.inputs = []
        self.noise = None  # set by Network.add_noise: dict(sigma, tau_noise, seeds)

    @property
    def bias(self):
        u = self.units
        return self.normalized.bias if u is None else u.J_to_current(self.normalized.bias)

    @bias.setter
    def bias(self, value):
        # takes effect at the next run of a built network (neurosim.network.changes)
        value = check.finite_array("bias", value)
        if not (value.ndim <= 1 and value.size in (1, self.n)) and not (value.ndim == 2 and value.shape[1] == self.n):
            raise ValueError(f"bias of {self.name!r} must be a scalar or shape ({self.n},) (or (B, {self.n}) "
                             f"with a batch), got shape {value.shape}")
        u = self.units
        self.normalized.bias = read_only(np.array(value if u is None else u.current_to_J(value), dtype=float))

    @property
    def v0(self):
        u = self.units
        return self.normalized.v0 if u is None else u.v_to_voltage(self.normalized.v0)

    @v0.setter
    def v0(self, value):
        # the state at t = 0: a built network refuses the change at its next run (call net.reset())
        value = check.finite_array("v0", value)
        u = self.units
        self.normalized.v0 = read_only(np.array(value if u is None else u.voltage_to_v(value), dtype=float))

    def __getitem__(self, key):
        """A subgroup (``pop[10:20]``, ``pop[[0, 5]]``, ``pop[mask]``) for connect, probe and add_current_input."""
        return select(self, key)

    def __repr__(self):
        return f"Population({self.model!r}, n={self.n}, name={self.name!r})"


class _Values:
    """``bias`` and ``v0`` of a population in internal units."""

    def __init__(self, bias, v0):
        self.bias, self.v0 = bias, v0

    def __repr__(self):
        return f"normalized(bias={self.bias!r}, v0={self.v0!r})"


def _flat(a, B, n):
    """(n,) or (B, n) description array -> a fresh contiguous float array (B * n,) ((n,) when B == 1)."""
    # reshape also when B == 1: a per-trial (1, n) array (batch=1) must give a flat (n,) state
    return np.array(np.broadcast_to(a, (B, n)), dtype=float).reshape(-1)


class _Base(Stateful):
    """Input assembly shared by the kinds: J = synaptic terms + bias + injected currents."""

    needs_prepare = False  # True for kinds with per-step draws of their own (noise)

    def __init__(self, pop, B, dt, groups, inputs):
        self.n, self.B, self.N = pop.n, B, B * pop.n
        self.groups, self.inputs = groups, inputs
        self.bias = _flat(pop.normalized.bias, B, pop.n)
        self.has_bias = bool(np.any(self.bias))
        # a bias equal for all neurons is added as a number: one array fewer to stream through per step
        self.bias_term = float(self.bias[0]) if np.all(self.bias == self.bias[0]) else self.bias
        self.J = np.empty(self.N)
        self.J2 = self.J.reshape(B, pop.n) if B > 1 else self.J
        self.tmp = np.empty(self.N)
        self.terms = []

    def prepare(self, k, t0):
        for inp in self.inputs:
            inp.prepare(k, t0, self.n)

    def input(self):
        """Fill and return J for this step (and decay the synaptic states listed with a decay factor)."""
        J, terms = self.J, self.terms
        if terms:
            x, c, decay = terms[0]
            _weigh(x, c, J)
            if decay is not None:
                x *= decay
            for x, c, decay in terms[1:]:
                tmp = self.tmp
                _weigh(x, c, tmp)
                if decay is not None:
                    x *= decay
                J += tmp
            if self.has_bias:
                J += self.bias_term
        else:
            J[:] = self.bias
        for inp in self.inputs:
            inp.add_to(self.J2)
        return J

    def set_bias(self, bias):
        """Use ``bias`` (B * n,) from the next step on (a bias assigned between runs)."""
        np.copyto(self.bias, bias)
        self.has_bias = bool(np.any(self.bias))
        self.bias_term = float(self.bias[0]) if np.all(self.bias == self.bias[0]) else self.bias

    def arrays(self):
        """``{declared state variable: its flat (B * n,) array}`` (the runtime's own arrays, not copies)."""
        raise NotImplementedError

    def value(self, kind):
        """What a probe of ``kind`` samples: a declared state variable, or "current" (synaptic input)."""
        arrays = self.arrays()
        if kind in arrays:
            return arrays[kind]
        if kind == "current":
            total = np.zeros(self.N)
            for g in self.groups:
                total += g.state.current
            return total
        raise KeyError(kind)



class _Unscaled:
    """``J[idx]`` from ``J (1 - exp(-dt/tau_m))``: for the few refractory and spiking neurons."""

    __slots__ = ("scaled", "factor")

    def __init__(self, scaled, factor):
        self.scaled, self.factor = scaled, factor

    def __getitem__(self, idx):
        return self.scaled[idx] * self.factor


class LIFRuntime(_Base):
    """LIF neurons advanced by :class:`neurosim.LIFState` (exact step, spikes at exact times in the step).

    The synaptic input over a step is the constant input equivalent to the
    decaying PSC cascade (:func:`membrane_coefficients`).
    """

    def __init__(self, pop, B, dt, groups, inputs):
        super().__init__(pop, B, dt, groups, inputs)
        sigma, tau_noise, gens = _noise_setup(pop)
        self.state = LIFState(pop.model, self.N, dt, v0=_flat(pop.normalized.v0, B, pop.n), noise=sigma, tau_noise=tau_noise,
                              rng=gens)
        self.needs_prepare = gens is not None
        self._drawn = None  # step whose noise is drawn (a retried step reuses it)
        self.J_decayed = np.empty(self.N)  # J (1 - exp(-dt/tau_m)), computed in place: no temporary per step
        self.conductances = ConductanceInput(pop, groups, dt, self.state)
        if self.conductances:
            self.value = self._value_with_conductances
        self.jumps = None  # a Delta group's jumps due at the step's start (neurosim.synapses.delta)
        psc = [g for g in groups if not isinstance(g.synapse, Delta)]
        if len(psc) < len(groups):
            self.jumps = next(g for g in groups if isinstance(g.synapse, Delta)).state.x[0]
        for g in psc:
            syn = g.synapse
            if self.conductances:  # tau_eff varies per step: currents are held at their exact step means
                if not is_conductance(syn):
                    self.terms.append((g.state.x, step_mean_coefficients(syn, dt), None))
                continue
            coef = membrane_coefficients(syn, self.state.tau_m, dt)
            # n = 0: one stage and a scalar coefficient, and the group's decay is done here, right after
            # J reads the state (one pass fewer from memory); else a dot product over stages
            if syn.n == 0:
                g.decayed_by_target = True
                self.terms.append((g.state.x[0], coef[0] if coef.ndim == 2 else float(coef[0]), g.state.decay))
            else:
                self.terms.append((g.state.x, coef, None))
        # bias only (no synapses, no injected current): J is constant, computed once
        self.constant = not psc and not inputs
        if self.constant:
            np.multiply(self.input(), self.state.one_minus_decay, out=self.J_decayed)
        # only n = 0 synapses and a bias, no noise: J (1 - exp(-dt/tau_m)) summed directly with
        # pre-scaled coefficients (one pass over N fewer per step); J itself is needed only for
        # the few refractory and spiking neurons (_Unscaled)
        self.direct = (bool(psc) and not inputs and self.state.sigma == 0 and not self.conductances
                       and all(c.__class__ is float for _, c, _ in self.terms))
        if self.direct:
            omd = self.state.one_minus_decay
            self.scaled = [(x, c * omd, decay) for x, c, decay in self.terms]
            self.bias_decayed = self.bias_term * omd if self.has_bias else None
            self.J_at = _Unscaled(self.J, 1.0 / omd)

    def set_bias(self, bias):
        super().set_bias(bias)
        omd = self.state.one_minus_decay
        if self.constant:
            np.multiply(self.input(), omd, out=self.J_decayed)
        if self.direct:
            self.bias_decayed = self.bias_term * omd if self.has_bias else None

    def use_backend(self, backend):
        """The network's requested backend: under "auto" (numba importable) a population of at least
        :data:`neurosim.neurons.fused.FUSED_MIN` neurons without noise or conductances, with one tau_m,
        does its free update and threshold test in one compiled pass
        (:func:`neurosim.neurons.fused.lif_free_update`; the same arithmetic, so the same spikes), and its
        refractory and spike bookkeeping in a few more (:meth:`neurosim.LIFState._step_updated_compiled`)."""
        self.fused = None
        s = self.state
        if (backend != "numpy" and numba_enabled() and s.sigma == 0 and not self.conductances
                and np.ndim(s.decay) == 0 and (self.constant or self.direct)):
            from ..neurons import fused
            if self.N >= fused.FUSED_MIN:
                self.fused = (fused.lif_free_update, float(s.decay), np.empty(self.N, dtype=np.int64))

    def _free_fused(self, J_decayed, J, t0):
        """The constant and direct paths' ``v = v decay + J_decayed`` and threshold test, compiled."""
        kernel, decay, idx = self.fused
        count = kernel(self.state.v, decay, J_decayed, idx)
        return self.state._step_updated_compiled(J, t0, idx[:count])

    def step(self, k, t0):
        if self.jumps is not None:
            fired = apply_jumps(self.state, self.jumps, t0)
            if fired.size:  # spikes at t0 (offset 0) before those of the step
                idx, off = self._step(k, t0)
                return np.concatenate((fired, idx)), np.concatenate((np.zeros(fired.size), off))
        return self._step(k, t0)

    def _step(self, k, t0):
        if self.conductances:
            g, g_E = self.conductances.sums()
            J = self.input() if self.terms or self.inputs else self.bias_term  # bias only: no copy into J
            return self.state._step_conductance(J, g, g_E, t0)
        if self.constant:
            if getattr(self, "fused", None) is not None:
                return self._free_fused(self.J_decayed, self.J, t0)
            return self.state._step(self.J, t0, self.J_decayed)
        if self.direct:
            return self._step_direct(t0)
        J = self.input()
        # into the input scratch (free once J is summed): a smaller working set than a separate array
        J_decayed = np.multiply(J, self.state.one_minus_decay, out=self.tmp)
        return self.state._step(J, t0, J_decayed)

    def _step_direct(self, t0):
        Jd, tmp, state = self.J, self.tmp, self.state
        x, c, decay = self.scaled[0]
        np.multiply(x, c, out=Jd)
        x *= decay
        for x, c, decay in self.scaled[1:]:
            np.multiply(x, c, out=tmp)
            x *= decay
            Jd += tmp
        if self.bias_decayed is not None:
            Jd += self.bias_decayed
        if getattr(self, "fused", None) is not None:
            return self._free_fused(Jd, self.J_at, t0)
        v = state.v
        v *= state.decay
        v += Jd
        return state._step_updated(self.J_at, t0)

    def _value_with_conductances(self, kind):
        """``value`` of a population with conductance inputs: "current" adds g (E_rev - v) of each one."""
        if kind == "current":
            return conductance_current(self.groups, self.conductances, self.state.v)
        return type(self).value(self, kind)

    def prepare(self, k, t0):
        super().prepare(k, t0)
        _draw_noise(self, k)

    def arrays(self):
        return {"v": self.state.v, "refractory_end": self.state.refractory_end}

    def snapshot_extra(self):  # the noise streams and the drawn numbers
        if not self.needs_prepare:
            return None
        return self.state.noise_state(), self._drawn

    def restore_extra(self, extra):
        s = self.state
        s.forget_refractory()  # refractory_end was written from outside the step
        if extra is not None:
            noise, self._drawn = extra
            s.set_noise_state(noise)


class HHRuntime(_Base):
    """Hodgkin-Huxley neurons advanced by :class:`neurosim.neurons.hh.HHState`.

    Each step, the synaptic current at the start of the step (after the spikes
    delivered at that boundary) is held constant over the step.
    """

    def __init__(self, pop, B, dt, groups, inputs):
        super().__init__(pop, B, dt, groups, inputs)
        sigma, _, gens = _noise_setup(pop)
        self.state = HHState(pop.model, self.N, dt, pop.method, v0=_flat(pop.normalized.v0, B, pop.n), warn=False,
                             noise=sigma, rng=gens, trials=B)
        self.needs_prepare = gens is not None
        self._drawn = None
        for g in groups:  # the current at the start of the step (last stage), held over the step
            self.terms.append((g.state.x[-1], 1.0, None))

    def prepare(self, k, t0):
        super().prepare(k, t0)
        _draw_noise(self, k)

    def use_backend(self, backend):
        """The network's requested backend: "auto" (numba importable) steps the neurons with the compiled HH
        kernel of ``HodgkinHuxley.simulate`` (:mod:`neurosim.neurons.hh.compiled`), one step per call, on the
        state's own buffers; "numpy" with the numpy steppers. The loop around stays the numpy runtime's."""
        self.compiled = None
        # one kernel call per step costs ~25 us: worth it from a few hundred neurons (measured 1.6x at 1,000)
        if backend != "numpy" and self.N >= _HH_COMPILED_MIN and numba_enabled():
            from ..neurons.hh.compiled import CompiledRun
            self.compiled = (CompiledRun(self.state), _Captured())

    def step(self, k, t0):
        if getattr(self, "compiled", None) is None:
            return self.state._step(self.input(), t0)
        runner, spikes = self.compiled
        I_bar = self.state._drive(self.input())
        runner.advance(I_bar[None, :], False, True, k, 1, {}, spikes)
        return spikes.take()

    def arrays(self):
        s = self.state
        return {"v": s.V, "m": s.m, "h": s.h, "n": s.n}

    def snapshot_extra(self):  # the integrator's buffers (HHState.snapshot without Y) and the noise streams
        s = self.state
        method = {k: v for k, v in s.snapshot().items() if k != "Y"}
        return method, ((s.draws.state(), self._drawn, s._block) if self.needs_prepare else None)

    def restore_extra(self, extra):
        method, noise = extra
        self.state.restore(method)
        if noise is not None:
            states, self._drawn, self.state._block = noise
            self.state.draws.set_state(states)


class ModelRuntime(_Base):
    """Neurons of any :class:`neurosim.NeuronModel`: one array per declared state variable, one ``step`` per step.

    The state arrays are flat over ``B * n`` (trial-major) and reach the model's ``step`` as
    ``(B, n)`` views with a batch (so per-neuron parameters of shape (n,) broadcast), or
    ``(n,)``. The input J is the synaptic current at the start of the step (the last stage of
    each PSC cascade, as for Hodgkin-Huxley) plus bias and injected currents, held over the step.

    The model's ``step`` is user code, so it runs in the *prepare* phase, on scratch copies
    (:func:`neurosim.neurons.base.advance`); the commit only swaps the scratch in. An exception
    or Ctrl-C inside ``step`` therefore leaves the committed state untouched.

    Under ``backend="auto"`` with numba importable, ``step`` runs compiled by numba
    (:mod:`neurosim.neurons.compiled_model`; one warning and the Python step where it cannot be
    compiled). The loop around it stays the numpy runtime's, so ``net.backend`` is "numpy";
    ``backend="numba"`` refuses user models (the compiled loop does not call user steps).
    """

    def __init__(self, pop, B, dt, groups, inputs):
        super().__init__(pop, B, dt, groups, inputs)
        self.model, self.dt = pop.model, dt
        shape = (B, pop.n) if B > 1 else (pop.n,)
        v0 = None if pop.normalized.v0 is None else np.broadcast_to(pop.normalized.v0, shape)
        self.state = pop.model.initial_state(shape, v0=v0)
        self.scratch = {name: np.empty_like(a) for name, a in self.state.items()}
        self.shape = shape
        self.prepared = None  # (k, indices, offsets) of a prepared, not yet committed step
        self.step_fn = stepper(pop.model)  # compiled when numba is importable; see use_backend
        for g in groups:
            self.terms.append((g.state.x[-1], 1.0, None))
        self.needs_prepare = True  # the user's step runs in the prepare phase

    def prepare(self, k, t0):
        # always from the committed state and today's bias and parameters (a retried step is stepped again)
        super().prepare(k, t0)
        J = self.input().reshape(self.shape)
        idx, off = advance(self.model, self.dt, J, self.state, self.scratch, t0, commit=False, step=self.step_fn)
        self.prepared = (k, idx, off)

    def use_backend(self, backend):
        """The network's requested backend: "numpy" runs ``step`` as Python, "auto"/"numba" compile it."""
        self.step_fn = stepper(self.model, compile=False if backend == "numpy" else None)

    def step(self, k, t0):
        _, idx, off = self.prepared
        self.state, self.scratch = self.scratch, self.state  # commit: the stepped scratch becomes the state
        self.prepared = None
        return idx, off

    def arrays(self):
        # read each time: the commit swaps the state and scratch dicts
        return {name: a.reshape(-1) for name, a in self.state.items()}

    def restore_extra(self, extra):
        self.prepared = None


def _weigh(x, c, out):
    """``out = sum_k c_k x_k``: c a number (x one stage), per neuron (same shape as x) or per stage."""
    if c.__class__ is float or c.ndim == 1 and x.ndim == 1:
        np.multiply(x, c, out=out)
    elif c.ndim == 1:
        np.dot(c, x, out=out)
    else:  # per stage and per neuron
        np.einsum("kn,kn->n", c, x, out=out)


class IFRuntime(_Base):
    """:class:`neurosim.IF` populations (the ReLU route's neurons): ``v += J dt``, spikes settled by
    :func:`neurosim.neurons.integrate.settle`.

    The same step and input as :class:`ModelRuntime` gives an IF population (J: the synaptic current at
    the start of the step, held over it), but it is the simulator's own arithmetic, so it runs in the
    commit phase on the state itself: no scratch copies, no Python step per model.
    """

    def __init__(self, pop, B, dt, groups, inputs):
        super().__init__(pop, B, dt, groups, inputs)
        self.model, self.dt = pop.model, dt
        self.v = _flat(0.0 if pop.normalized.v0 is None else pop.normalized.v0, B, pop.n)
        th = pop.model.threshold
        self.threshold = float(th) if np.ndim(th) == 0 else _flat(th, B, pop.n)
        self.no_spikes = (np.zeros(0, dtype=np.int64), np.zeros(0))
        for g in groups:  # the current at the start of the step (last stage), held over the step
            self.terms.append((g.state.x[-1], 1.0, None))

    def arrays(self):
        return {"v": self.v}

    def use_backend(self, backend):
        """The network's requested backend: under "auto" (numba importable) a population of at least
        :data:`neurosim.neurons.fused.FUSED_MIN` neurons steps with the compiled one-pass kernel
        :func:`neurosim.neurons.fused.if_step` (the same arithmetic: the same spikes, offsets and v)."""
        self.fused = None
        if backend != "numpy" and numba_enabled():
            from ..neurons import fused
            if self.N >= fused.FUSED_MIN:
                per = self.threshold.__class__ is not float
                self.fused = (fused.if_step, per, self.threshold if per else np.zeros(1),
                              np.empty(self.N, dtype=np.int64), np.empty(self.N))

    def step(self, k, t0):
        if getattr(self, "fused", None) is not None:
            return self._step_fused(t0)
        J, v, dt = self.input(), self.v, self.dt
        v += np.multiply(J, dt, out=self.tmp)  # tmp is free once J is summed
        idx = np.flatnonzero(v >= self.threshold)
        if not np.isfinite(v.sum()):  # one cheap pass: inf or NaN anywhere
            raise SimulationError(f"IF population: non-finite membrane state in the step at t={t0:g} s "
                                  "(input too large or not finite)")
        if idx.size == 0:
            return self.no_spikes
        th = self.threshold if self.threshold.__class__ is float else self.threshold[idx]
        return idx, settle(v, J, idx, th, dt, self.model.reset)

    def _step_fused(self, t0):
        kernel, per, thresholds, idx, off = self.fused
        # bias only (no synapses, no injected current): the bias is J, not copied into it each step
        J = self.bias if not self.terms and not self.inputs else self.input()
        count, finite = kernel(self.v, J, self.dt, 0.0 if per else self.threshold, thresholds, per,
                               self.model.reset == "subtract", idx, off)
        if not finite:
            raise SimulationError(f"IF population: non-finite membrane state in the step at t={t0:g} s "
                                  "(input too large or not finite)")
        if count == 0:
            return self.no_spikes
        return idx[:count].copy(), off[:count].copy()


_HH_COMPILED_MIN = 512  # neurons (all trials) from which an HH population steps compiled under "auto"


class _Captured:
    """The spikes a compiled HH call reports (``_record_many``), handed to the runtime as (indices, offsets)."""

    def __init__(self):
        self.idx, self.offsets = np.zeros(0, dtype=np.int64), np.zeros(0)

    def _record_many(self, steps, idx, offsets):
        self.idx, self.offsets = idx, offsets

    def take(self):
        out = (self.idx, self.offsets)
        self.idx, self.offsets = out[0][:0], out[1][:0]
        return out


def _noise_setup(pop):
    """``(sigma, tau_noise, generators)`` of a population's noise in the model's internal units (normalized for
    LIF, uA/cm^2 sqrt(s) for HH); generators is None without noise (one per trial with a batch)."""
    if pop.noise is None:
        return 0.0, None, None
    sigma = pop.noise["sigma"]
    if pop.units is not None:  # volts -> normalized
        sigma = sigma / float(np.max(pop.units.span))  # one span (add_noise refuses spans that differ)
    return sigma, pop.noise["tau_noise"], [np.random.default_rng(s) for s in pop.noise["seeds"]]


def _draw_noise(rt, k):
    """Draw step k's noise in the prepare phase, once: a retried step sees the same numbers."""
    if rt.needs_prepare and rt._drawn != k:
        rt.state.draw()
        rt._drawn = k


#: model class -> runtime class. Built-in kinds with hand-tuned runtimes register here; any other
#: :class:`neurosim.NeuronModel` runs on :class:`ModelRuntime`, derived from its declarations.
KINDS = {LIF: LIFRuntime, HodgkinHuxley: HHRuntime, IF: IFRuntime, NeuronModel: ModelRuntime}


def runtime_class(model):
    for cls in type(model).__mro__:
        if cls in KINDS:
            return KINDS[cls]
    raise TypeError(f"no runtime for population models of type {type(model).__name__}")
