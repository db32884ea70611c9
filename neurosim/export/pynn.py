"""Build a neurosim network with PyNN's API, to run it on NEST (threads, MPI) or another backend.

Mapping:

* LIF population -> ``IF_curr_exp`` (its inputs use exponential PSCs, n = 0)
  or ``IF_curr_alpha`` (alpha PSCs, n = 1); parameters, bias (as
  ``i_offset``), initial voltages and weights converted by
  :func:`neurosim.export.units.pynn_units` (ms, mV, nA, nF).
* Poisson source -> ``SpikeSourcePoisson``; spike-time source -> ``SpikeSourceArray``.
* Connection -> ``Projection`` with a ``FromListConnector`` built from the
  nonzero weights (dense or sparse W of shape (post, pre)): positive weights
  on the ``"excitatory"`` receptor, negative ones on ``"inhibitory"``.

PyNN cells have two PSC time constants (``tau_syn_E``, ``tau_syn_I``), so all
positive weights into a population must share one tau_s, and all negative
weights one tau_s (CUBA: 5 ms excitatory, 10 ms inhibitory). Timing: neurosim
delivers a spike at the end of the step it occurs in (plus the delay); NEST
needs delays of at least one step, so delays become ``max(delay, dt)`` and
NEST spike times are on the dt grid (neurosim's are exact within the step).

Not supported (a ValueError says which): non-LIF populations, PSCs of order
n >= 2, populations mixing exponential and alpha PSCs, injected currents
(``add_current_input``).
"""
import numpy as np

from .._optional import require
from .units import DEFAULT_SCALE, pynn_units
from ..network.inputs import CurrentInput, PoissonSource, SpikeSource
from ..neurons.lif import LIF


class PyNNNetwork:
    """A neurosim network built in PyNN, returned by :func:`to_pynn`.

    Attributes
    ----------
    sim : module
        The PyNN backend (e.g. ``pyNN.nest``).
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

    def run(self, T):
        """Advance the PyNN simulation by T seconds."""
        self.sim.run(1000.0 * float(T))

    def spike_times(self, name):
        """Spike times in seconds of each neuron of ``name`` on this MPI rank: a list of arrays.

        With MPI, use ``populations[name].write_data(...)`` or ``get_data(gather=True)`` instead.
        """
        segment = self.populations[name].get_data("spikes", clear=False).segments[-1]
        trains = [np.zeros(0)] * self.populations[name].size
        for st in segment.spiketrains:
            index = st.annotations.get("source_index")
            trains[int(index)] = np.asarray(st.rescale("ms").magnitude) / 1000.0
        return trains

    def _names(self, names):
        if names is None:
            return list(self.populations)
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in self.populations:
                raise ValueError(f"no population or source named {name!r}; have {sorted(self.populations)}")
        return names


def _synapse_plan(pop, conns):
    """Cell type order n and (tau_syn_E, tau_syn_I) in seconds for the connections into ``pop``."""
    orders = {c.synapse.n for c in conns}
    if any(n >= 2 for n in orders):
        raise ValueError(f"population {pop.name!r} receives PSCs of order n >= 2 ({sorted(orders)}); PyNN's "
                         "current-based cells support only exponential (n=0) and alpha (n=1) PSCs")
    if len(orders) > 1:
        raise ValueError(f"population {pop.name!r} mixes exponential and alpha PSCs; a PyNN cell type has one "
                         "PSC shape (IF_curr_exp or IF_curr_alpha)")
    taus = {"excitatory": set(), "inhibitory": set()}
    for c in conns:
        W = c.weights
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


def _conn_list(W, factor_nA, delay_ms, sign):
    """Rows (pre, post, weight nA, delay ms) of the weights with the given sign."""
    if isinstance(W, np.ndarray):
        post, pre = np.nonzero(W > 0 if sign > 0 else W < 0)
        w = W[post, pre]
    else:
        coo = W.tocoo()
        keep = coo.data > 0 if sign > 0 else coo.data < 0
        post, pre, w = coo.row[keep], coo.col[keep], coo.data[keep]
    return np.column_stack([pre.astype(float), post.astype(float), w * factor_nA, np.full(w.size, delay_ms)])


def to_pynn(network, sim=None, scale=None, setup=True, **setup_kwargs):
    """Build ``network`` with PyNN's API.

    Parameters
    ----------
    network : neurosim.Network
    sim : module, optional
        A PyNN backend module; default ``pyNN.nest``.
    scale : dict, optional
        Physical scale for :func:`~neurosim.export.units.pynn_units`: ``cm``
        (nF), ``v_reset`` and ``v_thresh`` (mV). Default: PyNN's defaults
        (1 nF, -65 mV, -50 mV). Spike times do not depend on it.
    setup : bool
        Call ``sim.setup(timestep=dt, min_delay=dt, **setup_kwargs)`` first
        (False: you already called it, e.g. with ``threads=4``).
    **setup_kwargs
        More ``sim.setup`` arguments, e.g. ``threads=2`` or ``rng_seed=1`` for NEST.

    Returns
    -------
    PyNNNetwork
        Call ``.record()``, ``.run(T)`` (seconds), ``.spike_times(name)``.

    Raises
    ------
    ValueError
        For features PyNN's standard models cannot express (see the module docstring).
    """
    from ..network.description import Network

    if not isinstance(network, Network):
        raise TypeError(f"network must be a neurosim.Network, got {type(network).__name__}")
    scale = dict(DEFAULT_SCALE, **(scale or {}))
    unknown = set(scale) - set(DEFAULT_SCALE)
    if unknown:
        raise ValueError(f"scale keys must be among {sorted(DEFAULT_SCALE)}, got {sorted(unknown)}")
    plans = {}
    for pop in network.populations:  # validate everything before touching the simulator
        if not isinstance(pop.model, LIF):
            raise ValueError(f"population {pop.name!r} ({type(pop.model).__name__}) is not supported: to_pynn "
                             "exports LIF populations only")
        if any(isinstance(i, CurrentInput) for i in getattr(pop, "_inputs", ())):
            raise ValueError(f"population {pop.name!r} has an injected current (add_current_input): time-varying "
                             "input arrays and functions are not supported by to_pynn")
        plans[pop.name] = _synapse_plan(pop, [c for c in network.connections if c.post is pop])
    for src in network.sources:
        if not isinstance(src, (PoissonSource, SpikeSource)):
            raise ValueError(f"source {src.name!r} of type {type(src).__name__} is not supported by to_pynn")
    if sim is None:
        sim = require("pyNN.nest", "pynn", "pyNN nest-simulator")
    dt_ms = 1000.0 * network.dt
    if setup:
        sim.setup(timestep=dt_ms, min_delay=dt_ms, **setup_kwargs)
    pops = {}
    for src in network.sources:
        if isinstance(src, PoissonSource):
            cell = sim.SpikeSourcePoisson(rate=np.asarray(src.rate, dtype=float))
        else:
            # on the dt grid where neurosim delivers them (ceil), and > 0: NEST cannot emit at t = 0
            trains = [np.maximum(np.ceil(np.asarray(t) / network.dt - 1e-9), 1.0) * dt_ms for t in src.spike_times]
            cell = sim.SpikeSourceArray(spike_times=[sim.Sequence(np.unique(t)) for t in trains])
        pops[src.name] = sim.Population(src.n, cell, label=src.name)
    factors = {}
    for pop in network.populations:
        n, tau_e, tau_i = plans[pop.name]
        conv = pynn_units(pop.model.tau_m, pop.model.tau_ref, bias=pop.normalized.bias, v0=pop.normalized.v0, tau_s=tau_e, n=n, **scale)
        cell = dict(conv.cell, tau_syn_I=1000.0 * tau_i)
        celltype = sim.IF_curr_exp if n == 0 else sim.IF_curr_alpha
        p = sim.Population(pop.n, celltype(**cell), initial_values={"v": conv.v_init}, label=pop.name)
        pops[pop.name] = p
        factors[pop.name] = n
    projections = []
    for i, conn in enumerate(network.connections):
        post = conn.post
        # nA per unit weight for this connection's own tau_s (pynn_units with weight 1)
        factor = float(pynn_units(post.model.tau_m, post.model.tau_ref, weights=1.0, tau_s=conn.synapse.tau_s,
                                  n=conn.synapse.n, **scale).weights)
        delay_ms = max(1000.0 * round(conn.delay / network.dt) * network.dt, dt_ms)
        for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
            rows = _conn_list(conn.weights, factor, delay_ms, sign)
            if rows.shape[0] == 0:
                continue
            projections.append(sim.Projection(
                pops[conn.pre.name], pops[post.name], sim.FromListConnector(rows, column_names=["weight", "delay"]),
                synapse_type=sim.StaticSynapse(), receptor_type=receptor, label=f"conn{i}-{receptor}"))
    return PyNNNetwork(sim, pops, projections, network.dt)


__all__ = ["to_pynn", "PyNNNetwork"]
