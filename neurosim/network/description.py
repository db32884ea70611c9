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
at exact times inside the step (:class:`neurosim.LIFState`). A spike at ts
through a connection with delay d arrives at ts + d, in the step that contains
ts + d: at that step's start with its full charge (``placement="boundary"``),
or at ts + d exactly (``placement="exact"``, :meth:`PSCState.add` with ``lag``,
at the cost of the charge before the step's end). A delay < dt arrives at the
next step boundary. See :class:`neurosim.network.connections.Connection`.

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
import numbers
import os

import numpy as np

from .. import validation as check
from .changes import apply_changes
from .connections import Connection, _check_delay, _check_weights, embed_with_delays
from ..connectors import Connector
from .views import embed, resolve
from .transforms import Convolution
from .inputs import CurrentInput, PoissonSource, SpikeSource, _count
from ..neurons.hh import DT_WARN, METHODS, HodgkinHuxley, _warn_dt
from ..neurons.base import NeuronModel
from ..neurons.lif import LIF, LIFUnits
from .populations import Population
from .probes import Probe, ProbeData
from .compiled import build_runtime, check_backend, numba_available, unsupported
from ..synapses import Conductance, PSCFilter
from ..synapses.delta import Delta

MAX_STEPS = 10**8  # default limit of steps in one run (1e4 s at dt = 0.1 ms; LIF.simulate uses the same)


class Network:
    """A spiking network simulated with a fixed step: a description, plus the runtime its first run builds.

    Parameters
    ----------
    dt : float
        Step in seconds.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds random initial voltages and Poisson sources (same seed, same run).
        With a batch, trial k draws from its own stream ``Network.trial_seeds(rng, batch)[k]``,
        so trial k equals a network built with ``rng=Network.trial_seeds(rng, batch)[k]``
        and no batch.
    batch : int, optional
        Number of independent trials run together (a leading axis of every
        state). ``None`` (default): no trial axis.

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

    def __init__(self, dt=1e-4, rng=None, batch=None, timing="grid", backend="auto"):
        self.dt = check.positive("dt", dt)
        self._backend_request = check_backend(backend)
        self._backend_used = None
        if timing not in ("grid", "precise"):
            raise ValueError(f"timing must be 'grid' or 'precise', got {timing!r}")
        self.timing = timing
        if batch is not None:
            batch = check.count_int("batch", batch, limit=MAX_BATCH)
        self.batch = batch
        if batch is None:
            self._trial_rng_list = [check.as_rng(rng)]
        else:
            # the root seed now (a Generator is drawn from here, as always); the B per-trial
            # generators on first use: a batch that draws nothing never pays for them
            self._seed_root = self._root_seed(rng)
            self._trial_rng_list = None
        self.populations, self.sources, self.connections, self.probes = [], [], [], []
        self.data = ProbeData()
        self.runtime = None
        self._stored = {}

    @staticmethod
    def trial_seeds(rng, batch):
        """The per-trial seeds of a batched network: ``numpy.random.SeedSequence(rng).spawn(batch)``.

        Parameters
        ----------
        rng : None, int, SeedSequence or Generator
            An int or a SeedSequence is spawned as is (a SeedSequence is not
            modified); a Generator gives one integer seed first; None uses fresh entropy.
        batch : int

        Returns
        -------
        list of numpy.random.SeedSequence
        """
        batch = check.count_int("batch", batch, limit=MAX_BATCH)
        return Network._root_seed(rng).spawn(batch)

    @staticmethod
    def _root_seed(rng):
        """The SeedSequence whose children are the per-trial seeds (see :meth:`trial_seeds`)."""
        if isinstance(rng, np.random.SeedSequence):
            return np.random.SeedSequence(rng.entropy, spawn_key=rng.spawn_key, pool_size=rng.pool_size)
        if isinstance(rng, np.random.Generator):
            return np.random.SeedSequence(int(rng.integers(2**63)))
        if rng is None:
            return np.random.SeedSequence()
        check.as_rng(rng)  # validates the seed
        return np.random.SeedSequence(int(rng))

    @property
    def _trial_rngs(self):
        """One Generator per trial (one in all without a batch), created on first use."""
        if self._trial_rng_list is None:
            self._trial_rng_list = [np.random.default_rng(s) for s in self._seed_root.spawn(self.batch)]
        return self._trial_rng_list

    @property
    def rng(self):
        """The network's Generator (trial 0's with a batch)."""
        return self._trial_rngs[0]

    @property
    def t(self):
        """Simulated time so far, in seconds."""
        return 0.0 if self.runtime is None else self.runtime.t

    # ---- building ----------------------------------------------------------------
    def _name(self, name, prefix):
        taken = {x.name for x in self.populations + self.sources}
        if name is None:
            name, k = f"{prefix}{len(self.populations) + len(self.sources)}", 0
            while name in taken:  # a user name may look like a default one
                k += 1
                name = f"{prefix}{len(self.populations) + len(self.sources)}_{k}"
            return name
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        if name in taken:
            raise ValueError(f"name={name!r} is already used in this network; names must be unique "
                             f"(taken: {sorted(taken)})")
        return name

    def _check_count(self, n):
        """Neurons to add: an int >= 1 whose per-neuron arrays fit in memory."""
        n = _count("n", n)
        need = 64 * n * (self.batch or 1)  # a few float64 arrays per neuron (and trial)
        if need > _available_bytes() // 2:
            raise ValueError(f"n={n}" + (f" with batch={self.batch}" if self.batch else "") +
                             f" needs about {need / 2**20:.4g} MiB, more than half the available memory")
        return n

    def _check_open(self):
        if self.runtime is not None:
            raise RuntimeError("the network has already run; add populations, sources and connections before "
                               "run(), or call net.reset() first (back to t = 0, then the runtime is rebuilt)")

    def _per_trial(self, name, value, n, unit=""):
        """A finite (n,) array, or (B, n) with a batch."""
        value = check.finite_array(name, value)
        if value.ndim <= 1 and value.size in (1, n):
            return np.broadcast_to(value, (n,)).astype(float)
        if self.batch is not None and value.shape == (self.batch, n):
            return value.astype(float)
        shapes = f"a scalar or shape ({n},)" + (f" or ({self.batch}, {n})" if self.batch is not None else "")
        raise ValueError(f"{name} must be {shapes}{unit}, got shape {value.shape}")

    def add_population(self, model, n, bias=0.0, v0=None, name=None, method=None):
        """Add N LIF or Hodgkin-Huxley neurons.

        Parameters
        ----------
        model : LIF, LIFUnits, HodgkinHuxley or NeuronModel
            Normalized LIF model, a physical one (then ``bias`` is a current in
            amperes and ``v0`` voltages in volts), an HH model (``bias`` in
            uA/cm^2, ``v0`` in mV), or any :class:`neurosim.NeuronModel` (``bias`` in
            its ``input_unit``, ``v0`` sets its state variable "v").
        n : int
        bias : float, array_like (n,) or (B, n), or a time-varying input
            Input: normalized J, amperes with ``LIFUnits`` (0 A gives
            the leak offset J = (V_L - V_reset)/(V_th - V_reset)), or uA/cm^2 for HH.
            With a batch, one row per trial is allowed. Time-varying: an array
            (steps, n) (or (steps, B, n)) over the network's steps, a
            :class:`neurosim.TimedArray` or a function ``f(t)``, held over each
            step at its value at the step's start; it is added as a current input
            (``pop.inputs``) and the constant bias is 0 (0 A with ``LIFUnits``).
        v0 : None, "uniform", float or array_like (n,) or (B, n)
            Initial voltage: reset (default), uniform between reset and threshold
            (drawn from the network's rng, per trial with a batch), or values.
            HH: None (rest, gates at steady state) or values in mV, gates at
            their steady values for them.
        name : str, optional
        method : str, optional
            HH only: integrator, one of ``neurosim.neurons.hh.METHODS`` (default "rk4").
            Warns when the network's dt exceeds ``neurosim.neurons.hh.DT_WARN[method]``.

        Returns
        -------
        Population
        """
        self._check_open()
        n = self._check_count(n)
        name = self._name(name, "population")
        varying = None
        if callable(bias) or (np.ndim(bias) >= 2 and not (self.batch is not None and np.shape(bias) == (self.batch, n))):
            varying, bias = bias, 0.0
        if isinstance(model, HodgkinHuxley):
            pop = self._add_hh(model, n, bias, v0, name, "rk4" if method is None else method)
        elif isinstance(model, NeuronModel):
            pop = self._add_model(model, n, bias, v0, name, method)
        else:
            pop = self._add_lif(model, n, bias, v0, name, method)
        if varying is not None:
            self._current_input(pop, varying, "bias")
        return pop

    def _add_lif(self, model, n, bias, v0, name, method):
        if method is not None:
            raise ValueError(f"method={method!r} applies to HodgkinHuxley populations only, not {type(model).__name__}")
        units = None
        if isinstance(model, LIFUnits):
            model.check_population(n)
            units, model = model, model.model()
        if not isinstance(model, LIF):
            raise TypeError(f"model must be a neurosim.LIF, LIFUnits or HodgkinHuxley, got {type(model).__name__}")
        model.check_population(n)  # per-neuron parameters: one value per neuron
        bias = self._per_trial("bias", bias, n)
        if units is not None:
            bias = units.current_to_J(bias)
            if v0 is not None and not isinstance(v0, str):
                V0 = check.finite_array("v0", v0)
                v0 = units.voltage_to_v(V0)
                V0, V_th, v = np.broadcast_arrays(V0, units.V_th, v0)
                if np.any(v >= 1):  # in volts: "the threshold 1" would be the normalized one
                    i = np.unravel_index(int(np.argmax(v >= 1)), v.shape)
                    raise ValueError(f"v0 must be below V_th (volts), got v0={V0[i]:g} V >= V_th={V_th[i]:g} V"
                                     + (f" at index {tuple(map(int, i))}" if v.ndim else ""))
        if v0 is not None and not isinstance(v0, str):
            self._per_trial("v0", v0, n)  # shape and finiteness, before the model reads it
        if v0 is None:
            v0 = np.zeros(n)  # the reset for every trial: no per-trial loop (nothing is drawn)
        elif isinstance(v0, str) or self.batch is None:
            # per trial: each trial's stream draws what a single network with that seed would
            v0s = [model._initial_v(v0, n, rng) for rng in self._trial_rngs]
            v0 = v0s[0] if self.batch is None else np.array(v0s)
        else:
            v0 = self._per_trial("v0", v0, n)
            if np.any(v0 >= 1):
                raise ValueError("v0 must be below the threshold 1")
        pop = Population(model, n, bias, v0, name, units)
        self.populations.append(pop)
        return pop

    def _add_hh(self, model, n, bias, v0, name, method):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if self.dt > DT_WARN[method]:
            _warn_dt(method, self.dt, stacklevel=4)
        model.check_population(n)  # per-neuron parameters: one value per neuron
        bias = self._per_trial("bias", bias, n, " in uA/cm^2")
        if isinstance(v0, str):
            raise ValueError(f"v0 for a HodgkinHuxley population must be None (rest) or values in mV, got {v0!r}")
        v0 = np.broadcast_to(model.V_rest, (n,)).astype(float) if v0 is None else self._per_trial("v0", v0, n, " in mV")
        pop = Population(model, n, bias, v0, name, None, method)
        self.populations.append(pop)
        return pop

    def _add_model(self, model, n, bias, v0, name, method):
        """A population of a :class:`neurosim.NeuronModel`: its declarations give the state."""
        if method is not None:
            raise ValueError(f"method={method!r} applies to HodgkinHuxley populations only, not {type(model).__name__}")
        model.check_population(n)
        bias = self._per_trial("bias", bias, n, f" in {model.input_unit}")
        if isinstance(v0, str):
            raise ValueError(f"v0 for a {type(model).__name__} population must be None (the declared initial "
                             f"state) or values of its state variable 'v', got {v0!r}")
        if v0 is not None:
            if "v" not in model.state_variables():
                raise ValueError(f"v0: {type(model).__name__} declares no state variable 'v' "
                                 f"(its state: {list(model.state_variables())})")
            v0 = self._per_trial("v0", v0, n)
        pop = Population(model, n, bias, v0, name, None)
        self.populations.append(pop)
        return pop

    def add_noise(self, target, sigma, tau_noise=None):
        """Add membrane noise to a population (independent per neuron and per trial).

        Parameters
        ----------
        target : Population
        sigma : float
            LIF: the stationary standard deviation of the free (sub-threshold)
            membrane, in the population's units (normalized, or volts for a
            population built from ``LIFUnits``): Brian2's
            ``dv/dt = (J - v)/tau_m + sigma sqrt(2/tau_m) xi``, stepped exactly at any dt,
            with Brownian-bridge threshold crossings inside steps (see
            :mod:`neurosim.neurons.noise`). HodgkinHuxley: current-noise intensity in
            uA/cm^2 * sqrt(s) (the input gains ``sigma xi(t)``).
        tau_noise : float, optional
            LIF only: coloured noise, an Ornstein-Uhlenbeck input current with this
            time constant (s), scaled so the free membrane's std is still ``sigma``.

        Each trial of a batch draws from its own stream (seeded from the network's
        rng when the noise is added), so trial k equals an unbatched network seeded
        with ``Network.trial_seeds(rng, B)[k]``.
        """
        self._check_open()
        if resolve(target)[1] is not None:
            raise ValueError(f"add_noise applies to a whole population; {target.name!r} is a subgroup (give its "
                             "neurons their own population, or pass the parent population)")
        if target not in self.populations:
            raise ValueError("target must be a population of this network")
        sigma = check.positive("sigma", sigma, allow_zero=True)
        if isinstance(target.model, NeuronModel):
            raise ValueError(f"add_noise handles LIF and HodgkinHuxley populations; {target.name!r} is a "
                             f"{type(target.model).__name__}, whose declarations do not say how noise enters "
                             "its state (add a noise term inside its step, drawing from a Generator it owns, "
                             "or inject a noisy current with add_current_input)")
        if sigma > 0 and target.units is not None and np.ndim(target.units.span) and np.ptp(target.units.span) > 0:
            raise ValueError(f"add_noise on {target.name!r}: its LIFUnits give V_th - V_reset per neuron, so sigma "
                             "(volts) would be a different normalized sigma for each neuron, which the exact noisy "
                             "LIF step (one sigma per population) does not take; give V_th and V_reset as numbers "
                             "for a noisy population, or split it into populations of one span each")
        if tau_noise is not None:
            if isinstance(target.model, HodgkinHuxley):
                raise ValueError("tau_noise applies to LIF populations only (HH takes white current noise)")
            tau_noise = check.positive("tau_noise", tau_noise)
        seeds = tuple(int(rng.integers(2**63)) for rng in self._trial_rngs)
        target.noise = {"sigma": sigma, "tau_noise": tau_noise, "seeds": seeds}
        return target

    def add_poisson(self, n, rate, name=None, independent_per_target=False):
        """Add n independent Poisson spike sources firing at ``rate`` Hz.

        ``rate``: a scalar or (n,); an array (steps, n) over the network's steps;
        a :class:`neurosim.TimedArray`; or a function ``f(t) -> scalar or (n,)``
        evaluated at the start of each step. The rate is held over each step.

        Each source has its own random stream (independent per trial with a batch),
        seeded from the network's rng.

        ``independent_per_target=True`` makes each source a Poisson *generator*, as
        NEST's ``poisson_generator``: every synapse of a connection from it (every
        nonzero ``W[i, j]``) gets its own independent train of rate ``rate[j]`` and
        weight ``W[i, j]``, so ``connect(src, pop, w)`` from ``add_poisson(1, r, ...)``
        gives each neuron of pop its own drive of rate r, without pop.n sources.
        The trains are drawn as counts per step (:class:`neurosim.network.inputs.PoissonDrive`);
        the rate must then be constant, the source has no spike train of its own to
        probe, and delays from it must be < dt or multiples of dt.
        """
        self._check_open()
        n = self._check_count(n)
        name = self._name(name, "poisson")
        seeds = tuple(int(rng.integers(2**63)) for rng in self._trial_rngs)
        independent_per_target = check.check_bool("independent_per_target", independent_per_target)
        src = PoissonSource(n, rate, name, seeds[0] if self.batch is None else seeds, independent_per_target)
        self.sources.append(src)
        return src

    def add_spike_source(self, spike_times, name=None):
        """Add neurons firing at given times: a list of arrays (s) per neuron, one array, or ``(times, indices)``.

        With a batch, every trial gets the same spikes.
        """
        self._check_open()
        name = self._name(name, "spikes")
        src = SpikeSource(spike_times, name)
        self.sources.append(src)
        return src

    def add_current_input(self, target, values):
        """Inject a current into ``target``: an array over steps, or ``f(t)``.

        Parameters
        ----------
        target : Population
        values : array_like (steps, n) or (steps, B, n), or callable
            Indexed by absolute step; ``f(t)`` gets the time (s) at the start of
            each step and returns a scalar, (n,) or (B, n). Values are normalized J,
            amperes for a population built from ``LIFUnits``, or uA/cm^2 for a
            HodgkinHuxley population. Held constant within each step.
        """
        self._check_open()
        parent, idx = resolve(target)
        if parent not in self.populations:
            raise ValueError("target must be a population (or a subgroup of one) of this network")
        if idx is not None:
            values = _input_for_view(values, idx, parent.n, target.name)
        return self._current_input(parent, values, "values")

    def _current_input(self, target, values, name):
        scale = 1.0
        if target.units is not None:
            scale = 1.0 / target.units.current_unit  # per neuron (n,) when its parameters are
        inp = CurrentInput(target, values, scale, self.batch, name)
        target.inputs.append(inp)
        return inp

    def connect(self, pre, post, weights, synapse=None, delay=0.0, placement="boundary", plasticity=None):
        """Connect ``pre`` to ``post``.

        Parameters
        ----------
        pre : Population or source
        post : Population
        weights : float, ndarray, scipy.sparse matrix (post.n, pre.n), neurosim.Convolution or connector
            Charge per spike (the PSC kernel has unit area): normalized for LIF
            targets, uA/cm^2 * s for HodgkinHuxley targets; a scalar connects all to all.
            A :class:`neurosim.Convolution` keeps its structure (exported as such) and
            propagates through a sparse table built from its kernel, never a dense matrix.
            A :mod:`neurosim.connectors` connector (e.g. ``fixed_in_degree(80, weights=0.1,
            delays=1.5e-3)``) is built here, sparse, for the sizes of ``pre`` and ``post``,
            with its own ``rng`` or else a seed drawn from the network's rng; its delays,
            if any, replace ``delay`` (per synapse when they differ). Shared by all trials of a batch.
        synapse : PSCFilter or Delta, optional
            Default ``PSCFilter(0.005)``. With :class:`neurosim.Delta` each spike adds its
            weight to the target's v at arrival (``weights`` are then voltage jumps:
            normalized, or volts for a ``LIFUnits`` target; LIF targets only).
        delay : float
            Transmission delay in seconds: a spike at ts arrives at ts + delay, in the
            grid step that contains it (exact with ``timing="precise"``, where delays
            between populations must be >= dt); a delay < dt arrives at the next boundary.
            Per-synapse delays (from a connector) deliver each synapse as its own delay
            would; they need ``placement="boundary"`` and run on the numpy backend.
        placement : {"boundary", "exact"}
            Spikes enter the synapse at the start of their arrival step with their
            full kernel (default), or at their exact arrival time (see
            :class:`Connection`).
        plasticity : neurosim.STDP, optional
            Learn the weights by spike-timing-dependent plasticity (grid timing;
            docs/models.md "STDP"). ``conn.weights`` stay the initial weights; the learned
            ones, one copy per trial, are read with ``net.probe(conn, "weights")`` or
            :meth:`current_weights`.

        Returns
        -------
        Connection

        Notes
        -----
        ``synapse`` may be a :class:`neurosim.Conductance` (LIF targets, grid timing): the
        weights are then peak conductances, in siemens onto ``LIFUnits`` populations and in
        units of the leak conductance onto normalized ones.
        """
        self._check_open()
        (pre_p, pre_idx), (post_p, post_idx) = resolve(pre), resolve(post)
        if isinstance(synapse, Conductance) and post_p in self.populations and not isinstance(post_p.model, LIF):
            raise ValueError(f"a Conductance synapse needs an LIF (or LIFUnits) target; {post_p.name!r} is a "
                             f"{type(post_p.model).__name__}, whose step takes a current (use a PSCFilter)")
        if pre_p not in self.populations and pre_p not in self.sources:
            raise ValueError("pre must be a population or source (or a subgroup of one) of this network")
        if post_p not in self.populations:
            raise ValueError("post must be a population (or a subgroup of one) of this network")
        if isinstance(weights, Connector):
            weights, delay = self._build_connector(weights, pre, post, delay)
        if pre_idx is not None or post_idx is not None:  # subgroups: their block of the parents' matrix
            if isinstance(weights, Convolution):
                raise ValueError("a Convolution connects whole populations (its image shapes), not subgroups")
            W = _check_weights(weights, pre, post)
            if np.ndim(delay) and _check_delay(delay, W, placement)[1] is not None:
                # per-synapse delays follow their synapses into the parents' matrix
                weights, delay = embed_with_delays(W, delay, post_idx, pre_idx, (post_p.n, pre_p.n))
            else:
                weights = embed(W, post_idx, pre_idx, (post_p.n, pre_p.n))
        if isinstance(synapse, Delta):
            _check_delta(post_p, placement, self.timing)
        conn = Connection(pre_p, post_p, weights, PSCFilter(0.005) if synapse is None else synapse, delay,
                          placement, plasticity)
        self.connections.append(conn)
        return conn

    def _build_connector(self, connector, pre, post, delay):
        """(weights CSR, delay or per-synapse delays) of a connector between ``pre`` and ``post`` (or views)."""
        if connector.delays is not None and not (isinstance(delay, numbers.Real) and delay == 0.0):
            raise ValueError(f"the connector gives the delays ({connector.delays!r}); leave connect's delay at its "
                             f"default, got delay={delay!r}")
        (pre_p, pre_idx), (post_p, post_idx) = resolve(pre), resolve(post)
        recurrent = pre_p is post_p and (pre_idx is None) == (post_idx is None) and (
            pre_idx is None or np.array_equal(pre_idx, post_idx))
        # the connector's own rng, or a seed from the network's stream (reproducible with the network's rng)
        rng = connector.rng if connector.rng is not None else int(self.rng.integers(2**63))
        W, delays = connector.build(pre.n, post.n, rng=rng, recurrent=recurrent)
        return W, (delay if delays is None else delays)

    def probe(self, target, kind="spikes", sample_every=None, synapse=None, bin=None, normalized=False):
        """Record ``kind`` of ``target`` from now on; see :mod:`neurosim.network.probes`.

        ``bin`` (s, default dt) is the bin width of a ``"rate"`` probe (population
        rate in Hz per neuron; ``synapse`` smooths it). A population built from
        ``LIFUnits`` reports "v" in volts and "current" in amperes; ``normalized=True``
        keeps the normalized values.

        Returns
        -------
        Probe
            ``probe.data`` (or ``net.data[probe]``) and ``probe.t`` after a run.
        """
        if isinstance(target, Connection):  # "weights" of a plastic connection
            if target not in self.connections:
                raise ValueError("target: the connection is not one of this network's")
            parent, idx = target, None
        else:
            parent, idx = resolve(target)
        if parent not in self.populations and parent not in self.sources and parent not in self.connections:
            raise ValueError("target must be a population or source (or a subgroup of one) of this network")
        if getattr(parent, "independent_per_target", False):
            raise ValueError(f"{parent.name!r} is a Poisson source with independent_per_target=True: it has no "
                             "spike train of its own (each target gets its own), so there is nothing to probe")
        probe = Probe(self, parent, kind, sample_every, synapse, self.t, bin=bin, normalized=normalized,
                      indices=idx)
        self.probes.append(probe)
        if self.runtime is not None:
            self.runtime.add_probe(probe)
        return probe

    def current_weights(self, conn):
        """The weights of a plastic connection now (the initial ``conn.weights`` before the first run).

        Returns
        -------
        ndarray (post.n, pre.n), or (B, post.n, pre.n) with a batch, for a dense connection;
        for a sparse one the weights of its synapses in the canonical CSR order of
        ``conn.weights`` (``W.sum_duplicates()``): a scipy.sparse CSR matrix, or a list of B of them.
        """
        if not isinstance(conn, Connection):
            raise TypeError(f"conn must be a Connection, got {type(conn).__name__}")
        if conn not in self.connections:
            raise ValueError("conn: the connection is not one of this network's")
        if conn.plasticity is None:
            raise ValueError(f"the connection {conn.pre.name!r} -> {conn.post.name!r} has no plasticity: its "
                             "weights are conn.weights")
        rt = None if self.runtime is None else self.runtime.plastic_runtime(conn)
        if rt is None:
            import scipy.sparse as sp
            W = conn.matrix()
            if not sp.issparse(W):
                return W.copy() if self.batch is None else np.tile(W, (self.batch, 1, 1))
            W = W.tocsr(copy=True)
            W.sum_duplicates()
            return W if self.batch is None else [W.copy() for _ in range(self.batch)]
        values = rt.value()
        if not rt.dense:
            import scipy.sparse as sp
            shape = (conn.post.n, conn.pre.n)
            W = conn.matrix().tocsr(copy=True)
            W.sum_duplicates()
            values = [sp.csr_matrix((v.copy(), W.indices.copy(), W.indptr.copy()), shape=shape) for v in values]
        return values[0] if self.batch is None else values

    def _probe_data(self, probe):
        if self.runtime is None:
            shape = probe.value_shape if self.batch is None else (self.batch,) + probe.value_shape
            if probe.kind == "rate":
                return np.zeros((0,) if self.batch is None else (0, self.batch)), np.zeros(0)
            if probe.kind == "spikes":
                empty = (np.zeros(0), np.zeros(0, dtype=np.int64))
                return (empty if self.batch is None else empty + (np.zeros(0, dtype=np.int64),)), None
            return np.zeros((0,) + shape), np.zeros(0)
        return self.runtime.probe_data(probe)

    # ---- running -----------------------------------------------------------------
    def build(self, max_bytes=None):
        """Build the runtime now (``run`` does it on first use); returns it. See ``run`` for ``max_bytes``."""
        if self.runtime is None:
            self._check_size(0, max_bytes)
            self.runtime = self._new_runtime()
        return self.runtime

    @property
    def plan(self):
        """The ordered operations every step runs (:class:`neurosim.network.plan.Plan`); builds the network.

        ``print(net.plan)`` lists them by phase. On the numba backend the same operations run
        inside compiled kernels, many steps per call.
        """
        runtime = self.build()
        return runtime.make_plan()

    def _new_runtime(self):
        runtime, self._backend_used = build_runtime(self, self._backend_request)
        return runtime

    @property
    def backend(self):
        """The backend that runs this network, "numpy" or "numba".

        Decided when the network is built (first ``run`` or ``build``); before that,
        the backend it will use if every part of the network compiles.
        """
        if self.runtime is not None and self._backend_used is not None:
            return self._backend_used
        request = self._backend_request
        if request == "auto" and os.environ.get("NEUROSIM_BACKEND") == "numpy":
            return "numpy"
        if request == "auto":
            return "numba" if numba_available() and not unsupported(self) else "numpy"
        return request

    def run(self, T, progress=False, max_steps=MAX_STEPS, max_bytes=None):
        """Advance the network by T seconds (a multiple of dt). Calls can be chained: run(T) twice == run(2T).

        Each step is committed whole: after an exception (including Ctrl-C)
        ``net.t`` is the time of the network's state, and ``run`` continues as
        if it had not been interrupted.

        Parameters
        ----------
        T : float
            Duration in seconds.
        progress : bool
            Show progress on stderr.
        max_steps : int
            Refuse a run of more steps than this (default ``MAX_STEPS`` = 1e8).
        max_bytes : int, optional
            Refuse a run whose state and recorded samples would exceed this many
            bytes (default: half the memory available now). Spike probes grow
            with the spikes and are not included.
        """
        progress = check.check_bool("progress", progress)
        max_steps = check.check_int("max_steps", max_steps, low=1)
        steps = check.positive("T", T) / self.dt  # before n_steps, which cannot round an infinite count
        if steps > max_steps + 0.5:
            raise ValueError(f"run(T={T!r}) needs {steps:.3g} steps of dt={self.dt:g} s, more than "
                             f"max_steps={max_steps}; pass a larger max_steps to allow it")
        steps = check.n_steps(T, self.dt)
        self._check_size(steps, max_bytes)
        if self.runtime is None:  # sized just above: build without a second estimate
            self.runtime = self._new_runtime()
        else:  # parameters assigned since the last run take effect now, or are refused
            apply_changes(self, self.runtime)
        self.runtime.run(steps, progress)

    def _check_size(self, steps, max_bytes=None):
        """Refuse, before allocating, a runtime or run whose memory estimate exceeds ``max_bytes``."""
        B = self.batch or 1
        state = 8 * B * sum(p.n * _arrays_per_neuron(p.model) for p in self.populations)
        state += 8 * B * sum(c.post.n * (c.synapse.n + 1) * (1 + int(round(c.delay_bounds[1] / self.dt)))
                             for c in self.connections)
        state += sum(_weight_bytes(c.weights) * (B if c.plasticity is not None else 1)  # learned: one per trial
                     for c in self.connections)
        samples = 0
        if steps:
            t0 = self.t
            for p in self.probes:
                if p.kind not in ("spikes", "rate"):
                    first = max(t0, p.start)
                    count = max(0, int((t0 / self.dt + steps - first / self.dt) // p.every) + 1)
                    samples += count * (8 * B * int(np.prod(p.value_shape)) + 8)
        total = (state if self.runtime is None else 0) + samples
        limit = _available_bytes() // 2 if max_bytes is None else check.check_int("max_bytes", max_bytes, low=0)
        if total > limit:
            raise ValueError(f"this run would need about {total / 2**20:.4g} MiB "
                              + (f"with batch={self.batch} " if self.batch else "") +
                              f"(state {state / 2**20:.4g} MiB, probe samples {samples / 2**20:.4g} MiB), "
                              f"more than max_bytes={limit} ({limit / 2**20:.4g} MiB); record less "
                              "(sample_every=, fewer probes), run shorter chunks, or pass a larger max_bytes")

    def reset(self):
        """Back to t = 0: drop the runtime and the recorded data; the next run rebuilds it.

        The description keeps its drawn values (initial voltages, Poisson seeds),
        so a rerun is identical. Stored snapshots are dropped too.
        """
        self.runtime = None
        self._stored = {}

    def store(self, name="default"):
        """Snapshot the whole run state (as Brian2's ``store``): neurons, synapses, random streams, probe data."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self._stored[name] = self.build().snapshot()

    def restore(self, name="default"):
        """Return to the state saved by ``store(name)``, recorded probe data included."""
        if name not in self._stored:
            raise ValueError(f"no state stored under name {name!r}; stored: {sorted(self._stored)}")
        self.runtime.restore(self._stored[name])


def _check_delta(post, placement, timing):
    """Refuse a Delta synapse where its jump has no defined meaning here."""
    if not isinstance(post.model, LIF):
        raise ValueError(f"synapse=Delta() needs a LIF target (its weights jump the normalized or physical LIF "
                         f"voltage); {post.name!r} is a {type(post.model).__name__} (use a PSCFilter for it)")
    if placement != "boundary" and timing == "grid":
        raise ValueError(f"placement={placement!r} with synapse=Delta(): on the grid a jump applies at the start "
                         "of its arrival step (placement='boundary'); for jumps at their exact arrival times "
                         "use Network(timing='precise')")


def _input_for_view(values, idx, n, name):
    """A current for neurons ``idx`` of a population of n as one for the whole population (0 elsewhere)."""
    if callable(values):
        def whole(t):
            v = np.asarray(values(t), dtype=float)
            out = np.zeros(v.shape[:-1] + (n,) if v.ndim else (n,))
            out[..., idx] = v
            return out
        return whole
    v = check.finite_array("values", values)
    if v.ndim not in (2, 3) or v.shape[-1] != idx.size:
        raise ValueError(f"values (a current over steps) for {name!r} must have shape (steps, {idx.size}) or "
                         f"(steps, B, {idx.size}), got {v.shape}")
    out = np.zeros(v.shape[:-1] + (n,))
    out[..., idx] = v
    return out


def _weight_bytes(W):
    """Bytes the runtime keeps for a connection's weights (dense rows, or CSR data and indices)."""
    if isinstance(W, np.ndarray):
        return W.nbytes
    if isinstance(W, Convolution):
        return 24 * W.nnz_bound
    return 2 * W.data.nbytes


def _arrays_per_neuron(model):
    """float64 arrays a population's runtime keeps per neuron (for the memory estimate)."""
    if isinstance(model, LIF):
        return 2
    if isinstance(model, NeuronModel):
        return 2 * len(model.state_variables()) + 3  # state, scratch, J and its work arrays
    return 60


#: Largest batch (trials run together); Network(batch=) and trial_seeds refuse more up front.
MAX_BATCH = 10**6


def _available_bytes():
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 2**30
