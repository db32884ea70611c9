"""Networks of LIF (and Hodgkin-Huxley) populations joined by weight matrices through PSC filters.

In normalized units (the notes' network) each LIF neuron i obeys

    tau_m dv_i/dt = s_i + b_i + I_i(t) - v_i,        s_i = sum over synapse filters,

and a spike of presynaptic neuron j adds ``w_ij h(t - t_j)`` to s_i, with h the
unit-area PSC kernel of the connection: for n = 0, ``tau_s ds/dt = -s`` and
``s_i += w_ij / tau_s``. One spike of weight w delivers the total charge
``integral s dt = w``.

Timing per step ``[t0, t1)``: each population's input is the equivalent
constant input of the decaying synaptic current (the membrane update is exact
for it, see :func:`neurosim.network.connections.membrane_coefficients`); neurons spike
at exact times inside the step (:class:`neurosim.LIFState`); their spikes reach
the synapses at the step boundary t1 (plus the connection's delay, in whole
steps). So a spike is delayed by less than one step and delivers its full
charge -- the convention of Brian2 and Nengo. :meth:`PSCState.add` with ``lag``
would instead place it exactly, at the cost of the charge in ``[ts, t1)``.

Physical units: build a population from :class:`neurosim.LIFUnits` (bias in
amperes, v0 in volts) and convert weights with :func:`neurosim.synaptic_weight`.

Hodgkin-Huxley populations (:class:`neurosim.HodgkinHuxley`) work in the
model's own units: bias, injected and synaptic currents in uA/cm^2, v0 and "v"
probes in mV, so a weight w is the charge of one PSC in uA/cm^2 * s (the PSC
kernel has unit area). Each step, an HH population receives the synaptic
current at the start of the step (after the spikes delivered at that boundary),
held constant over the step (:class:`neurosim.neurons.hh.HHState`); with the small
steps HH needs (dt <= 0.05 ms) this differs from the step average by
< dt / (2 tau_s) of the current.
"""
import sys
import time

import numpy as np

from .. import _validate as check
from .connections import Connection, SynapseGroup, membrane_coefficients
from .inputs import CurrentInput, PoissonSource, SpikeSource, _count
from ..neurons.hh import DT_WARN, METHODS, HHState, HodgkinHuxley, _warn_dt
from ..neurons.lif import LIF, LIFState, LIFUnits
from .probes import Probe, ProbeData
from ..synapses import PSCFilter


class Population:
    """N LIF or Hodgkin-Huxley neurons with per-neuron bias.

    Attributes
    ----------
    model : LIF or HodgkinHuxley
        Normalized LIF model (threshold 1, reset 0), or an HH model (mV, uA/cm^2).
    n : int
    bias : ndarray (n,)
        Constant input added to every neuron: normalized J (LIF) or uA/cm^2 (HH).
    v0 : ndarray (n,)
        Initial voltages: normalized (LIF) or mV (HH).
    name : str
    units : LIFUnits or None
        The physical description when the population was built from one.
    method : str or None
        HH integrator (see :mod:`neurosim.neurons.hh`); None for LIF.
    """

    def __init__(self, model, n, bias, v0, name, units, method=None):
        self.model, self.n, self.bias, self.v0, self.name, self.units = model, n, bias, v0, name, units
        self.method = method

    def __repr__(self):
        return f"Population({self.model!r}, n={self.n}, name={self.name!r})"


class Network:
    """A spiking network simulated with a fixed step.

    Parameters
    ----------
    dt : float
        Step in seconds.
    rng : int or numpy.random.Generator, optional
        Seeds random initial voltages and Poisson sources (same seed, same run).

    Examples
    --------
    >>> net = Network(dt=1e-4, rng=0)
    >>> inp = net.add_poisson(100, rate=20.0)
    >>> pop = net.add_population(LIF(tau_m=0.02, tau_ref=0.002), 50, bias=0.5)
    >>> conn = net.connect(inp, pop, np.full((50, 100), 0.01), synapse=PSCFilter(0.005))
    >>> spikes = net.probe(pop, "spikes")
    >>> net.run(0.5)
    >>> times, indices = spikes.data
    """

    def __init__(self, dt=1e-4, rng=None):
        self.dt = check.positive("dt", dt)
        self.rng = check.as_rng(rng)
        self.populations, self.sources, self.connections, self.probes = [], [], [], []
        self.data = ProbeData()
        self._step = 0
        self._built = False

    @property
    def t(self):
        """Simulated time so far, in seconds."""
        return self._step * self.dt

    # ---- building ----------------------------------------------------------------
    def _name(self, name, prefix):
        if name is None:
            return f"{prefix}{len(self.populations) + len(self.sources)}"
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        return name

    def _check_open(self):
        if self._built:
            raise RuntimeError("the network has already run; add populations, sources and connections before run()")

    def add_population(self, model, n, bias=0.0, v0=None, name=None, method=None):
        """Add N LIF or Hodgkin-Huxley neurons.

        Parameters
        ----------
        model : LIF, LIFUnits or HodgkinHuxley
            Normalized LIF model, a physical one (then ``bias`` is a current in
            amperes and ``v0`` voltages in volts), or an HH model (``bias`` in
            uA/cm^2, ``v0`` in mV).
        n : int
        bias : float or array_like (n,)
            Constant input: normalized J, amperes with ``LIFUnits`` (0 A gives
            the leak offset J = (V_L - V_reset)/(V_th - V_reset)), or uA/cm^2 for HH.
        v0 : None, "uniform", float or array_like (n,)
            Initial voltage: reset (default), uniform between reset and threshold
            (uses the network's rng), or values. HH: None (rest, gates at steady
            state) or values in mV, gates at their steady values for them.
        name : str, optional
        method : str, optional
            HH only: integrator, one of ``neurosim.neurons.hh.METHODS`` (default "rk4").
            Warns when the network's dt exceeds ``neurosim.neurons.hh.DT_WARN[method]``.

        Returns
        -------
        Population
        """
        self._check_open()
        n = _count("n", n)
        if isinstance(model, HodgkinHuxley):
            return self._add_hh(model, n, bias, v0, name, "rk4" if method is None else method)
        if method is not None:
            raise ValueError(f"method={method!r} applies to HodgkinHuxley populations only, not {type(model).__name__}")
        units = None
        if isinstance(model, LIFUnits):
            units, model = model, model.model()
        if not isinstance(model, LIF):
            raise TypeError(f"model must be a neurosim.LIF, LIFUnits or HodgkinHuxley, got {type(model).__name__}")
        bias = check.finite_array("bias", bias)
        if bias.ndim > 1 or bias.size not in (1, n):
            raise ValueError(f"bias must be a scalar or shape ({n},), got shape {bias.shape}")
        if units is not None:
            bias = units.current_to_J(bias)
            if v0 is not None and not isinstance(v0, str):
                v0 = units.voltage_to_v(check.finite_array("v0", v0))
        bias = np.broadcast_to(bias, (n,)).astype(float)
        v0 = model._initial_v(v0, n, self.rng)
        pop = Population(model, n, bias, v0, self._name(name, "population"), units)
        pop._inputs = []
        self.populations.append(pop)
        return pop

    def _add_hh(self, model, n, bias, v0, name, method):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if self.dt > DT_WARN[method]:
            _warn_dt(method, self.dt, stacklevel=4)
        bias = check.finite_array("bias", bias)
        if bias.ndim > 1 or bias.size not in (1, n):
            raise ValueError(f"bias must be a scalar or shape ({n},) in uA/cm^2, got shape {bias.shape}")
        if isinstance(v0, str):
            raise ValueError(f"v0 for a HodgkinHuxley population must be None (rest) or values in mV, got {v0!r}")
        if v0 is None:
            v0 = np.full(n, model.V_rest)
        else:
            v0 = check.finite_array("v0", v0)
            if v0.ndim > 1 or v0.size not in (1, n):
                raise ValueError(f"v0 must be a scalar or shape ({n},) in mV, got shape {v0.shape}")
            v0 = np.broadcast_to(v0, (n,)).astype(float)
        pop = Population(model, n, np.broadcast_to(bias, (n,)).astype(float), v0, self._name(name, "population"),
                         None, method)
        pop._inputs = []
        self.populations.append(pop)
        return pop

    def add_poisson(self, n, rate, name=None):
        """Add n independent Poisson spike sources firing at ``rate`` Hz (scalar or (n,))."""
        self._check_open()
        src = PoissonSource(n, rate, self._name(name, "poisson"), self.rng)
        self.sources.append(src)
        return src

    def add_spike_source(self, spike_times, name=None):
        """Add neurons firing at given times: a list of arrays (s) per neuron, one array, or ``(times, indices)``."""
        self._check_open()
        src = SpikeSource(spike_times, self._name(name, "spikes"))
        self.sources.append(src)
        return src

    def add_current_input(self, target, values):
        """Inject a current into ``target``: an array (steps, n) indexed by absolute step, or ``f(t) -> (n,)``.

        Values are normalized J, amperes for a population built from ``LIFUnits``,
        or uA/cm^2 for a HodgkinHuxley population.
        Held constant within each step.
        """
        self._check_open()
        if target not in self.populations:
            raise ValueError("target must be a population of this network")
        scale = 1.0
        if target.units is not None:
            scale = 1.0 / (target.units.g_L * (target.units.V_th - target.units.V_reset))
        inp = CurrentInput(target, values, scale)
        target._inputs.append(inp)
        return inp

    def connect(self, pre, post, weights, synapse=None, delay=0.0):
        """Connect ``pre`` to ``post``.

        Parameters
        ----------
        pre : Population or source
        post : Population
        weights : float, ndarray or scipy.sparse matrix, shape (post.n, pre.n)
            Charge per spike (the PSC kernel has unit area): normalized for LIF
            targets, uA/cm^2 * s for HodgkinHuxley targets; a scalar connects all to all.
        synapse : PSCFilter, optional
            Default ``PSCFilter(0.005)``.
        delay : float
            Transmission delay in seconds, rounded to whole steps.

        Returns
        -------
        Connection
        """
        self._check_open()
        if pre not in self.populations and pre not in self.sources:
            raise ValueError("pre must be a population or source of this network")
        if post not in self.populations:
            raise ValueError("post must be a population of this network")
        conn = Connection(pre, post, weights, PSCFilter(0.005) if synapse is None else synapse, delay)
        self.connections.append(conn)
        return conn

    def probe(self, target, kind="spikes", sample_every=None, synapse=None):
        """Record ``kind`` of ``target`` from now on; see :mod:`neurosim.network.probes`.

        Returns
        -------
        Probe
            ``probe.data`` (or ``net.data[probe]``) and ``probe.t`` after a run.
        """
        if target not in self.populations and target not in self.sources:
            raise ValueError("target must be a population or source of this network")
        probe = Probe(target, kind, sample_every, synapse, self.dt, self._step)
        self.probes.append(probe)
        return probe

    # ---- running -----------------------------------------------------------------
    def _build(self):
        dt = self.dt
        for src in self.sources:
            src._build(dt)
            src._spiked = np.zeros(0, dtype=np.int64)
        for conn in self.connections:
            conn._build(dt)
        for pop in self.populations:
            hh = isinstance(pop.model, HodgkinHuxley)
            if hh:
                pop._state = HHState(pop.model, pop.n, dt, pop.method, V0=pop.v0, warn=False)
            else:
                pop._state = LIFState(pop.model, pop.n, dt, v0=pop.v0)
            pop._spiked = np.zeros(0, dtype=np.int64)
            pop._J = np.empty(pop.n)
            pop._tmp = np.empty(pop.n)
            pop._has_bias = bool(np.any(pop.bias))
            groups = {}
            for conn in self.connections:
                if conn.post is pop:
                    groups.setdefault(conn.synapse, []).append(conn)
            pop._groups, pop._terms = [], []
            for syn, conns in groups.items():
                group = SynapseGroup(syn, pop.n, dt, max(c.delay_steps for c in conns))
                for c in conns:
                    c._group = group
                pop._groups.append(group)
                if hh:  # the current at the start of the step (last stage), held over the step
                    pop._terms.append((group.state.x[-1], 1.0))
                    continue
                coef = membrane_coefficients(syn, pop.model.tau_m, dt)
                # n = 0: one stage and a scalar coefficient; else a dot product over stages
                pop._terms.append((group.state.x[0], float(coef[0])) if syn.n == 0 else (group.state.x, coef))
        self._groups = [g for pop in self.populations for g in pop._groups]
        self._built = True
        # spikes of sources at t = 0 arrive before the first step
        self._emit_sources(0, None)
        self._propagate(0, [s for s in self.sources if s._spiked.size])

    def _emit_sources(self, m, t0):
        for src in self.sources:
            idx, times = src._emit(m)
            src._spiked = idx
            if idx.size:
                for probe in self.probes:
                    if probe.target is src and probe.kind == "spikes":
                        _record_times(probe._recorder, idx, times, self.dt)

    def _propagate(self, m, spiking):
        for conn in self.connections:
            if conn.pre in spiking:
                conn._scatter(conn.pre._spiked, conn._group.target(m + conn.delay_steps, m))
        for probe in self.probes:
            if probe.kind == "filtered" and probe.target in spiking:
                np.add.at(probe._state.x[0], probe.target._spiked, probe._state.inv_tau)

    def run(self, T, progress=False):
        """Advance the network by T seconds (a multiple of dt). Calls can be chained: run(T) twice == run(2T).

        Parameters
        ----------
        T : float
            Duration in seconds.
        progress : bool
            Show progress on stderr.
        """
        steps = check.n_steps(T, self.dt)
        if not self._built:
            self._build()
        dt, pops, groups = self.dt, self.populations, self._groups
        conns = self.connections
        filtered = [p for p in self.probes if p.kind == "filtered"]
        sampled = [p for p in self.probes if p.kind != "spikes"]
        recorders = [(p.target, p._recorder) for p in self.probes if p.kind == "spikes" and p.target in pops]
        src_probes = any(p.kind == "spikes" and p.target in self.sources for p in self.probes)
        k0 = self._step
        shown = time.monotonic()
        multiply = np.multiply
        for k in range(k0, k0 + steps):
            t0 = k * dt
            m = k + 1
            any_spikes = False
            for pop in pops:
                J = pop._J
                terms = pop._terms
                if terms:
                    x, c = terms[0]
                    if c.__class__ is float:
                        multiply(x, c, out=J)
                    else:
                        np.dot(c, x, out=J)
                    for x, c in terms[1:]:
                        tmp = pop._tmp
                        if c.__class__ is float:
                            multiply(x, c, out=tmp)
                        else:
                            np.dot(c, x, out=tmp)
                        J += tmp
                    if pop._has_bias:
                        J += pop.bias
                else:
                    J[:] = pop.bias
                for inp in pop._inputs:
                    inp.add_to(J, k, t0)
                idx, offsets = pop._state.step(J, t0)
                pop._spiked, pop._offsets = idx, offsets
                if idx.size:
                    any_spikes = True
            for pop, rec in recorders:
                if pop._spiked.size:
                    rec.record(k, pop._spiked, pop._offsets)
            if self.sources:
                self._emit_sources(m, t0)
            for g in groups:
                g.advance_and_deliver(m)
            for probe in filtered:
                probe._state.advance()
            if any_spikes or self.sources:
                for conn in conns:
                    sp = conn.pre._spiked
                    if sp.size:
                        conn._scatter(sp, conn._group.target(m + conn.delay_steps, m))
                for probe in filtered:
                    sp = probe.target._spiked
                    if sp.size:
                        np.add.at(probe._state.x[0], sp, probe._state.inv_tau)
            for probe in sampled:
                if m % probe._every == 0:
                    probe._sample(_value(probe), m * dt)
            if progress and (m & 255) == 0 and time.monotonic() - shown > 0.2:
                shown = time.monotonic()
                _show_progress(m - k0, steps, m * dt)
        self._step = k0 + steps
        if progress:
            _show_progress(steps, steps, self.t, end="\n")


def _value(probe):
    target = probe.target
    if probe.kind == "v":
        return target._state.v
    if probe.kind == "current":
        total = np.zeros(target.n)
        for g in target._groups:
            total += g.state.current
        return total
    return probe._state.current


def _record_times(recorder, idx, times, dt):
    """Record spikes at absolute times (s) into a SpikeRecorder (step + offset within the step)."""
    steps = np.floor(times / dt + 1e-9).astype(np.int64)
    for s in np.unique(steps):
        sel = steps == s
        recorder.record(int(s), idx[sel], np.maximum(times[sel] - s * dt, 0.0))


def _show_progress(done, steps, t, end=""):
    sys.stderr.write(f"\r  simulated {t:.3f} s  {100.0 * done / steps:5.1f}%" + end)
    sys.stderr.flush()
