"""Build a neurosim network with PyNN's API, to run it on NEST (threads) or NEURON (MPI).

Mapping:

* LIF population -> ``IF_curr_exp`` (its inputs use exponential PSCs, n = 0),
  ``IF_curr_alpha`` (alpha PSCs, n = 1) or ``IF_curr_delta`` (Delta synapses: NEST's
  ``iaf_psc_delta``, weights in mV); parameters, bias (as
  ``i_offset``), initial voltages and weights converted by
  :func:`neurosim.export.units.pynn_units` (ms, mV, nA, nF).
  With ``network.timing == "precise"`` on NEST: NEST's precise-timing models
  ``iaf_psc_exp_ps`` / ``iaf_psc_alpha_ps`` (``sim.native_cell_type``,
  parameters by :func:`neurosim.export.units.nest_ps_params`).
* Poisson source -> ``SpikeSourcePoisson`` (drawn by the backend) or, in
  :func:`~neurosim.export.write_pynn_script`, ``SpikeSourceArray`` with spike
  times drawn at export; spike-time source -> ``SpikeSourceArray``. A Poisson drive with
  ``independent_per_target=True`` -> one such cell per synapse (PyNN on NEST sends a cell's
  train through one parrot neuron, so the targets of one cell would share its train).
* AdEx population -> ``EIF_cond_exp_isfa_ista``, Izhikevich population ->
  ``Izhikevich`` (:mod:`.models`: parameters, bias and initial state; no
  current-based connections into them).
* Connection -> ``Projection`` with a ``FromListConnector`` built from the
  nonzero weights (dense or sparse W of shape (post, pre)): positive weights
  on the ``"excitatory"`` receptor, negative ones on ``"inhibitory"``.
  Per-synapse delays (``Connection.delays``) go into the list synapse by synapse.

PyNN cells have two PSC time constants (``tau_syn_E``, ``tau_syn_I``), so all
positive weights into a population must share one tau_s, and all negative
weights one tau_s (CUBA: 5 ms excitatory, 10 ms inhibitory). Timing: neurosim
delivers a spike at ts + delay, in the step containing it, and a delay < dt at
the end of the step the spike occurs in; NEST and NEURON (whose delays count
from the end of that step) need delays of at least one step, so delays become ``max(delay, dt)``
and their spike times are on the dt grid (neurosim's are exact within the step).

A LIF population whose inputs are :class:`neurosim.Conductance` synapses becomes
``IF_cond_exp`` (n = 0) or ``IF_cond_alpha`` (n = 1): at most two distinct
conductances (``tau_s``, ``E_rev``) into it, the one with the higher ``E_rev``
on the ``"excitatory"`` receptor (``tau_syn_E``, ``e_rev_E``), the other on
``"inhibitory"``; weights are peak conductances in uS (PyNN's unit), scaled with the
leak conductance ``cm / tau_m`` of the physical scale, and must be >= 0. Mixing
conductance and current synapses into one population, or precise timing, is refused.
LIF parameters given per neuron become PyNN parameter arrays (weights scaled per post neuron).

The export is two steps: :func:`export_plan` turns the description into plain
data (a JSON-able ``meta`` dict and numpy arrays, in PyNN units), and
:func:`neurosim.export.runner.build` creates PyNN objects from it.
:func:`to_pynn` runs both in this process; ``write_pynn_script`` saves the
data to a .npz and the builder as a standalone script.

STDP (``plasticity=neurosim.STDP``) -> ``STDPMechanism`` with a ``SpikePairRule`` and an
``AdditiveWeightDependence`` / ``MultiplicativeWeightDependence`` (PyNN's additive amplitudes are
fractions of w_max, so A_plus and A_minus are divided by w_max; weights and bounds in nA), with
``dendritic_delay_fraction=0``: neurosim's delay is axonal (the presynaptic spike reaches the
synapse at arrival, as in Brian2). NEST's ``stdp_synapse`` treats every delay as dendritic, which
would shift every spike pair by twice the delay, so a network with STDP is refused on NEST; NEURON
runs it (PyNN's StdwaSA / StdwaSoft mechanisms apply the same per-event updates; not run here, NEURON is not
installed; the multiplicative one does not clip, which matters only if A * trace exceeds 1, and it keeps a
weight <= 0 at 0, so such weights are refused). Nearest-spike pairing and w_min < 0 have no PyNN equivalent
and are refused.

Not supported (a ValueError names the feature): Hodgkin-Huxley and user-defined
populations, PSCs of order n >= 2, populations mixing exponential and alpha
PSCs, injected currents (``add_current_input``), other source types, and what
:mod:`.models` refuses for AdEx and Izhikevich populations.
"""
import types

import warnings

import numpy as np

from ... import validation as check
from ..._optional import require
from ...progress import Progress
from . import runner
from ..units import DEFAULT_SCALE, nest_ps_params, pynn_units
from ...network.inputs import CurrentInput, PoissonSource, SpikeSource
from ...neurons.lif import LIF
from ...synapses.conductance import is_conductance
from ...network.connections import jump_scale
from ...synapses.delta import Delta
from ..refusals import refuse_uncarried
from . import models

_TIMINGS = ("grid", "precise")


class PyNNNetwork:
    """A neurosim network built in PyNN, returned by :func:`to_pynn`.

    Attributes
    ----------
    sim : module
        The PyNN backend (e.g. ``pyNN.nest`` or ``pyNN.neuron``).
    populations : dict
        neurosim name -> PyNN ``Population`` (neuron populations and sources).
    projections : list
        PyNN ``Projection`` objects, one or two (by sign) per neurosim connection.
    dt : float
        Step in seconds.
    """

    def __init__(self, sim, populations, projections, dt):
        self.sim, self.populations, self.projections, self.dt = sim, populations, projections, dt

    def record(self, names=None):
        """Record spikes of the named populations (default: all neuron populations and sources)."""
        for name in self._names(names):
            self.populations[name].record("spikes")

    def run(self, T, progress=False):
        """Advance the PyNN simulation by T seconds (``progress``: a line on stderr, rank 0 only)."""
        T = check.positive("T", T)
        progress = check.check_bool("progress", progress)
        runner.run(self.sim, 1000.0 * T, 1000.0 * self.dt, progress=progress and self.sim.rank() == 0)

    def spike_times(self, name):
        """Spike times in seconds of each neuron of ``name`` on this MPI rank: a list of arrays.

        With MPI, use ``populations[name].write_data(...)`` or ``get_data(gather=True)`` instead.
        """
        from ...spikes import split_by_neuron

        times, indices = runner.local_events(self.populations[name])
        return split_by_neuron(times, indices, self.populations[name].size)

    def _names(self, names):
        if names is None:
            return list(self.populations)
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in self.populations:
                raise ValueError(f"no population or source named {name!r}; have {sorted(self.populations)}")
        return names


def _synapse_plan(pop, conns):
    """Cell type order n and (tau_syn_E, tau_syn_I) in seconds for the connections into ``pop``
    (``("delta", None, None)`` when all of them are Delta synapses: ``IF_curr_delta``)."""
    deltas = sum(isinstance(c.synapse, Delta) for c in conns)
    if deltas and deltas < len(conns):
        raise ValueError(f"population {pop.name!r} receives both Delta and PSC synapses; a PyNN cell type has one "
                         "synapse shape (IF_curr_delta, IF_curr_exp or IF_curr_alpha)")
    if deltas:
        return "delta", None, None
    if any(is_conductance(c.synapse) for c in conns):
        return _conductance_plan(pop, conns)
    orders = {c.synapse.n for c in conns}
    if any(n >= 2 for n in orders):
        raise ValueError(f"population {pop.name!r} receives PSCs of order n >= 2 ({sorted(orders)}); PyNN's "
                         "current-based cells support only exponential (n=0) and alpha (n=1) PSCs")
    if len(orders) > 1:
        raise ValueError(f"population {pop.name!r} mixes exponential and alpha PSCs; a PyNN cell type has one "
                         "PSC shape (IF_curr_exp or IF_curr_alpha)")
    taus = {"excitatory": set(), "inhibitory": set()}
    for c in conns:
        W = c.matrix()
        data = W if isinstance(W, np.ndarray) else W.data
        if np.any(data > 0):
            taus["excitatory"].add(c.synapse.tau_s)
        if np.any(data < 0):
            taus["inhibitory"].add(c.synapse.tau_s)
    for receptor, values in taus.items():
        if len(values) > 1:
            raise ValueError(
                f"population {pop.name!r}: its {receptor} (positive/negative) weights come through PSCs with "
                f"different tau_s {sorted(values)} s; PyNN cells have one tau_syn per receptor")
    default = conns[0].synapse.tau_s if conns else 0.005
    tau_e = next(iter(taus["excitatory"]), None)
    tau_i = next(iter(taus["inhibitory"]), None)
    tau_e = tau_e if tau_e is not None else (tau_i if tau_i is not None else default)
    tau_i = tau_i if tau_i is not None else tau_e
    return (orders.pop() if orders else 0), tau_e, tau_i


class _ConductancePlan(tuple):
    """``(n, tau_e, tau_i)`` of a population with conductance inputs, and in ``cond``
    ``(E_e, E_i, exc, inh)``: normalized reversal potentials and the synapses on the excitatory
    and inhibitory receptors (the same one when there is one)."""

    cond = None


def _conductance_plan(pop, conns):
    """The :class:`_ConductancePlan` of a population whose inputs are conductances."""
    from ...synapses.conductance import Conductance

    if not all(isinstance(c.synapse, Conductance) for c in conns):
        raise ValueError(f"population {pop.name!r} mixes conductance and current-based synapses; a PyNN cell type "
                         "has either (IF_cond_* or IF_curr_*)")
    syns = sorted(dict.fromkeys(c.synapse for c in conns), key=lambda s: -s.E_rev)
    orders = {s.n for s in syns}
    if len(syns) > 2 or len(orders) > 1 or orders - {0, 1}:
        raise ValueError(f"population {pop.name!r} receives the conductances {syns}; PyNN's IF_cond_exp / "
                         "IF_cond_alpha have two receptors (excitatory, inhibitory) of one shape (n = 0 or 1)")
    for c in conns:
        W = c.matrix()
        if np.any((W if isinstance(W, np.ndarray) else W.data) < 0):
            raise ValueError(f"connection {c.pre.name!r} -> {pop.name!r}: negative conductance weights cannot be "
                             "exported (PyNN conductances are >= 0; inhibition comes from e_rev_I)")
    units = pop.units
    # normalized reversal potentials: per neuron (PyNN parameter arrays) when the LIFUnits' span is
    rev = [s.E_rev if units is None else _number_or_array(units.voltage_to_v(s.E_rev)) for s in syns]
    exc, inh = syns[0], syns[-1]
    plan = _ConductancePlan((orders.pop(), exc.tau_s, inh.tau_s))
    plan.cond = (rev[0], rev[-1], exc, inh)
    return plan


def _number_or_array(x):
    return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float)


def _conn_list(W, factor_nA, delay_ms, sign, keep_zeros=False):
    """Rows (pre, post, weight nA, delay ms) of the weights with the given sign (zeros with the positive ones
    when ``keep_zeros``: every entry of a dense matrix, every stored one of a sparse matrix).

    ``delay_ms``: one delay, or per-synapse delays aligned with the canonical CSR ``W``'s data.
    """
    def chosen(data):
        if sign > 0:
            return data >= 0 if keep_zeros else data > 0
        return data < 0

    if isinstance(W, np.ndarray):
        post, pre = np.nonzero(chosen(W))
        w = W[post, pre]
    elif np.ndim(delay_ms):
        post = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
        keep = chosen(W.data)
        factor = factor_nA if np.ndim(factor_nA) == 0 else factor_nA[post[keep]]  # per post neuron
        return np.column_stack([W.indices[keep].astype(float), post[keep].astype(float), W.data[keep] * factor,
                                delay_ms[keep]])
    else:
        coo = W.tocoo()
        coo.sum_duplicates()
        keep = chosen(coo.data)
        post, pre, w = coo.row[keep], coo.col[keep], coo.data[keep]
    factor = factor_nA if np.ndim(factor_nA) == 0 else factor_nA[post]  # per post neuron (per-neuron tau_m)
    return np.column_stack([pre.astype(float), post.astype(float), w * factor, np.full(w.size, delay_ms)])


def _stdp_plan(rule, factor_nA):
    """PyNN's STDPMechanism parameters of a :class:`neurosim.STDP` (ms, nA; additive amplitudes / w_max)."""
    rel = 1.0 / rule.w_max if rule.rule == "additive" else 1.0
    return {"rule": rule.rule, "tau_plus": 1000.0 * rule.tau_plus, "tau_minus": 1000.0 * rule.tau_minus,
            "A_plus": rule.A_plus * rel, "A_minus": rule.A_minus * rel,
            "w_min": rule.w_min * factor_nA, "w_max": rule.w_max * factor_nA, "dendritic_delay_fraction": 0.0}


def _has_current_input(pop):
    """Whether ``pop`` receives an injected current (a Network keeps its inputs on their target population)."""
    return any(isinstance(i, CurrentInput) for i in pop.inputs)


def _check_supported(network, timing):
    """Validate everything exportable before touching a simulator; return {population name: synapse plan}."""
    from ...network.description import Network

    if not isinstance(network, Network):
        raise TypeError(f"network must be a neurosim.Network, got {type(network).__name__}")
    if timing not in _TIMINGS:
        raise ValueError(f"network.timing must be one of {_TIMINGS}, got {timing!r}")
    refuse_uncarried(network, "PyNN")
    plans = {}
    for pop in network.populations:
        if models.mapped(pop.model):  # AdEx, Izhikevich: their own cell types (export/pynn/models.py)
            if timing == "precise":
                raise ValueError(f"population {pop.name!r} is a {type(pop.model).__name__}, which has no precise-"
                                 "timing model in NEST or PyNN; export it with timing='grid'")
            models.check_population(pop, [c for c in network.connections if c.post is pop])
            plans[pop.name] = None
        elif not isinstance(pop.model, LIF):
            kind = "a Hodgkin-Huxley population" if type(pop.model).__name__ == "HodgkinHuxley" else \
                f"a {type(pop.model).__name__} population"
            raise ValueError(f"population {pop.name!r} is {kind}, which cannot be exported to PyNN: only LIF, "
                             "AdEx and Izhikevich populations map to PyNN cell types (PyNN's HH_cond_exp is a "
                             "different, conductance-based model)")
        if _has_current_input(pop):
            raise ValueError(f"population {pop.name!r} has an injected current (add_current_input): time-varying "
                             "input arrays and functions are not supported by the PyNN export")
        if not models.mapped(pop.model):
            plans[pop.name] = _synapse_plan(pop, [c for c in network.connections if c.post is pop])
    for src in network.sources:
        if not isinstance(src, (PoissonSource, SpikeSource)):
            raise ValueError(f"source {src.name!r} of type {type(src).__name__} is not supported by the PyNN export")
    if timing == "precise" and any(isinstance(c.synapse, Delta) for c in network.connections):
        raise ValueError("timing='precise' with Delta synapses is not exported yet: the export maps Delta "
                         "synapses to IF_curr_delta for grid timing only; export the network with timing='grid'")
    if any(isinstance(c.synapse, Delta) for c in network.connections):
        # said at export, not only in the docs: the exported network is not the one simulated here
        warnings.warn("Delta synapses export as PyNN's IF_curr_delta; on NEST through PyNN its spikes were "
                      "measured one step (dt) later than neurosim's and than NEST's iaf_psc_delta built directly "
                      "(a PyNN path issue, see docs/models.md, 'Delta synapses'); compare the results before "
                      "relying on exact spike times", UserWarning, stacklevel=3)
    for c in network.connections:
        r = c.plasticity
        if r is not None and r.pairing != "all":
            raise ValueError(f"connection {c.name!r}: STDP with pairing={r.pairing!r} cannot be exported: PyNN's "
                             "SpikePairRule pairs all spikes (use pairing='all')")
        if r is not None and r.w_min < 0:
            raise ValueError(f"connection {c.name!r}: STDP with w_min={r.w_min:g} < 0 cannot be exported: a PyNN "
                             "projection has one receptor, so its weights keep one sign")
    return plans


def _expand_drives(network):
    """Per-synapse cells of the ``independent_per_target=True`` Poisson sources.

    PyNN on NEST sends a ``SpikeSourcePoisson`` cell's train through one parrot neuron, so all
    targets of that cell get the *same* train. A neurosim drive gives every synapse W[i, j] its own
    train of rate ``rate[j]``: it is exported as one cell per stored synapse (the synapses of all
    its connections, in order), each connected to its one target. Returns {source name: rates (Hz)
    of its cells} and {connection index: its matrix over those cells, shape (post, cells)}, the
    stored entries in the order of the canonical CSR matrix (per-synapse delays stay aligned).
    """
    import scipy.sparse as sp

    rates, matrices = {}, {}
    for src in network.sources:
        if not getattr(src, "independent_per_target", False):
            continue
        per_source = np.broadcast_to(np.asarray(src.rate, dtype=float), (src.n,))
        cells = []
        for i, conn in enumerate(network.connections):
            if conn.pre is not src:
                continue
            W = sp.csr_matrix(conn.matrix())
            W.sum_duplicates()  # canonical: sorted indices, as conn.delays are aligned
            offset = sum(c.size for c in cells)
            matrices[i] = sp.csr_matrix((W.data, offset + np.arange(W.nnz), W.indptr), shape=(W.shape[0], 0))
            cells.append(per_source[W.indices])
        rates[src.name] = np.concatenate(cells) if cells else np.zeros(0)
        total = rates[src.name].size
        for i in list(matrices):
            if network.connections[i].pre is src:
                M = matrices[i]
                matrices[i] = sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], total))
    return rates, matrices


def _source_times_ms(trains, dt, timing):
    """Spike times (ms) as NEST/NEURON get them, with repeats: on the dt grid where neurosim delivers them
    (ceil), >= dt; exact in precise mode (they must be > 0).

    NEST cannot emit at t = 0. Returns (times ms, owners) sorted by owner then time.
    """
    counts = [np.size(t) for t in trains]
    times = np.concatenate([np.asarray(t, dtype=float).reshape(-1) for t in trains]) if trains else np.zeros(0)
    owners = np.repeat(np.arange(len(trains)), counts)
    if timing == "precise":
        if times.size and times.min() <= 0:
            raise ValueError("precise timing: NEST cannot emit a source spike at t <= 0 s; "
                             f"got a spike at {times.min()!r} s")
        ms = 1000.0 * times
    else:
        ms = np.maximum(np.ceil(times / dt - 1e-9), 1.0) * (1000.0 * dt)
    order = np.lexsort((ms, owners))
    return ms[order], owners[order]


def _mapped_cell(pop, i, arrays):
    """The meta entry of an AdEx or Izhikevich population (:mod:`.models`); its arrays go into ``arrays``."""
    kind, cell, initial = models.cell(pop)
    params, array_params = {}, {}
    for key, value in cell.items():
        if np.ndim(value) == 0:
            params[key] = float(value)
        else:
            array_params[key] = f"pop{i}_{key}"
            arrays[f"pop{i}_{key}"] = value
    for key, value in initial.items():
        arrays[f"pop{i}_{key}_init"] = value
    return {"name": pop.name, "n": int(pop.n), "type": kind, "params": params, "array_params": array_params,
            "v_init": f"pop{i}_v_init", "v_name": "v",
            "initial": {k: f"pop{i}_{k}_init" for k in initial if k != "v"}}


def _layers(ms, owners, n, dt_ms):
    """Split spike trains with repeated times into layers in which every train's times are distinct.

    Spikes that fall on the same grid time (or the same exact time) are kept:
    the k-th of them (k = 0, 1, ...) goes to layer k, which the export turns
    into a copy of the source with the same outgoing weights. The times before
    2 dt count as one (PyNN on NEST moves them to 2 dt, see ``runner.build``),
    so no layer has two of them. Returns ``[(neurons, times ms, counts)]``;
    layer 0 covers all ``n`` neurons, layer k >= 1 only the neurons with a (k+1)-th repeat.
    """
    key = np.maximum(ms, 2.0 * dt_ms)
    same = np.r_[False, (owners[1:] == owners[:-1]) & (key[1:] == key[:-1])] if ms.size else np.zeros(0, bool)
    start = np.where(~same, np.arange(ms.size), 0)
    rank = np.arange(ms.size) - np.maximum.accumulate(start) if ms.size else np.zeros(0, np.int64)
    layers = []
    for k in range(int(rank.max()) + 1 if rank.size else 1):
        sel = rank == k
        neurons = np.arange(n) if k == 0 else np.unique(owners[sel])
        local = np.searchsorted(neurons, owners[sel])
        layers.append((neurons, ms[sel], np.bincount(local, minlength=neurons.size).astype(np.int64)))
    return layers


def export_plan(network, scale=None, backend="nest", poisson="generator", T=None, rng=None, progress=False):
    """The PyNN description of ``network`` as plain data: (meta, arrays), in ms, mV, nA, nF.

    Parameters
    ----------
    network : neurosim.Network
    scale : dict, optional
        ``cm`` (nF), ``v_reset``, ``v_thresh`` (mV) for :func:`pynn_units`.
    backend : str
        ``"nest"``, ``"neuron"`` or another PyNN backend's name; precise timing needs ``"nest"``.
    poisson : {"generator", "arrays"}
        Poisson sources as ``SpikeSourcePoisson`` (drawn by the backend) or as
        spike times drawn here over ``T`` seconds with ``rng`` (reproducible runs).
    T : float, optional
        Duration (s) of the drawn Poisson spikes; required with ``poisson="arrays"``.
    rng : int, Generator or SeedSequence, optional
        Seeds the drawn Poisson spikes.
    progress : bool
        Show a progress line on stderr (sources, populations, connections).

    Returns
    -------
    meta : dict
        JSON-able description: ``dt_ms``, ``timing``, ``sources``, ``cells``,
        ``projections``, ``min_delay_ms``, ``max_delay_ms``, ``T``, ``scale``.
    arrays : dict of str -> ndarray
        Referenced by name from ``meta``.
    """
    from ...spikes import poisson_spikes

    timing = getattr(network, "timing", "grid")
    plans = _check_supported(network, timing)
    for c in network.connections:
        W = c.matrix()
        if backend == "neuron" and c.plasticity is not None and c.plasticity.rule == "multiplicative" and \
                np.any((W if isinstance(W, np.ndarray) else W.data) <= 0):
            raise ValueError(f"connection {c.name!r}: multiplicative STDP with a weight <= 0 cannot be exported to "
                             "NEURON: PyNN's mechanism there (StdwaSoft) keeps such a weight at 0 (pruned), "
                             "while neurosim potentiates it; start the weights above 0")
    if scale is not None and not isinstance(scale, dict):
        raise TypeError(f"scale must be a dict of physical units (keys {sorted(DEFAULT_SCALE)}) or None, "
                        f"got {type(scale).__name__}")
    scale = dict(DEFAULT_SCALE, **(scale or {}))
    unknown = set(scale) - set(DEFAULT_SCALE)
    if unknown:
        raise ValueError(f"scale keys must be among {sorted(DEFAULT_SCALE)}, got {sorted(unknown)}")
    if poisson not in ("generator", "arrays"):
        raise ValueError(f"poisson must be 'generator' or 'arrays', got {poisson!r}")
    if timing == "precise" and backend != "nest":
        raise ValueError(f"network.timing == 'precise' maps to NEST's iaf_psc_exp_ps/iaf_psc_alpha_ps models; "
                         f"the {backend!r} backend has no precise-timing models: use NEST")
    drawn = poisson == "arrays" and any(isinstance(s, PoissonSource) for s in network.sources)
    rng = check.as_rng(rng)  # validated even when nothing is drawn
    if drawn:
        T = check.positive("T", T)
    dt = network.dt
    meta = {"format": runner.FORMAT, "dt_ms": 1000.0 * dt, "timing": timing, "scale": scale,
            "T": None if T is None else float(T), "sources_drawn": drawn,
            "sources": [], "cells": [], "projections": []}
    arrays = {}
    copies = {}  # source name -> its copies for coincident spikes
    drive_rates, drive_matrices = _expand_drives(network)  # independent_per_target: one cell per synapse
    bar = Progress(len(network.sources) + len(network.populations) + len(network.connections), "PyNN export",
                   enabled=check.check_bool("progress", progress))
    for i, src in enumerate(network.sources):
        bar.update(i)
        n_cells, rate = (drive_rates[src.name].size, drive_rates[src.name]) if src.name in drive_rates else \
            (int(src.n), getattr(src, "rate", None))
        if n_cells == 0:  # a drive with no synapses: nothing reaches PyNN
            continue
        entry = {"name": src.name, "n": int(n_cells)}
        if src.name in drive_rates:
            entry["independent_per_target"] = True
        if isinstance(src, PoissonSource) and poisson == "generator":
            entry.update(type="SpikeSourcePoisson", rate=f"src{i}_rate")
            arrays[f"src{i}_rate"] = np.asarray(rate, dtype=float)
        else:
            trains = poisson_spikes(rate, T=T, rng=rng) if isinstance(src, PoissonSource) else src.spike_times
            layers = _layers(*_source_times_ms(trains, dt, timing), n_cells, 1000.0 * dt)
            _, times, counts = layers[0]
            entry.update(type="SpikeSourceArray", times=f"src{i}_times", counts=f"src{i}_counts")
            arrays[f"src{i}_times"], arrays[f"src{i}_counts"] = times, counts
            for k, (neurons, times, counts) in enumerate(layers[1:], start=2):
                # coincident spikes (same step) are kept: the k-th of them comes from a copy of the source
                copy = {"name": f"{src.name}*{k}", "n": int(neurons.size), "type": "SpikeSourceArray",
                        "times": f"src{i}_copy{k}_times", "counts": f"src{i}_copy{k}_counts",
                        "copy_of": src.name, "neurons": f"src{i}_copy{k}_neurons"}
                arrays[copy["times"]], arrays[copy["counts"]], arrays[copy["neurons"]] = times, counts, neurons
                copies.setdefault(src.name, []).append(copy)
        meta["sources"].append(entry)
    for entries in copies.values():
        meta["sources"].extend(entries)
    for i, pop in enumerate(network.populations):
        bar.update(len(network.sources) + i)
        if plans[pop.name] is None:
            meta["cells"].append(_mapped_cell(pop, i, arrays))
            continue
        n, tau_e, tau_i = plans[pop.name]
        if n == "delta":  # IF_curr_delta (NEST iaf_psc_delta): no synaptic time constants
            conv = pynn_units(pop.model.tau_m, pop.model.tau_ref, bias=pop.normalized.bias, v0=pop.normalized.v0,
                              **scale)
            cell, kind, v_name = dict(conv.cell), "IF_curr_delta", "v"
            cond = None
        else:
            conv = pynn_units(pop.model.tau_m, pop.model.tau_ref, bias=pop.normalized.bias, v0=pop.normalized.v0,
                              tau_s=tau_e, n=n, **scale)
            cell = dict(conv.cell, tau_syn_I=1000.0 * tau_i)
            cond = getattr(plans[pop.name], "cond", None)
        if n == "delta":
            pass
        elif cond is not None:  # conductances: reversal potentials in mV on the same scale as v_reset / v_thresh
            if timing == "precise":
                raise ValueError(f"population {pop.name!r} has conductance synapses, which precise timing (NEST's "
                                 "iaf_psc_*_ps models) cannot carry")
            span = cell["v_thresh"] - cell["v_reset"]
            cell.update(e_rev_E=cell["v_reset"] + cond[0] * span, e_rev_I=cell["v_reset"] + cond[1] * span)
            kind, v_name = ("IF_cond_exp" if n == 0 else "IF_cond_alpha"), "v"
        elif timing == "precise":
            cell, kind, v_name = nest_ps_params(cell), f"native:{'iaf_psc_exp_ps' if n == 0 else 'iaf_psc_alpha_ps'}", "V_m"
        else:
            kind, v_name = ("IF_curr_exp" if n == 0 else "IF_curr_alpha"), "v"
        params, array_params = {}, {}
        for key, value in cell.items():
            if np.ndim(value) == 0:
                params[key] = float(value)
            else:
                array_params[key] = f"pop{i}_{key}"
                arrays[f"pop{i}_{key}"] = np.asarray(value, dtype=float)
        arrays[f"pop{i}_v_init"] = np.broadcast_to(np.asarray(conv.v_init, dtype=float), (pop.n,)).copy()
        meta["cells"].append({"name": pop.name, "n": int(pop.n), "type": kind, "params": params,
                              "array_params": array_params, "v_init": f"pop{i}_v_init", "v_name": v_name})
    delays = []
    for i, conn in enumerate(network.connections):
        bar.update(len(network.sources) + len(network.populations) + i, f"connection {i}")
        post = conn.post
        # nA per unit weight for this connection's own tau_s (pynn_units with weight 1)
        cond = getattr(plans[post.name], "cond", None) if not isinstance(conn.synapse, Delta) else None
        if isinstance(conn.synapse, Delta):  # mV per unit weight: the normalized jump times the mV span
            factor = jump_scale(conn) * (scale["v_thresh"] - scale["v_reset"])
            signs = ((1, "excitatory"), (-1, "inhibitory"))
        elif cond is not None:  # conductance: peak conductance in uS = weight / g_L (units) * PyNN's g_L = cm / tau_m
            g_L = 1.0 if post.units is None else post.units.g_L  # per post neuron when given per neuron
            factor = scale["cm"] / (1000.0 * np.asarray(post.model.tau_m)) / g_L
            signs = ((1, "excitatory" if conn.synapse == cond[2] else "inhibitory"),)
        else:
            factor = pynn_units(post.model.tau_m, post.model.tau_ref, weights=1.0, tau_s=conn.synapse.tau_s,
                                n=conn.synapse.n, **scale).weights  # a number, or per post neuron
            signs = ((1, "excitatory"), (-1, "inhibitory"))
        if conn.delays is None:
            delay_ms = 1000.0 * dt * max(round(conn.delay / dt), 1)
        else:  # per synapse, each on the grid as a scalar delay is
            delay_ms = 1000.0 * dt * np.maximum(np.round(conn.delays / dt), 1.0)
        for sign, receptor in signs:
            # a convolution as its list of synapses; a plastic connection keeps its zero weights (they may grow)
            rows = _conn_list(drive_matrices[i] if i in drive_matrices else conn.matrix(), factor, delay_ms, sign,
                              keep_zeros=conn.plasticity is not None)
            if rows.shape[0] == 0:
                continue
            key = f"proj{len(meta['projections'])}_rows"
            arrays[key] = rows
            delays.extend([float(rows[:, 3].min()), float(rows[:, 3].max())])
            meta["projections"].append({"pre": conn.pre.name, "post": post.name, "receptor": receptor,
                                        "rows": key, "label": f"conn{i}-{receptor}"})
            if conn.plasticity is not None:
                if np.ndim(factor):
                    raise ValueError(f"connection {conn.pre.name!r} -> {post.name!r}: STDP into a population with "
                                     "per-neuron tau_m (or LIFUnits g_L, V_th, V_reset) cannot be exported (PyNN's w_min / w_max are one number, "
                                     "the weight scale differs per post neuron)")
                meta["projections"][-1]["stdp"] = _stdp_plan(conn.plasticity, factor)
            for copy in copies.get(conn.pre.name, ()):  # the same weights from each copy's neurons
                neurons = arrays[copy["neurons"]]
                pre = rows[:, 0].astype(np.int64)
                pos = np.searchsorted(neurons, pre)
                mine = (pos < neurons.size) & (neurons[np.minimum(pos, neurons.size - 1)] == pre)
                if not mine.any():
                    continue
                sub = rows[mine].copy()
                sub[:, 0] = pos[mine]
                key = f"proj{len(meta['projections'])}_rows"
                arrays[key] = sub
                meta["projections"].append({"pre": copy["name"], "post": post.name, "receptor": receptor,
                                            "rows": key, "label": f"conn{i}-{receptor}-{copy['name']}"})
    meta["min_delay_ms"] = min(delays) if delays else None
    meta["max_delay_ms"] = max(delays) if delays else None
    bar.close()
    return meta, arrays


def _backend(sim):
    """(module, name) for ``sim``: a PyNN backend module or its name ("nest", "neuron")."""
    if sim is None or sim == "nest":
        return require("pyNN.nest", "pynn", "pyNN nest-simulator"), "nest"
    if sim == "neuron":
        return require("pyNN.neuron", "mpi", "pyNN neuron"), "neuron"
    if isinstance(sim, str):
        raise ValueError(f"sim must be 'nest', 'neuron' or a PyNN backend module, got {sim!r}")
    if not isinstance(sim, types.ModuleType):
        raise TypeError(f"sim must be a PyNN backend module (e.g. pyNN.nest) or its name, got {type(sim).__name__}")
    name = sim.__name__
    return sim, name.split(".", 1)[1] if name.startswith("pyNN.") else name


def to_pynn(network, sim=None, scale=None, setup=True, progress=False, **setup_kwargs):
    """Build ``network`` with PyNN's API.

    Parameters
    ----------
    network : neurosim.Network
    sim : module or {"nest", "neuron"}, optional
        A PyNN backend module (``pyNN.nest``, ``pyNN.neuron``) or its name; default NEST.
        NEURON needs ``pip install '.[mpi]'`` and PyNN's mechanisms compiled
        once (``nrnivmodl`` in ``pyNN/neuron/nmodl``; docs/scale-out.md).
    scale : dict, optional
        Physical scale for :func:`~neurosim.export.units.pynn_units`: ``cm``
        (nF), ``v_reset`` and ``v_thresh`` (mV). Default: PyNN's defaults
        (1 nF, -65 mV, -50 mV). Spike times do not depend on it.
    setup : bool
        Call ``sim.setup(timestep=dt, min_delay=..., max_delay=..., **setup_kwargs)``
        first (False: you already called it, e.g. with ``threads=4``). On NEST
        this also sets ``spike_precision``: "on_grid", or "off_grid" for precise timing.
    progress : bool
        Show progress lines on stderr for the export and the build (projections).
    **setup_kwargs
        More ``sim.setup`` arguments, e.g. ``threads=2`` or ``rng_seed=1`` for NEST.

    Returns
    -------
    PyNNNetwork
        Call ``.record()``, ``.run(T)`` (seconds), ``.spike_times(name)``.

    Raises
    ------
    ValueError
        For features PyNN's standard models cannot express (see the module
        docstring), and for what the chosen backend cannot run (precise timing
        outside NEST, delays below dt).
    """
    _check_supported(network, getattr(network, "timing", "grid"))  # before importing any simulator
    sim, backend = _backend(sim)
    setup = check.check_bool("setup", setup)
    progress = check.check_bool("progress", progress)
    meta, arrays = export_plan(network, scale, backend, progress=progress)
    threads = setup_kwargs.pop("threads", 1)
    if backend in runner.BACKENDS:  # ExportError is a ValueError
        runner.check_backend(meta, backend, sim.num_processes(), threads)
    if setup:
        kwargs = runner.setup_kwargs(meta, backend, threads)
        kwargs.update(setup_kwargs)
        sim.setup(**kwargs)
    pops, projections = runner.build(sim, meta, arrays, progress=progress and sim.rank() == 0)
    return PyNNNetwork(sim, pops, projections, network.dt)


__all__ = ["to_pynn", "PyNNNetwork", "export_plan"]
