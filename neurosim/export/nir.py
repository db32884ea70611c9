"""neurosim networks to and from NIR, the Neuromorphic Intermediate Representation.

Mapping (all times in seconds, voltages normalized: threshold 1, reset 0):

* LIF population whose incoming connections all use one exponential PSC
  (n = 0, same tau_s) -> ``CubaLIF(tau_syn=tau_s, tau_mem=tau_m, r=1,
  v_leak=bias, v_threshold=1, v_reset=0, w_in=1)``; NIR's CubaLIF input
  ``tau_syn dI/dt = -I + S`` is exactly neurosim's unit-area PSC.
* Any other LIF population -> ``LIF(tau=tau_m, r=1, v_leak=bias, ...)``, each
  incoming connection filtered by a chain of n + 1 ``LI(tau=tau_s, r=1,
  v_leak=0)`` nodes (the PSC cascade of order n).
* Connection -> ``Affine(weight=W (post, pre), bias=0)``, preceded by a
  ``Delay`` node when its delay is > 0.
* Poisson / spike sources -> ``Input`` nodes; rates or spike times are kept in
  the node's metadata so :func:`from_nir` can rebuild them.

Why the bias is ``v_leak`` and not the Affine's bias: ``tau dv/dt = (v_leak - v)
+ r I`` with ``v_leak = bias`` is neurosim's ``tau_m dv/dt = bias + s - v``
exactly, from t = 0 and also for populations with no incoming connection. An
Affine bias of a CubaLIF would pass through the synaptic filter and rise from 0
over a few tau_s. :func:`from_nir` accepts Affine biases from other tools
(added to the population's bias; exact for LIF, equal after the filter's rise
for CubaLIF).

NIR has no refractory period: each neuron node stores ``tau_ref`` (and ``v0``)
in its metadata, the graph stores ``dt``, and :func:`to_nir` warns once per export
when some tau_ref > 0 (other NIR consumers will ignore it).
"""
import warnings

import numpy as np

from .. import validation as check
from .._optional import require
from ..network.inputs import CurrentInput, PoissonSource, SpikeSource
from ..neurons.integrate import IF
from ..neurons.lif import LIF
from .refusals import refuse_uncarried
from ..network.transforms import Convolution
from ..synapses import PSCFilter
from ..synapses.conductance import is_conductance

#: Why neurosim.IF populations are refused (checked against nir 1.0.8 and snnTorch 1.0's importer)
IF_REASON = ("NIR's IF node (dv/dt = R I) resets v to v_reset after a spike, so it has no reset by "
             "subtraction (reset='subtract', the rate-exact ReLU route) and no constant bias term (a "
             "population's bias would need an extra input); reset='zero' without a bias would match it but is not "
             "exported yet. "
             "snnTorch's import_from_nir moreover builds a NIR IF as a leaky snn.Leaky(beta=0.9) with "
             "reset by subtraction, so no NIR IF node would run as this population")

FORMAT = "neurosim-nir-1"


def import_nir():
    """The ``nir`` module, or an ImportError naming the extra to install (for callers outside neurosim too)."""
    return require("nir", "nir")


def _incoming(network, pop):
    return [c for c in network.connections if c.post is pop]


def _cuba_tau(conns):
    """tau_s if all connections share one exponential PSC, else None."""
    syns = {c.synapse for c in conns}
    if len(syns) == 1:
        syn = next(iter(syns))
        if syn.n == 0:
            return syn.tau_s
    return None


def to_nir(network):
    """Convert a :class:`neurosim.Network` to a ``nir.NIRGraph``.

    Parameters
    ----------
    network : neurosim.Network
        LIF populations, Poisson and spike-time sources, connections with any
        PSC order and delays. Not supported: injected currents
        (``add_current_input``), which have no NIR equivalent.

    Returns
    -------
    nir.NIRGraph
        Write it with ``nir.write(path, graph)``. Times are in seconds.

    Warns
    -----
    UserWarning
        Once, when some population has tau_ref > 0 (NIR has no refractory period;
        it is kept in node metadata).
    """
    from ..network.description import Network

    if not isinstance(network, Network):
        raise TypeError(f"network must be a neurosim.Network, got {type(network).__name__}")
    for c in network.connections:
        if is_conductance(c.synapse):
            raise ValueError(f"connection {c.pre.name!r} -> {c.post.name!r} has the conductance synapse {c.synapse!r}; "
                             "NIR has no conductance-based synapse node (its CubaLIF and LI are current-based), and "
                             "exporting it as a current would change the dynamics")
    nir = import_nir()
    names = [p.name for p in network.populations] + [s.name for s in network.sources]
    if len(set(names)) != len(names):
        raise ValueError(f"population and source names must be unique for NIR node names, got {names}")
    nodes, edges = {}, []
    counter = iter(range(len(names)))

    def order():  # creation order, so from_nir rebuilds (and seeds) in the same order
        return next(counter)

    def add(name, node):
        if name in nodes:
            raise ValueError(f"NIR node name {name!r} is used twice; rename the population or source")
        nodes[name] = node

    shapes = _image_shapes(network)

    def shape_of(obj):
        return shapes.get(id(obj), (obj.n,))

    for src in network.sources:
        if isinstance(src, PoissonSource):
            meta = {"order": order(), "neurosim_source": "poisson", "rate": np.asarray(src.rate, dtype=float)}
        elif isinstance(src, SpikeSource):
            meta = {"order": order(), "neurosim_source": "spikes", "spike_times": np.asarray(src.times, dtype=float),
                    "spike_indices": np.asarray(src.indices, dtype=np.int64)}
        else:
            raise ValueError(f"source {src.name!r} of type {type(src).__name__} is not supported by to_nir")
        add(src.name, nir.Input(input_type=np.array(shape_of(src)), metadata=meta))
    refuse_uncarried(network, "NIR")
    for c in network.connections:
        if c.delays is not None:
            raise ValueError(f"connection {c.pre.name!r} -> {c.post.name!r} has per-synapse delays, which NIR cannot "
                             "carry (its Delay node holds one delay per presynaptic neuron, not per synapse); "
                             "give the connection one delay to export it")
        if c.plasticity is not None:
            raise ValueError(f"connection {c.name!r} learns by STDP (plasticity=...), which NIR cannot carry: NIR "
                             "graphs hold fixed weights and have no plasticity primitive. Export the learned "
                             "weights instead: connect a copy with weights=net.current_weights(conn) and no "
                             "plasticity")
        if c.synapse.tau_s is None:  # neurosim.Delta
            raise ValueError(f"connection {c.pre.name!r} -> {c.post.name!r} has a Delta (voltage-jump) synapse, "
                             "which the NIR export does not map yet (NIR would need a LIF node fed without a "
                             "synapse stage, weights scaled by tau_m / r, and a consumer that adds the jump at "
                             "once); use a PSCFilter to export to NIR")
        if getattr(c.pre, "independent_per_target", False):
            raise ValueError(f"source {c.pre.name!r} (independent_per_target=True) cannot be exported to NIR: an "
                             "Input node has one spike train per neuron, shared by all its targets")
    refractory = []
    for pop in network.populations:
        if any(isinstance(i, CurrentInput) for i in pop.inputs):
            raise ValueError(
                f"population {pop.name!r} has an injected current (add_current_input); NIR has no node for a "
                "given input current. Export without it and feed the current to the NIR graph's input instead.")
        if isinstance(pop.model, IF):
            raise ValueError(f"population {pop.name!r}: {pop.model!r} cannot be exported to NIR faithfully: {IF_REASON}")
        if not isinstance(pop.model, LIF):
            raise ValueError(f"population {pop.name!r} is a {type(pop.model).__name__} population: only LIF "
                             f"populations can be exported to NIR (NIR has no node for {type(pop.model).__name__} "
                             "neurons: no adaptation, exponential or quadratic spike upswing); got "
                             f"{pop.model!r}")
        shape = shape_of(pop)  # (n,), or (C, H, W) for a population a convolution reads or writes
        ones, zeros = np.ones(shape), np.zeros(shape)
        meta = {"order": order(), "tau_ref": pop.model.tau_ref, "v0": np.asarray(pop.normalized.v0, dtype=float)}
        if np.any(np.asarray(pop.model.tau_ref) > 0):  # a number, or one per neuron
            refractory.append(pop.name)
        tau = _cuba_tau(_incoming(network, pop))
        bias = np.array(np.broadcast_to(pop.normalized.bias, (pop.n,)), dtype=float).reshape(shape)
        if tau is not None:
            node = nir.CubaLIF(tau_syn=np.full(shape, tau), tau_mem=_shaped(pop.model.tau_m, shape), r=ones,
                               v_leak=bias, v_threshold=ones.copy(), v_reset=zeros, w_in=ones.copy(), metadata=meta)
        else:
            node = nir.LIF(tau=_shaped(pop.model.tau_m, shape), r=ones, v_leak=bias, v_threshold=ones.copy(),
                           v_reset=zeros, metadata=meta)
        add(pop.name, node)
    fed = {id(c.post) for c in network.connections}
    for k, pop in enumerate(network.populations):  # NIR would add an anonymous Input here; say what it is
        # a graph needs one Input node to start type inference: a network of recurrent
        # populations without sources gets an unused one on its first population
        if id(pop) not in fed or (k == 0 and not network.sources):
            add(f"{pop.name}_input", nir.Input(input_type=np.array(shape_of(pop)),
                                               metadata={"neurosim_source": "none"}))
            edges.append((f"{pop.name}_input", pop.name))
    for i, conn in enumerate(network.connections):
        W = conn.weights
        conv = isinstance(W, Convolution)
        sparse = not conv and not isinstance(W, np.ndarray)
        if not conv:
            W = np.asarray(W.toarray() if sparse else W, dtype=float)
        prev = conn.pre.name
        if conn.delay > 0:
            add(f"delay{i}", nir.Delay(delay=np.full(shape_of(conn.pre), conn.delay)))
            edges.append((prev, f"delay{i}"))
            prev = f"delay{i}"
        if not conv and len(shape_of(conn.pre)) > 1:  # an image population into a dense layer: flatten first
            add(f"flatten{i}", nir.Flatten(input_type={"input": np.array(shape_of(conn.pre))}, start_dim=0, end_dim=-1))
            edges.append((prev, f"flatten{i}"))
            prev = f"flatten{i}"
        if not conv and len(shape_of(conn.post)) > 1:
            raise ValueError(f"connection {conn.pre.name!r} -> {conn.post.name!r}: a matrix into a population "
                             f"that a convolution gives the image shape {shape_of(conn.post)} has no NIR form "
                             "(NIR has no reshape node); connect it through a Convolution too")
        meta = {"order": i, "pre": conn.pre.name, "post": conn.post.name, "tau_s": conn.synapse.tau_s, "n": conn.synapse.n,
                "delay": conn.delay, "sparse": int(sparse)}
        if conv:  # the structure, not a dense matrix: NIR's Conv2d (PyTorch's layout and cross-correlation)
            meta["input_shape"] = list(W.input_shape)
            add(f"conn{i}", nir.Conv2d(input_shape=W.input_shape[1:], weight=np.array(W.kernel), stride=W.stride,
                                       padding=W.padding, dilation=1, groups=1, bias=np.zeros(W.kernel.shape[0]),
                                       metadata=meta))
        else:
            add(f"conn{i}", nir.Affine(weight=W, bias=np.zeros(conn.post.n), metadata=meta))
        edges.append((prev, f"conn{i}"))
        prev = f"conn{i}"
        if isinstance(nodes[conn.post.name], nir.LIF):  # explicit PSC cascade
            for k in range(conn.synapse.n + 1):
                stage = f"syn{i}_{k}"
                post_shape = shape_of(conn.post)
                add(stage, nir.LI(tau=np.full(post_shape, conn.synapse.tau_s), r=np.ones(post_shape),
                                  v_leak=np.zeros(post_shape)))
                edges.append((prev, stage))
                prev = stage
        edges.append((prev, conn.post.name))
    sinks = [p for p in network.populations if not any(c.pre is p for c in network.connections)]
    for pop in sinks or network.populations:  # NIR needs an Output; all populations if every one feeds another
        add(f"{pop.name}_output", nir.Output(output_type=np.array(shape_of(pop))))
        edges.append((pop.name, f"{pop.name}_output"))
    if refractory:
        warnings.warn(
            f"NIR has no refractory period: tau_ref of {refractory} is stored in node metadata ('tau_ref', s) "
            "and used by neurosim.export.from_nir, but other NIR consumers will ignore it", UserWarning, stacklevel=2)
    metadata = {"format": FORMAT, "time_unit": "s", "dt": network.dt,
                "note": "LIF voltages normalized (threshold 1, reset 0); bias = v_leak; "
                        "tau_ref (s) and v0 in neuron node metadata; NIR has no refractory period"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _shaped(value, shape):
    """A parameter (a number, or one value per neuron in neuron order) as a float array of the node's shape."""
    return np.array(np.broadcast_to(np.asarray(value, dtype=float), (int(np.prod(shape)),)), dtype=float).reshape(shape)


def _per_neuron_value(arr):
    """A number when all entries are equal, else the flat array (a per-neuron LIF parameter)."""
    arr = np.asarray(arr, dtype=float).ravel()
    return float(arr[0]) if arr.size and np.all(arr == arr[0]) else arr


def _uniform(name, what, arr):
    arr = np.asarray(arr, dtype=float).ravel()
    if arr.size and not np.all(arr == arr[0]):
        raise ValueError(f"NIR node {name!r}: {what} must be the same for every neuron to become a neurosim "
                         f"population or synapse, got values from {arr.min()!r} to {arr.max()!r}")
    return float(arr[0])


def _meta(node, key, default=None):
    value = (node.metadata or {}).get(key, default)
    return value.decode() if isinstance(value, bytes) else value


def _single(graph_succ, name, where):
    nxt = graph_succ[name]
    if len(nxt) != 1:
        raise ValueError(f"NIR node {name!r} must have exactly one {where} to become part of a neurosim "
                         f"connection, found {sorted(nxt)}")
    return nxt[0]


def from_nir(graph, dt=None, rng=None, inputs=None):
    """Build a :class:`neurosim.Network` from a ``nir.NIRGraph`` (e.g. from ``nir.read``).

    Reads graphs written by :func:`to_nir` exactly (weights, biases, time
    constants, delays, refractory periods, initial voltages, sources), and
    general graphs made of ``Input``, ``Affine``/``Linear``, ``Delay``, ``LI``
    chains (as PSC cascades), ``LIF``/``CubaLIF`` and ``Output`` nodes. General
    LIF parameters (r, v_leak, v_threshold, v_reset, w_in) are normalized to
    threshold 1, reset 0: ``bias = (v_leak - v_reset)/(v_threshold - v_reset)``
    and incoming weights are scaled by ``r w_in / (v_threshold - v_reset)``.

    Parameters
    ----------
    graph : nir.NIRGraph
        Times in seconds.
    dt : float, optional
        Step of the new network in seconds; default the graph's ``dt`` metadata.
    rng : int or numpy.random.Generator, optional
        Seed of the network (Poisson sources).
    inputs : dict, optional
        Spike trains for ``Input`` nodes without neurosim metadata: name -> a list
        of arrays of spike times (s), one per input neuron.

    Returns
    -------
    neurosim.Network
        Populations and sources keep the node names (``net.populations``, ``net.sources``).

    Raises
    ------
    ValueError
        For node types or parameters neurosim cannot represent (per-neuron time
        constants, connections into an LIF without any synaptic filter, ...).
    """
    nir = import_nir()
    from ..network.description import Network

    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph, got {type(graph).__name__}")
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    dt = meta.get("dt") if dt is None else check.positive("dt", dt)
    if dt is None:
        raise ValueError("dt is needed: the graph has no 'dt' metadata, pass dt=... (seconds)")
    dt = check.positive("dt (graph metadata)", dt)
    inputs = {} if inputs is None else dict(inputs)
    net = Network(dt=float(dt), rng=rng)
    succ = {name: [] for name in graph.nodes}
    pred = {name: [] for name in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
        pred[b].append(a)
    neuron_types = (nir.LIF, nir.CubaLIF)
    passive = (nir.Affine, nir.Linear, nir.Conv2d, nir.Delay, nir.Flatten, nir.LI, nir.Output)
    for name, node in graph.nodes.items():
        if not isinstance(node, (nir.Input,) + neuron_types + passive):
            raise ValueError(f"NIR node {name!r} of type {type(node).__name__} is not supported by from_nir "
                             "(supported: Input, Affine, Linear, Conv2d, Delay, Flatten, LI, LIF, CubaLIF, Output)")

    def by_order(kind):
        items = [(n, nd) for n, nd in graph.nodes.items() if isinstance(nd, kind)]
        return sorted(items, key=lambda item: _meta(item[1], "order", 1 << 62))  # stable for others

    objs, gains = {}, {}
    for name, node in by_order(nir.Input):
        n = int(np.prod(node.input_type["input"]))
        kind = _meta(node, "neurosim_source")
        if kind == "none" and name not in inputs:  # the unused input port of a bias-driven population
            continue
        if kind == "poisson":
            objs[name] = net.add_poisson(n, rate=np.asarray(node.metadata["rate"], dtype=float), name=name)
        elif kind == "spikes" or name in inputs:
            if name in inputs:
                trains = inputs.pop(name)
            else:
                times = np.asarray(node.metadata["spike_times"], dtype=float).ravel()
                idx = np.asarray(node.metadata["spike_indices"], dtype=np.int64).ravel()
                trains = [times[idx == i] for i in range(n)]
            objs[name] = net.add_spike_source(trains, name=name)
        else:
            raise ValueError(f"NIR input {name!r} has no neurosim source data; pass inputs={{{name!r}: spike_times}}")
    if inputs:
        raise ValueError(f"inputs names {sorted(inputs)} are not Input nodes of the graph")
    for name, node in by_order(neuron_types):
        cuba = isinstance(node, nir.CubaLIF)
        tau_m = _per_neuron_value(node.tau_mem if cuba else node.tau)  # per neuron when they differ
        v_th = np.asarray(node.v_threshold, dtype=float).ravel()
        v_reset = np.zeros_like(v_th) if node.v_reset is None else np.asarray(node.v_reset, dtype=float).ravel()
        span = v_th - v_reset
        if np.any(span <= 0):
            raise ValueError(f"NIR node {name!r}: v_threshold must be above v_reset for every neuron")
        bias = (np.asarray(node.v_leak, dtype=float).ravel() - v_reset) / span
        gains[name] = np.asarray(node.r, dtype=float).ravel() / span
        if cuba:
            gains[name] = gains[name] * np.asarray(node.w_in, dtype=float).ravel()
        tau_ref = _per_neuron_value(_meta(node, "tau_ref", meta.get("tau_ref", 0.0)))
        v0 = _meta(node, "v0")
        objs[name] = net.add_population(LIF(tau_m=tau_m, tau_ref=tau_ref), v_th.size, bias=bias,
                                        v0=None if v0 is None else np.asarray(v0, dtype=float), name=name)
    for name, node in by_order((nir.Affine, nir.Linear, nir.Conv2d)):
        delay, cur = 0.0, _single(pred, name, "input")
        while isinstance(graph.nodes[cur], (nir.Delay, nir.Flatten)):  # populations are flat in neurosim
            if isinstance(graph.nodes[cur], nir.Delay):
                delay += _uniform(cur, "delay", graph.nodes[cur].delay)
            cur = _single(pred, cur, "input")
        if cur not in objs:
            raise ValueError(f"NIR node {name!r} must be fed by a neuron or Input node, got {cur!r}")
        pre = objs[cur]
        taus, scale, cur = [], 1.0, _single(succ, name, "output")
        while isinstance(graph.nodes[cur], nir.LI):
            li = graph.nodes[cur]
            if np.any(np.asarray(li.v_leak) != 0):
                raise ValueError(f"NIR LI node {cur!r} with v_leak != 0 cannot be a neurosim PSC stage")
            taus.append(_uniform(cur, "tau", li.tau))
            scale = scale * np.asarray(li.r, dtype=float).ravel()
            cur = _single(succ, cur, "output")
        post_node = graph.nodes[cur]
        if not isinstance(post_node, neuron_types):
            raise ValueError(f"NIR connection {name!r} must end in an LIF or CubaLIF node, got {cur!r}")
        if isinstance(post_node, nir.CubaLIF):
            taus.append(_uniform(cur, "tau_syn", post_node.tau_syn))
        if not taus:
            raise ValueError(f"NIR connection {name!r} feeds LIF {cur!r} without a synaptic filter; neurosim "
                             "connections need a PSC (use CubaLIF or LI nodes)")
        if any(abs(t - taus[0]) > 1e-12 * taus[0] for t in taus):
            raise ValueError(f"NIR connection {name!r}: PSC stages with different time constants {taus} are not "
                             "a neurosim PSCFilter (all stages share tau_s)")
        gain = gains[cur] * scale
        if isinstance(node, nir.Conv2d):
            W, bias = _convolution(name, node, pre.n, gain)
        else:
            W = np.asarray(node.weight, dtype=float) * gain[:, None]
            bias = np.asarray(node.bias, dtype=float) if isinstance(node, nir.Affine) else None
        if bias is not None and np.any(bias != 0):
            post_pop = objs[cur]
            post_pop.normalized.bias = post_pop.normalized.bias + bias * gain
        if _meta(node, "sparse", 0):
            import scipy.sparse as sp

            W = sp.csr_matrix(W)
        net.connect(pre, objs[cur], W, synapse=PSCFilter(taus[0], n=len(taus) - 1), delay=delay)
    return net


def _image_shapes(network):
    """{id(population or source): (C, H, W)} for what a Convolution reads from or writes to (NIR types are shapes)."""
    shapes = {}
    for c in network.connections:
        if isinstance(c.weights, Convolution):
            for obj, shape in ((c.pre, c.weights.input_shape), (c.post, c.weights.output_shape)):
                if shapes.setdefault(id(obj), shape) != shape:
                    raise ValueError(f"{obj.name!r} is read or written by convolutions with different image "
                                     f"shapes {shapes[id(obj)]} and {shape}; NIR gives a node one shape")
    return shapes


def _convolution(name, node, n_pre, gain):
    """A NIR Conv2d as a neurosim Convolution (scaled by the post gain), and its bias per post neuron."""
    if np.any(np.asarray(node.dilation) != 1) or int(node.groups) != 1:
        raise ValueError(f"NIR Conv2d {name!r}: dilation != 1 or groups != 1 has no neurosim Convolution")
    if isinstance(node.padding, str):
        raise ValueError(f"NIR Conv2d {name!r}: padding={node.padding!r}; give padding in pixels")
    kernel = np.asarray(node.weight, dtype=float)
    shape = _meta(node, "input_shape")
    if shape is None:
        if node.input_shape is None:
            raise ValueError(f"NIR Conv2d {name!r} has no input_shape")
        H, W = (int(v) for v in np.asarray(node.input_shape).ravel())
        shape = (n_pre // (H * W), H, W)
    conv = Convolution(kernel, tuple(int(v) for v in np.asarray(shape).ravel()), node.stride, node.padding)
    per_channel = int(np.prod(conv.output_shape[1:]))
    bias = np.repeat(np.asarray(node.bias, dtype=float).ravel(), per_channel) if node.bias is not None else None
    if np.all(gain == gain.flat[0]):
        return Convolution(kernel * gain.flat[0], conv.input_shape, conv.stride, conv.padding), bias
    import scipy.sparse as sp
    return sp.diags(gain) @ conv.to_sparse(), bias  # per-neuron gains: the convolution as sparse rows


__all__ = ["to_nir", "from_nir"]
