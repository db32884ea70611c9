"""Parameters assigned between runs: applied at the next ``run``, or refused there, saying what to call.

A built network keeps run state in its runtime, derived from the description when the
runtime was built. Brian2 users switch stimuli by assigning between runs
(``pop.bias = ...; net.run(...)``), so every assignable parameter is compared, at the start
of each run, with what the runtime was built from:

* applied in place, continuing the run state: a population's ``bias``, a connection's
  ``weights``, a Poisson source's ``rate``; a :class:`neurosim.NeuronModel`'s parameters
  are read by its ``step`` every step, so they apply by themselves;
* refused with a ``RuntimeError`` that says to call ``net.reset()``: what the runtime's
  structure depends on (``v0``, delays, synapses, placement, LIF/HH model parameters,
  spike-source times).

Description arrays are read-only, so a change in place (``pop.bias[0] = 2``) raises at
once instead of being missed.

A connection with ``plasticity`` keeps its learned weights in the runtime; assigning its
``weights`` restarts every trial's learned weights from the new ones at the next run (its
traces and the spikes in flight continue). Its ``plasticity`` cannot be reassigned.
"""
import numpy as np


def built_from(net):
    """What the runtime is built from: ``{description object: {attribute: identity or value}}``."""
    seen = {}
    for pop in net.populations:
        seen[pop] = {"bias": pop.normalized.bias, "v0": pop.normalized.v0, "model": _model_key(pop.model)}
    for c in net.connections:
        seen[c] = {"weights": c.weights, "delay": c.delay, "synapse": (c.synapse, c.synapse.tau_s, c.synapse.n),
                   "placement": c.placement}
    for src in net.sources:
        seen[src] = {"rate": getattr(src, "rate", None), "times": getattr(src, "spike_times", None)}
    return seen


def apply_changes(net, runtime):
    """Apply what can change between runs to ``runtime``; raise RuntimeError for the rest.

    Called by ``Network.run`` before the first new step; nothing is applied when anything is refused.
    """
    before, now = runtime.built_from, built_from(net)
    todo = []
    for obj, old in before.items():
        new = now[obj]
        for attr in old:
            same = (new[attr] is old[attr]) if attr in ("bias", "v0", "weights", "rate", "times") \
                else _equal(new[attr], old[attr])
            if same:
                continue
            if attr in ("bias", "weights", "rate"):
                todo.append((obj, attr))
            else:
                name = getattr(obj, "name", None) or repr(obj)
                what = "model parameters" if attr == "model" else attr
                raise RuntimeError(f"{what} of {name} changed after the network ran; the runtime is built from "
                                   f"it, so it cannot take effect mid-run: call net.reset() (back to t = 0) "
                                   "and run again")
    for obj, attr in todo:
        if attr == "bias":
            runtime.set_bias(obj, _bias_for(obj, runtime))
        elif attr == "weights":
            runtime.set_weights(obj)
        else:
            runtime.set_rate(obj)
    for pop in net.populations:
        check = getattr(pop.model, "check_population", None)
        if check is not None:
            check(pop.n)  # per-neuron parameters reassigned with a wrong length
    runtime.built_from = now


def _bias_for(pop, runtime):
    """The new bias as (B * n,) after checking its shape against the runtime's trials."""
    bias = np.asarray(pop.normalized.bias, dtype=float)
    n, B = pop.n, runtime.B
    if bias.shape in ((), (1,), (n,)) or (runtime.batched and bias.shape == (B, n)):
        return np.array(np.broadcast_to(bias, (B, n)), dtype=float).reshape(-1)
    shapes = f"a scalar or shape ({n},)" + (f" or ({B}, {n})" if runtime.batched else "")
    raise ValueError(f"bias of {pop.name!r} must be {shapes}, got shape {bias.shape}")


def _model_key(model):
    """A comparable snapshot of a built-in model's parameters (user models read theirs live)."""
    from ..neurons.base import NeuronModel
    if isinstance(model, NeuronModel):
        return None
    return {k: (v.tobytes(), v.shape) if isinstance(v, np.ndarray) else v for k, v in vars(model).items()}


def _equal(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))
    return a == b


def read_only(array):
    """``array`` marked read-only (a description is changed by assignment, never in place)."""
    if isinstance(array, np.ndarray):
        array.setflags(write=False)
    elif hasattr(array, "data") and isinstance(getattr(array, "data"), np.ndarray):  # scipy.sparse
        for part in ("data", "indices", "indptr"):
            a = getattr(array, part, None)
            if isinstance(a, np.ndarray):
                a.setflags(write=False)
    return array
