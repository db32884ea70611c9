"""A converted spiking model as a NIR graph, and two ways to run one.

:meth:`ratenet.SpikingModel.to_nir` lays the model out with
:meth:`~ratenet.SpikingModel.to_network` and exports it with neurosim's own
:func:`neurosim.export.to_nir` (one mapping, documented there), then adds the
model's input and read-out:

===================  ===========================================================
model                NIR node (normalized LIF: threshold 1, reset 0, times in s)
===================  ===========================================================
input x (n_in,)      ``Input "input"``: a constant current, held for the whole
                     presentation (the rate model's input, not spikes)
Dense 1 (W1, b1)     ``Affine "fc0"(weight=W1, bias=0)`` → ``LIF "layer0"``
                     (tau=tau_m, r=1, v_leak=b1 + 1, v_threshold=1, v_reset=0):
                     ``tau_m dv/dt = (b1 + 1 − v) + W1 x`` is J = z + 1
Dense l (W_l, b_l)   ``Affine "conn{l-1}"(weight=W_l · amplitude_(l−1), bias=0)``
                     → ``CubaLIF "layer{l-1}"`` (tau_syn=tau_s, tau_mem=tau_m,
                     r=1, w_in=1, v_leak=b_l + 1): NIR's ``tau_syn dI/dt = −I + S``
                     is neurosim's unit-area exponential PSC (for a PSC of order
                     n > 0, neurosim exports LIF + a chain of n + 1 LI nodes)
read-out Dense       ``Affine "readout"(weight=W · amplitude, bias=0)`` → n + 1
(W, b)               ``LI(tau=tau_s, r=1)`` stages (the last with v_leak=b) →
                     ``Output "output"``: its time average over the window is the
                     spiking read-out of :meth:`SpikingModel.predict`
output activation    not exported (argmax-invariant for Softmax/LogSoftmax);
                     named in the graph metadata
===================  ===========================================================

Limits of NIR (what a consumer must do)
--------------------------------------
* **No refractory period.** ``tau_ref`` is kept in each neuron node's
  metadata (neurosim reads it back); other consumers ignore it and their
  neurons fire faster at strong input (G(J) without tau_ref). The accuracy cost
  is measured by ``benchmarks/bridge_digits.py --nir`` and listed in docs/bridge.md.
  Train with ``tau_ref=0`` for consumers without one.
* **No time step.** The graph is continuous-time; ``metadata["dt"]`` is the step
  neurosim used. Consumers pick their own step and integration rule.
* **No output activation, no averaging window**: ``metadata`` names both.

Running a graph
---------------
:func:`run_neurosim` builds one :func:`neurosim.export.from_nir` network per
input row (the constant input is folded into layer 0's ``v_leak``, exact in NIR
semantics). :func:`run_snntorch` imports the graph with snnTorch's
``import_from_nir`` after :func:`snntorch_graph` has rewritten it to that
importer's conventions (see there).
"""
import contextlib
import io
import warnings

import numpy as np

from neurosim.validation import check_bool, n_steps, positive, real_array
from neurosim.export import nir as _nsnir

from neurosim.progress import Progress

__all__ = ["model_to_nir", "run_neurosim", "snntorch_graph", "run_snntorch", "check_graph"]

_INPUT, _FC0, _READOUT, _OUTPUT = "input", "fc0", "readout", "output"


def _image(layer):
    return layer.map.is_conv


def _flattened(nodes, a, b, flatten):
    """Edges a → b, through a ``Flatten`` node "{a}_flatten" when a gives images and b takes flat vectors."""
    if not flatten:
        return [(a, b)]
    nir = _nsnir.import_nir()
    shape = np.shape(nodes[a].weight)[:1] + _conv_out(nodes[a]) if a == _FC0 else np.shape(nodes[a].v_leak)
    nodes[f"{a}_flatten"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
    return [(a, f"{a}_flatten"), (f"{a}_flatten", b)]


def _conv_out(node):
    """(H_out, W_out) of a NIR Conv2d node written here."""
    from neurosim import Convolution
    c = Convolution(node.weight, tuple(node.metadata["input_shape"]), node.stride, node.padding)
    return c.output_shape[1:]


def _predecessor(graph, name):
    """The node feeding ``name``, skipping Flatten nodes (populations are flat in neurosim)."""
    prev = next(a for a, b in graph.edges if b == name)
    return _predecessor(graph, prev) if prev.endswith("_flatten") else prev


def _fc0_current(fc0, x):
    """The constant current fc0(x) (flat): an Affine's W x + b, or a Conv2d through its sparse table."""
    nir = _nsnir.import_nir()
    if isinstance(fc0, nir.Conv2d):
        from neurosim import Convolution
        c = Convolution(fc0.weight, tuple(fc0.metadata["input_shape"]), fc0.stride, fc0.padding)
        per_channel = np.asarray(fc0.bias, dtype=float)
        return c.to_sparse() @ np.ravel(x) + np.repeat(per_channel, c.shape[0] // per_channel.size)
    return np.asarray(fc0.weight, dtype=float) @ x + np.asarray(fc0.bias, dtype=float)


def model_to_nir(snn):
    """See :meth:`ratenet.SpikingModel.to_nir`."""
    nir = _nsnir.import_nir()
    first, last = snn.layers[0], snn.layers[-1]
    kinds = {type(layer.neuron).__name__ for layer in snn.layers} - {"LIF"}
    if kinds:
        raise ValueError(f"to_nir: {sorted(kinds)} populations (the ReLU route) are not exported: "
                         f"{_nsnir.IF_REASON}")
    # layer 0 bias: W1·0 + b1 + 1; "boundary": NIR delivers spikes on its own grid (exact placement has no NIR form)
    net = snn.to_network(np.zeros(snn.n_in), placement="boundary").network
    graph = _nsnir.to_nir(net)                                # warns once about tau_ref > 0
    nodes, edges = dict(graph.nodes), list(graph.edges)
    L = len(snn.layers)
    # input: a constant current through Affine fc0 instead of neurosim's unused input port
    _drop(nodes, edges, "layer0_input")
    in_shape = list(snn.input_shape) if isinstance(snn.input_shape, tuple) else [snn.n_in]
    nodes[_INPUT] = nir.Input(input_type=np.array(in_shape),
                              metadata={"ratenet_input": "constant current (the rate model's x)"})
    if first.map.is_conv:          # the structure, as neurosim exports a Convolution connection
        c = first.W
        nodes[_FC0] = nir.Conv2d(input_shape=c.input_shape[1:], weight=np.array(c.kernel), stride=c.stride,
                                 padding=c.padding, dilation=1, groups=1, bias=np.zeros(c.kernel.shape[0]),
                                 metadata={"input_shape": list(c.input_shape)})
    else:
        nodes[_FC0] = nir.Affine(weight=np.array(first.W, dtype=float), bias=np.zeros(first.n_out))
    edges.append((_INPUT, _FC0))
    edges += _flattened(nodes, _FC0, "layer0", _image(first) and np.ndim(nodes["layer0"].v_leak) == 1)
    # read-out: Affine -> PSC stages (LI) -> Output, in place of neurosim's Output of the last layer
    _drop(nodes, edges, f"layer{L - 1}_output")
    if snn.readout is not None:
        W, b = snn.readout
    else:
        W, b = np.eye(last.n_out), np.zeros(last.n_out)
    n_out, syn = W.shape[0], snn.synapse
    nodes[_READOUT] = nir.Affine(weight=np.asarray(W, dtype=float) * last.amplitude, bias=np.zeros(n_out))
    prev = _READOUT
    edges += _flattened(nodes, f"layer{L - 1}", _READOUT, np.ndim(nodes[f"layer{L - 1}"].v_leak) > 1)
    for k in range(syn.n + 1):
        name = f"readout_psc{k}"
        leak = np.asarray(b, dtype=float) if k == syn.n else np.zeros(n_out)
        nodes[name] = nir.LI(tau=np.full(n_out, syn.tau_s), r=np.ones(n_out), v_leak=leak.copy())
        edges.append((prev, name))
        prev = name
    nodes[_OUTPUT] = nir.Output(output_type=np.array([n_out]))
    edges.append((prev, _OUTPUT))
    act = snn.output_activation
    meta = dict(graph.metadata)
    meta.update({
        "ratenet_format": "ratenet-spiking-nir-1",
        "output_activation": "none" if act is None else type(act).__name__,
        # the synaptic transient excluded from the average (SpikingModel.transient, uncapped)
        "transient": round(snn.transient(), 12),
        "readout_note": "the spiking read-out is the time average of 'output' over the presentation "
                        "minus 'transient' seconds (capped at half of it); apply output_activation to it",
    })
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _drop(nodes, edges, name):
    del nodes[name]
    edges[:] = [e for e in edges if name not in e]


def check_graph(graph):
    """Run NIR's own checks on a graph: structure, and type inference (shapes along every edge).

    Raises whatever ``nir`` raises for an invalid graph; returns the graph.
    """
    graph.validate_structure()
    graph.infer_types()
    if not graph.check_types():
        raise ValueError("NIR graph: inconsistent input/output types along its edges")
    return graph


def _window(graph, T, t_average):
    """The averaging window (s): given (0 < t_average <= T), or T minus the graph's transient (at most T/2)."""
    T = positive("T", T)
    if t_average is None:
        return T - min(0.5 * T, float(graph.metadata.get("transient", 0.0)))
    t_average = positive("t_average", t_average)
    if t_average > T * (1 + 1e-9):
        raise ValueError(f"t_average must be <= T={T!r} s, got {t_average!r}")
    return t_average


def _readout_params(graph):
    """(W, b) of the read-out on the last layer's spikes: readout = W · rate (Hz) + b."""
    aff = graph.nodes[_READOUT]
    stages = sorted(k for k in graph.nodes if k.startswith("readout_psc"))
    b = np.asarray(graph.nodes[stages[-1]].v_leak, dtype=float)
    return np.asarray(aff.weight, dtype=float), b


def _bind_input(graph, x):
    """The graph for one constant input x: W x + bias folded into layer 0's v_leak, no read-out nodes.

    For an LIF driven by a constant current I, ``tau dv/dt = (v_leak − v) + r I``
    equals the same LIF with ``v_leak + r I`` and no input: exact.
    """
    import copy

    nir = _nsnir.import_nir()
    nodes = dict(graph.nodes)
    edges = [e for e in graph.edges]
    fc0 = nodes[_FC0]
    layer0 = copy.copy(nodes["layer0"])
    leak = np.asarray(layer0.v_leak, dtype=float)
    layer0.v_leak = leak + np.asarray(layer0.r, dtype=float) * _fc0_current(fc0, x).reshape(leak.shape)
    nodes["layer0"] = layer0
    for name in [_INPUT, _FC0, _READOUT, _OUTPUT, f"{_FC0}_flatten"] + \
            [k for k in nodes if k.startswith("readout_psc") or k.startswith("layer") and k.endswith("_flatten")]:
        if name in nodes:
            _drop(nodes, edges, name)
    nodes["layer0_input"] = nir.Input(input_type=np.array(leak.shape), metadata={"neurosim_source": "none"})
    edges.append(("layer0_input", "layer0"))
    last = _last_layer(graph)
    nodes[f"{last}_output"] = nir.Output(output_type=np.array(np.shape(graph.nodes[last].v_threshold)))
    edges.append((last, f"{last}_output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata))


def _last_layer(graph):
    return _predecessor(graph, _READOUT)


def run_neurosim(graph, X, T, t_average=None, refractory=True, progress=False):
    """Run a graph from :meth:`SpikingModel.to_nir` in neurosim, via :func:`neurosim.export.from_nir`.

    Parameters
    ----------
    graph : nir.NIRGraph
        E.g. ``nir.read(path)`` of an exported model.
    X : array_like (n_samples, n_in)
        Inputs, one network per row (constant current into ``"input"``).
    T : float
        Presentation time in seconds (a multiple of the graph's ``dt``).
    t_average : float, optional
        Averaging window at the end, seconds; default T minus the graph's
        ``transient`` (at most T/2).
    refractory : bool
        False drops the ``tau_ref`` metadata, i.e. runs the graph as a consumer
        without a refractory period would (to measure that cost).
    progress : bool
        Show a progress line on stderr (samples done).

    Returns
    -------
    ndarray (n_samples, n_out)
        The read-out (before the output activation) averaged over the window.
    """
    X = real_array("X", X, ndim=(1, 2, 4))
    X = np.atleast_2d(X.reshape(X.shape[0], -1) if X.ndim == 4 else X)
    refractory = check_bool("refractory", refractory)
    progress = check_bool("progress", progress)
    W, b = _readout_params(graph)
    t_avg = _window(graph, T, t_average)
    last = _last_layer(graph)
    out = np.empty((X.shape[0], W.shape[0]))
    with Progress(X.shape[0], "run_neurosim", enabled=progress, unit=" samples") as bar:
        for i, x in enumerate(X):
            out[i] = _run_one(graph, x, T, t_avg, refractory, last, W, b)
            bar.update(bar.done + 1)
    return out


def _run_one(graph, x, T, t_avg, refractory, last, W, b):
    """The read-out of one input row through :func:`neurosim.export.from_nir`."""
    from neurosim.export import from_nir

    g = _bind_input(graph, x)
    if not refractory:
        g = _without_refractory(g)
    net = from_nir(g)
    pop = next(p for p in net.populations if p.name == last)
    probe = net.probe(pop, "spikes")
    net.run(T)
    times, idx = probe.data
    eps = 1e-9 * net.dt
    keep = times > T - t_avg + eps
    rate = np.bincount(idx[keep], minlength=pop.n) / t_avg
    return W @ rate + b


def _without_refractory(graph):
    import copy

    nir = _nsnir.import_nir()
    nodes = {}
    for k, node in graph.nodes.items():
        if isinstance(node, (nir.LIF, nir.CubaLIF)):
            node = copy.copy(node)
            node.metadata = {m: v for m, v in (node.metadata or {}).items() if m != "tau_ref"}
        nodes[k] = node
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata))


def snntorch_graph(graph, dt=1e-4):
    """Rewrite an exported graph to the conventions of snnTorch's ``import_from_nir`` (snnTorch 1.0).

    That importer (``snntorch/import_nir.py``) integrates with Euler at a fixed
    dt = 1e-4 s; rejects ``v_leak != 0``; requires ``r = tau_mem/dt`` on
    CubaLIF; scales thresholds by ``1/(r dt/tau)`` (LIF) or
    ``1/(w_in dt/tau_syn)`` (CubaLIF); and feeds a spike into the next Affine as
    a one-step pulse of height 1 (area dt, where NIR's Dirac spike has area 1).
    For these to give this graph's dynamics, each node is rewritten:

    * LIF layer 0: ``v_leak`` moves into fc0's bias (exact for a current input);
    * CubaLIF layers: ``r = tau_m/dt``, ``v_leak = 0``; incoming weights become
      ``W/tau_m`` and the bias ``(b + 1)·dt/tau_m`` (exact in the Euler
      recursion snnTorch runs; the bias now rises through the synapse over a
      few tau_s at the start, which the averaging window excludes);
    * read-out: ``Affine(W·amplitude/dt, b)`` straight to the Output, whose
      time average is the read-out (no LI nodes: the importer has none).

    The result is for snnTorch only: read with NIR semantics it is a different
    network. Refractory periods are dropped (snnTorch has none).

    Parameters
    ----------
    graph : nir.NIRGraph
        From :meth:`SpikingModel.to_nir` (or ``nir.read`` of one).
    dt : float
        snnTorch's step (its importer hard-codes 1e-4 s).

    Returns
    -------
    nir.NIRGraph
    """
    nir = _nsnir.import_nir()
    nodes, edges = {}, [e for e in graph.edges if not (e[0].startswith("readout_psc") or e[1].startswith("readout_psc"))]
    pred = {b: a for a, b in graph.edges}
    for name, node in graph.nodes.items():
        if name.startswith("readout_psc") or name == _READOUT:
            continue
        if isinstance(node, nir.LIF):
            # r I + v_leak with r = 1 and v_leak = 0: weight r W, bias r b + v_leak (exact)
            lin, r = _linear_before(graph, pred, name)
            nodes[lin] = _rescaled(graph.nodes[lin], r, np.asarray(node.v_leak, dtype=float), name)
            nodes[name] = nir.LIF(tau=node.tau, r=np.ones_like(node.r), v_leak=np.zeros_like(node.v_leak),
                                  v_threshold=node.v_threshold, v_reset=node.v_reset)
        elif isinstance(node, nir.CubaLIF):
            lin = _linear_before(graph, pred, name)[0]
            tau_m = np.asarray(node.tau_mem, dtype=float)
            # J = v_leak + r w_in (filtered W S + b): spikes scaled by 1/tau_m, constant terms by dt/tau_m
            gain = np.asarray(node.r, dtype=float) * np.asarray(node.w_in, dtype=float) / tau_m
            nodes[lin] = _rescaled(graph.nodes[lin], gain, np.asarray(node.v_leak, dtype=float) * dt / tau_m, name,
                                   bias_gain=gain * dt)
            nodes[name] = nir.CubaLIF(tau_syn=node.tau_syn, tau_mem=node.tau_mem, r=tau_m / dt,
                                      v_leak=np.zeros_like(tau_m), v_threshold=node.v_threshold,
                                      v_reset=node.v_reset, w_in=np.ones_like(tau_m))
        elif isinstance(node, nir.Flatten):
            # the importer passes start_dim to torch.nn.Flatten, whose axis 0 is the batch: keep it
            nodes[name] = nir.Flatten(input_type=node.input_type, start_dim=node.start_dim + 1,
                                      end_dim=node.end_dim if node.end_dim < 0 else node.end_dim + 1)
        elif name not in nodes:
            nodes[name] = node
    W, b = _readout_params(graph)
    nodes[_READOUT] = nir.Affine(weight=W / dt, bias=b)
    edges = [e for e in edges if e[0] != _READOUT] + [(_READOUT, _OUTPUT)]
    # type_check off: a shifted Flatten's types count the batch axis, which NIR's inference does not
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt, "for": "snntorch.import_from_nir"},
                        type_check=not any(isinstance(n, nir.Flatten) for n in nodes.values()))


def _linear_before(graph, pred, name):
    """(name of the Affine/Conv2d feeding population ``name``, through Flatten nodes; the population's r)."""
    lin = pred[name]
    while lin.endswith("_flatten"):
        lin = pred[lin]
    return lin, np.asarray(graph.nodes[name].r, dtype=float)


def _rescaled(node, gain, add, target, bias_gain=None):
    """An Affine or Conv2d whose output is ``gain * (W x + b) + add`` (per output neuron), or with the bias scaled
    by ``bias_gain`` instead of ``gain``. For a Conv2d, gain and add must be constant over each channel's
    pixels (true of a converted layer: one bias and tau per channel), since its weight and bias are per channel."""
    nir = _nsnir.import_nir()
    gain, add = np.asarray(gain, dtype=float), np.asarray(add, dtype=float)
    bias_gain = gain if bias_gain is None else np.asarray(bias_gain, dtype=float)
    if isinstance(node, nir.Affine):
        gain, add, bias_gain = gain.ravel(), add.ravel(), bias_gain.ravel()
        return nir.Affine(weight=np.asarray(node.weight, dtype=float) * gain[:, None],
                          bias=np.asarray(node.bias, dtype=float) * bias_gain + add)
    if isinstance(node, nir.Conv2d):
        C = np.shape(node.weight)[0]
        per = []
        for a in (gain, add, bias_gain):
            a = a.reshape(C, -1)
            if not np.allclose(a, a[:, :1], rtol=1e-12, atol=0):
                raise ValueError(f"snntorch_graph: population {target!r} varies within a channel, which a Conv2d "
                                 "node (one weight and bias per channel) cannot carry")
            per.append(a[:, 0])
        g, a, bg = per
        return nir.Conv2d(input_shape=node.input_shape, weight=np.asarray(node.weight, dtype=float) * g[:, None, None, None],
                          stride=node.stride, padding=node.padding, dilation=node.dilation, groups=node.groups,
                          bias=np.asarray(node.bias, dtype=float) * bg + a, metadata=dict(node.metadata or {}))
    raise ValueError(f"snntorch_graph: population {target!r} is fed by a {type(node).__name__} node; "
                     "expected Affine or Conv2d")


def run_snntorch(graph, X, T, t_average=None, dt=1e-4, batch_size=512, progress=False):
    """Run an exported graph in snnTorch (``snntorch.import_nir.import_from_nir``).

    Parameters
    ----------
    graph : nir.NIRGraph
        From :meth:`SpikingModel.to_nir`; rewritten by :func:`snntorch_graph`.
    X : array_like (n_samples, n_in)
        Constant input currents, fed at every snnTorch step (a batch).
    T, t_average : float
        Presentation and averaging window in seconds (as :func:`run_neurosim`).
    dt : float
        snnTorch's step (its importer's fixed 1e-4 s).
    batch_size : int
        Rows per snnTorch run.
    progress : bool
        Show a progress line on stderr (snnTorch steps of all batches).

    Returns
    -------
    ndarray (n_samples, n_out)
        The read-out averaged over the window.
    """
    progress = check_bool("progress", progress)
    import torch
    from snntorch.import_nir import import_from_nir

    g = snntorch_graph(graph, dt)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")            # the importer prints its threshold scaling
        net = import_from_nir(g)
    X = real_array("X", X, dtype=np.float32, ndim=(1, 2, 4))
    shape = tuple(int(d) for d in np.ravel(list(graph.nodes[_INPUT].input_type.values())[0]))
    X = X.reshape((-1,) + shape) if X.size % max(1, int(np.prod(shape))) == 0 and X.ndim != 1 or len(shape) > 1 \
        else np.atleast_2d(X)
    dt = positive("dt", dt)
    steps, n_avg = n_steps(T, dt), int(round(_window(graph, T, t_average) / dt))
    outs = []
    starts = range(0, X.shape[0], batch_size)
    with torch.no_grad(), Progress(steps * len(starts), "run_snntorch", enabled=progress, unit=" steps") as bar:
        for s in starts:
            x = torch.from_numpy(X[s:s + batch_size])
            acc, state = None, None
            for k in range(steps):
                y, state = net(x) if state is None else net(x, state)
                y = y[0] if isinstance(y, tuple) else y
                if k >= steps - n_avg:
                    acc = y.double() if acc is None else acc + y.double()
                bar.update(bar.done + 1)
            outs.append((acc / n_avg).numpy())
    return np.concatenate(outs)
