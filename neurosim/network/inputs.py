"""Inputs of a Network: Poisson sources, given spike times, and injected currents.

Each input is a description (parameters only) with a small runtime
counterpart (``*Runtime``) that the network's :class:`~neurosim.network.runtime.Runtime`
builds from it.

Spike sources follow the same timing rule as neurons: a spike at time ts is
delivered to synapses at the first step boundary at or after ts (a spike at
exactly ``m * dt`` arrives at ``m * dt``). With a batch, spike indices in the
runtime are flat, ``trial * n + neuron``.
"""
import numpy as np

from .. import validation as check
from .changes import read_only
from .connections import per_post
from .plan import Stateful
from .views import select
from ..spikes import from_events, to_events

_BLOCK = 1000  # steps of Poisson spikes drawn at once (aligned to absolute steps, so chunking does not matter)
_EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY.flags.writeable = False


class _Selectable:
    def __getitem__(self, key):
        """A subgroup of the source's neurons (``src[0:10]``), usable as ``pre`` in connect and in probe."""
        return select(self, key)


class SpikeSource(_Selectable):
    """Neurons that fire at given times (the same times in every trial of a batch).

    Attributes
    ----------
    n : int
    name : str
    spike_times : list of ndarray
        Spike times (s) of each neuron.
    times, indices : ndarray
        The same spikes as events sorted by time: seconds (float64) and neuron indices (int64).
    """

    kind = "spikes"

    def __init__(self, spike_times, name):
        check.check_sequence("spike_times", spike_times,
                             "a list of per-neuron arrays of spike times (s), one array or (times, indices)")
        if isinstance(spike_times, tuple):  # events (times, indices)
            times, indices = (np.asarray(a) for a in spike_times)
            spike_times = from_events(times, indices)
        elif isinstance(spike_times, np.ndarray) and spike_times.ndim == 1:
            spike_times = [spike_times]
        self.spike_times = [check.finite_array("spike_times", s).ravel() for s in spike_times]
        self.n = len(self.spike_times)
        if self.n == 0:
            raise ValueError("spike_times must hold at least one neuron's train")
        self.name = name
        times, indices = to_events(self.spike_times)
        if times.size and times.min() < 0:
            raise ValueError(f"spike times must be >= 0 s, got {times.min()!r}")
        self.times, self.indices = times, indices

    def __repr__(self):
        return f"SpikeSource(n={self.n}, name={self.name!r})"


class PoissonSource(_Selectable):
    """Independent Poisson spike trains with constant or time-varying rates.

    Attributes
    ----------
    n : int
    rate : ndarray (n,), ndarray (steps, n), TimedArray or callable
        Rates in Hz: constant per source, one row per step (absolute steps), or a
        :class:`neurosim.TimedArray` / function ``f(t) -> scalar or (n,)`` evaluated at the
        start of each step; the rate is held over the step (the same rule as every input,
        see :mod:`neurosim.signals`).
    name : str
    seed : int or tuple of int
        Seed of the source's random stream (one per trial with a batch), drawn
        from the network's rng when the source was added.
    """

    kind = "poisson"

    #: True: each target of a connection from this source gets its own independent trains (see
    #: :class:`PoissonDrive`); set by ``Network.add_poisson(..., independent_per_target=True)``
    independent_per_target = False

    @property
    def rate(self):
        """Rates in Hz (read-only array, or the function); assigning takes effect at the next run."""
        return self._rate

    @rate.setter
    def rate(self, value):
        self._rate = read_only(self._check_rate(value))

    def __init__(self, n, rate, name, seed, independent_per_target=False):
        self.n = _count("n", n)
        self.name, self.seed = name, seed
        self.independent_per_target = bool(independent_per_target)
        self.rate = rate

    def _check_rate(self, rate):
        if self.independent_per_target and (callable(rate) or np.ndim(rate) == 2):
            raise ValueError(f"rate of {self.name!r} (independent_per_target=True) must be constant, a scalar or "
                             f"shape ({self.n},) in Hz: per-target drives are drawn as counts per step from "
                             "constant rates (a time-varying rate needs independent_per_target=False)")
        if callable(rate):  # functions and TimedArrays: checked when evaluated
            return rate
        rate = check.finite_array("rate", rate)
        if rate.ndim == 2:  # one row per step
            if rate.shape[1] not in (1, self.n) or np.any(rate < 0):
                raise ValueError(f"rate over steps must have shape (steps, {self.n}) with values >= 0 Hz, "
                                 f"got shape {rate.shape}")
            return np.broadcast_to(rate, (rate.shape[0], self.n)).copy()
        if rate.ndim > 1 or rate.size not in (1, self.n) or np.any(rate < 0):
            raise ValueError(f"rate must be a rate >= 0 Hz or shape ({self.n},), got {rate!r}")
        return np.broadcast_to(rate, (self.n,)).copy()

    def __repr__(self):
        return f"PoissonSource(n={self.n}, name={self.name!r})"


class CurrentInput:
    """Input current added to a population: an array over steps, or ``f(t)``.

    ``values`` is ``(steps, n)`` (the same for all trials) or, with a batch,
    ``(steps, B, n)``, indexed by absolute step. ``f(t)`` gets the time (s) at
    the start of each step and returns a scalar, ``(n,)`` or ``(B, n)``. With a
    physical population (built from ``LIFUnits``) values are amperes,
    otherwise normalized input J (uA/cm^2 for HodgkinHuxley).

    Attributes
    ----------
    target : Population
    function : callable or None
    values : ndarray or None
        Scaled to the population's internal units (normalized J or uA/cm^2).
    scale : float
        Factor from the given units to the internal ones.
    """

    def __init__(self, target, values, scale, batch=None, name="values"):
        self.target = target
        self.scale = scale
        if callable(values):
            self.function, self.values = values, None
            return
        values = check.finite_array(name, values)
        shapes = [f"(steps, {target.n})"] + ([] if batch is None else [f"(steps, {batch}, {target.n})"])
        ok = values.ndim == 2 and values.shape[1] == target.n
        ok |= batch is not None and values.ndim == 3 and values.shape[1:] == (batch, target.n)
        if not ok:
            raise ValueError(f"{name} (a current over steps) must have shape {' or '.join(shapes)} for "
                             f"{target.name!r}, got {values.shape}")
        self.function, self.values = None, values * scale


class SpikeSourceRuntime(Stateful):
    """Emits a :class:`SpikeSource`'s spikes step by step (flat indices with a batch)."""

    def __init__(self, src, dt, B):
        # delivery step m = ceil(t/dt); the tolerance keeps t = m*dt (up to rounding) at m
        self._m = np.ceil(src.times / dt - 1e-9).astype(np.int64)
        self._times, self._indices = src.times, src.indices
        self.n, self.B = src.n, B
        self.spiked = _EMPTY

    def emit(self, m):
        """Flat indices and times (s) of the spikes delivered at ``m * dt``."""
        a, b = np.searchsorted(self._m, (m, m + 1))
        idx, times = self._indices[a:b], self._times[a:b]
        if self.B > 1 and idx.size:  # the same spikes in every trial, trial-major
            idx = (np.arange(self.B)[:, None] * self.n + idx).ravel()
            times = np.tile(times, self.B)
        return idx, times



class PoissonRuntime(Stateful):
    """Draws a :class:`PoissonSource`'s spikes in blocks of steps, one stream per trial.

    A block is drawn once and cached, so a step retried after an interruption
    sees the same spikes; the streams' states are part of the snapshot.
    """

    def __init__(self, src, dt, B):
        seeds = src.seed if isinstance(src.seed, tuple) else (src.seed,)
        self._gens = [np.random.default_rng(s) for s in seeds]
        self.rate, self.n, self.dt, self.B = src.rate, src.n, dt, B
        self.varying = callable(src.rate) or np.ndim(src.rate) == 2
        self._block = -1
        self._origin = 0  # blocks start at origin + b * BLOCK; a rate assigned between runs moves it
        self._idx = self._times = self._bounds = None
        self.spiked = _EMPTY

    def set_rate(self, src, step):
        """Use ``src.rate`` from step ``step`` on: later blocks are drawn anew, from the streams as they are."""
        self.rate = src.rate
        self.varying = callable(src.rate) or np.ndim(src.rate) == 2
        self._origin, self._block = step, -1

    def emit(self, m):
        """Flat indices, times of the spikes in ``((m-1) dt, m dt]``, delivered at ``m * dt``."""
        k = m - 1
        if k < 0:  # nothing happens exactly at t = 0 in a Poisson process
            return _EMPTY, np.zeros(0)
        b = (k - self._origin) // _BLOCK
        if self.varying and not callable(self.rate) and k >= len(self.rate):
            raise ValueError(f"Poisson rate array has {len(self.rate)} steps; the run needs step {k}")
        if b != self._block:
            self._draw(b)
        j = k - self._origin - b * _BLOCK
        lo, hi = self._bounds[j], self._bounds[j + 1]
        return self._idx[lo:hi], self._times[lo:hi]

    def _draw(self, b):
        if self.varying:
            rates = self._block_rates(b)
            parts = [self._draw_varying(gen, rates) for gen in self._gens]
        else:
            parts = [self._draw_one(gen) for gen in self._gens]
        if len(parts) == 1:
            idx, pos, step = parts[0]
        else:  # trial-major, then by step (stable): each trial keeps the order of a single run
            idx = np.concatenate([p[0] + t * self.n for t, p in enumerate(parts)])
            pos = np.concatenate([p[1] for p in parts])
            step = np.concatenate([p[2] for p in parts])
        order = np.argsort(step, kind="stable")
        idx, times = idx[order], (self._origin + b * _BLOCK + pos[order]) * self.dt
        bounds = np.searchsorted(step[order], np.arange(_BLOCK + 1))
        self._idx, self._times, self._bounds, self._block = idx, times, bounds, b

    def _draw_one(self, gen):
        counts = gen.poisson(self.rate * (_BLOCK * self.dt))
        idx = np.repeat(np.arange(self.n, dtype=np.int64), counts)
        pos = _BLOCK * (1.0 - gen.random(idx.size))  # in (0, BLOCK] steps from the block start
        step = np.clip(np.ceil(pos).astype(np.int64) - 1, 0, _BLOCK - 1)
        return idx, pos, step

    def _block_rates(self, b):
        """Rates (BLOCK, n) in Hz held over the block's steps (0 past the end of a rate array)."""
        k = self._origin + b * _BLOCK + np.arange(_BLOCK)
        if not callable(self.rate):
            out = np.zeros((_BLOCK, self.n))
            valid = k < len(self.rate)
            out[valid] = self.rate[k[valid]]
            return out
        rows = []
        for t in k * self.dt:
            r = np.asarray(self.rate(t))
            if r.dtype.kind not in "biuf" or r.ndim > 1 or r.size not in (1, self.n):
                raise TypeError(f"Poisson rate function must return real numbers, a scalar or shape ({self.n},); "
                                f"at t={t:g} s it returned {r!r}")
            rows.append(np.broadcast_to(r, (self.n,)))
        out = np.array(rows, dtype=float)
        bad = ~(np.isfinite(out) & (out >= 0))
        if bad.any():
            raise ValueError(f"Poisson rate function must return finite rates >= 0 Hz, got {out[bad][0]!r}")
        return out

    def _draw_varying(self, gen, rates):
        counts = gen.poisson(rates * self.dt)  # (BLOCK, n): independent counts per step and source
        step, idx = np.nonzero(counts)
        c = counts[step, idx]
        step, idx = np.repeat(step, c), np.repeat(idx.astype(np.int64), c)
        pos = step + (1.0 - gen.random(idx.size))  # in (step, step + 1]
        return idx, pos, step

    def snapshot_extra(self):  # no arrays to declare: the streams and the cached block (never modified in place)
        return ([g.bit_generator.state for g in self._gens], self._block, self._idx, self._times, self._bounds,
                self._origin, self.rate, self.varying)

    def restore_extra(self, snap):
        states, self._block, self._idx, self._times, self._bounds, self._origin, self.rate, self.varying = snap
        for g, s in zip(self._gens, states):
            g.bit_generator.state = s


class SilentRuntime(Stateful):
    """The runtime of an independent-per-target :class:`PoissonSource`: it emits no shared spikes (each
    connection from it draws its own, :class:`PoissonDrive`)."""

    def __init__(self, src, dt, B):
        self.spiked = _EMPTY

    def emit(self, m):
        return _EMPTY, np.zeros(0)

    def set_rate(self, src, step):
        pass



def source_runtime(src, dt, B):
    """The runtime of a source description."""
    if isinstance(src, PoissonSource):
        return SilentRuntime(src, dt, B) if src.independent_per_target else PoissonRuntime(src, dt, B)
    return SpikeSourceRuntime(src, dt, B)


_DRIVE_CELLS = 1 << 18  # (step, synapse) cells of counts drawn at once


class PoissonDrive(Stateful):
    """Independent Poisson trains per synapse of a connection from an independent-per-target source.

    A connection with weights W (post, pre) from a :class:`PoissonSource` built with
    ``independent_per_target=True`` gives every nonzero W[i, j] its own Poisson train
    of rate ``rate[j]`` and weight W[i, j] (NEST's ``poisson_generator``: each target
    of the device gets its own train). With one source (n = 1) and a column of
    weights, each target neuron gets its own drive. Trials of a batch draw from their
    own streams.

    Grid timing: the spikes of step k (in ``(k dt, (k+1) dt]``) are drawn as counts per
    synapse (a Poisson count each, or, when every synapse has the same rate, the
    total count spread uniformly over the (step, synapse) cells, which is the same
    distribution), with no per-spike times and no sort, and arrive like any source
    spike: at the boundary ``(k + 1) dt`` with a delay < dt, else at ``k dt + delay``
    (delays must then be multiples of dt). The synapse sums them linearly: a count c
    of weight w is c spikes of weight w arriving together.

    Precise timing (:meth:`events`): the same counts, with uniform exact times in the step.
    """

    plastic = None  # a drive does not learn (the runtime asks every connection runtime)

    def __init__(self, conn, dt, B, seeds, scale, precise=False):
        import scipy.sparse as sp

        self.precise, self._times = precise, None
        src = self.source = conn.pre
        W = conn.matrix()
        rows = sp.csr_matrix(W, dtype=np.float64)
        rows.sum_duplicates()
        rows.eliminate_zeros()
        self.n_post, self.B, self.dt = conn.post.n, B, dt
        self.post = np.repeat(np.arange(self.n_post, dtype=np.int64), np.diff(rows.indptr))
        self.pre = rows.indices.astype(np.int64)
        self.w = rows.data * per_post(scale, self.post)
        self.nnz = self.post.size
        self.unique = self.nnz == np.unique(self.post).size  # each target has one synapse from the source
        if not self.unique:
            self.M = sp.csr_matrix((self.w, (self.post, np.arange(self.nnz))), shape=(self.n_post, self.nnz))
        self._gens = [np.random.default_rng(s) for s in seeds]
        self.S = int(max(1, min(1000, _DRIVE_CELLS // max(1, self.nnz * B))))
        self.set_rate(src, 0)
        d = conn.delay / dt
        steps = int(np.floor(d + 1e-9))
        if steps >= 1 and abs(d - steps) > 1e-9 * max(1.0, d) and not precise:
            raise ValueError(f"the connection {src.name!r} -> {conn.post.name!r} from a Poisson source with "
                             f"independent_per_target=True needs a delay < dt or a multiple of dt={dt!r} s (its "
                             f"spikes are counts per step, without times inside the step), got delay={conn.delay!r} s")
        self.lead = max(1, steps)  # counts of step k arrive at boundary k + lead
        # duck-typing of ConnectionRuntime for the runtime's bookkeeping (never fused or scattered)
        self.reach, self.delay_steps, self.dense, self.lagged, self.cut = self.lead - 1, steps, True, False, None
        self.delay, self.n_pre = float(conn.delay), src.n

    def set_rate(self, src, step):
        """Use ``src.rate`` from step ``step`` on (later blocks are drawn anew)."""
        lam = np.asarray(src.rate, dtype=float)[self.pre] * self.dt
        self.lam = lam
        self.homogeneous = lam.size > 0 and bool(np.all(lam == lam[0]))
        self._origin, self._block, self._drive = step, -1, None

    def _draw_counts(self, gen):
        """Counts (S, nnz) of one trial for one block."""
        S, nnz = self.S, self.nnz
        if self.homogeneous:
            # the total is Poisson(S nnz lam) and, given it, the cells are uniform (multinomial): the same
            # joint law as independent Poisson(lam) counts per cell, at one random integer per spike
            cells = S * nnz
            total = gen.poisson(self.lam[0] * cells)
            at = gen.integers(0, cells, total, dtype=np.uint32 if cells < 2**32 else np.int64)
            return np.bincount(at, minlength=cells).reshape(S, nnz)
        return gen.poisson(self.lam, size=(S, nnz))

    def _draw(self, b):
        counts = [self._draw_counts(g) for g in self._gens]
        if self.precise:  # exact times instead of summed jumps
            self._times = [self._draw_times(c, g) for c, g in zip(counts, self._gens)]
            self._block = b
            return
        drive = np.zeros((self.S, self.B * self.n_post))
        for t, c in enumerate(counts):
            cols = slice(t * self.n_post, (t + 1) * self.n_post)
            if self.unique:
                drive[:, cols][:, self.post] = c * self.w
            else:
                drive[:, cols] = (self.M @ c.T).T
        self._drive, self._block = drive, b

    def prepare(self, k):
        """Draw the block of step k if needed (prepare phase; a retried step reuses it)."""
        b = (k - self._origin) // self.S
        if b != self._block:
            self._draw(b)

    def deliver(self, k):
        """Add step k's counts (weighted) into the target group at their arrival boundary."""
        row = k - self._origin - self._block * self.S
        self.group.target(k + self.lead, k + 1)[...] += self._drive[row]

    def events(self, k):
        """Precise timing: (targets, absolute arrival times (s), increments) of step k's spikes, flat over trials.

        The exact times are uniform in ``(k dt, (k+1) dt]``, drawn with the block (:meth:`prepare`).
        """
        row = k - self._origin - self._block * self.S
        tg, times, inc = [], [], []
        for t, (e, u, bounds) in enumerate(self._times):
            a, b = bounds[row], bounds[row + 1]
            tg.append(self.post[e[a:b]] + t * self.n_post)
            inc.append(self.w[e[a:b]])
            times.append((k + u[a:b]) * self.dt + self.delay)
        if len(tg) == 1:
            return tg[0], times[0], inc[0]
        return np.concatenate(tg), np.concatenate(times), np.concatenate(inc)

    def _draw_times(self, counts, gen):
        """Per trial: synapse of each spike (row-major over the block), its time in the step (1 - U in (0, 1]),
        and each row's bounds."""
        flat = counts.reshape(-1)
        cells = np.repeat(np.arange(flat.size, dtype=np.int64), flat)
        bounds = np.r_[0, np.cumsum(counts.sum(axis=1))]
        return cells % self.nnz, 1.0 - gen.random(cells.size), bounds

    def snapshot_extra(self):  # the streams and the cached block of counts
        return ([g.bit_generator.state for g in self._gens], self._block, self._drive, self._times,
                self._origin, self.lam, self.homogeneous)

    def restore_extra(self, snap):
        states, self._block, self._drive, self._times, self._origin, self.lam, self.homogeneous = snap
        for g, s in zip(self._gens, states):
            g.bit_generator.state = s


def drive_seeds(src, index):
    """Seeds (one per trial) of the i-th connection from an independent-per-target source."""
    seeds = src.seed if isinstance(src.seed, tuple) else (src.seed,)
    return [np.random.SeedSequence([int(s), int(index)]) for s in seeds]


class CurrentInputRuntime(Stateful):
    """Evaluates a :class:`CurrentInput` for a step (before the commit) and adds it to J."""

    def __init__(self, inp, B, batched):
        self.inp, self.B, self.batched = inp, B, batched
        self.value = None

    def prepare(self, k, t0, n):
        """Evaluate the input of step ``k`` (may raise; changes no state of the network)."""
        inp = self.inp
        if inp.values is not None:
            if k >= len(inp.values):
                raise ValueError(f"current input for {inp.target.name!r} has {len(inp.values)} steps; "
                                 f"the run needs step {k}")
            self.value = inp.values[k]
            return
        value = np.asarray(inp.function(t0), dtype=float)
        # a user function: check each value, or a wrong shape broadcasts and a NaN spreads silently
        ok = value.ndim <= 1 and value.size in (1, n)
        ok |= self.batched and value.shape == (self.B, n)
        if not ok or not np.isfinite(value).all():
            shapes = f"({n},)" + (f" or ({self.B}, {n})" if self.batched else "")
            raise ValueError(f"current function for {inp.target.name!r} must return finite values, a scalar "
                             f"or shape {shapes}; at t={t0:g} s it returned {value!r}")
        self.value = value * inp.scale

    def add_to(self, J2):
        """Add the prepared value to J2 ((n,) or (B, n))."""
        J2 += self.value


def _count(name, n):
    """A number of neurons: an int in [1, 2**32 - 1] (event indices are uint32)."""
    return check.count_int(name, n, limit=check.MAX_INDEX)
