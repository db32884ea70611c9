"""A converted model laid out as a real :class:`neurosim.Network`, for one input.

:meth:`ratenet.SpikingModel.to_network` calls :func:`build_network`. The layout
follows :mod:`ratenet.spiking` (normalized LIF, J = z + 1, see
:mod:`ratenet.spiking.activations`):

* layer 1: a population with bias ``W1 x + b1 + 1`` (constant input x), or bias
  ``b1 + 1`` plus an injected current ``W1 x(t)`` (time-varying input);
* layer l > 1: a population with bias ``b_l + 1`` and a connection from layer
  l - 1 with weights ``W_l * amplitude_(l-1)`` through the model's unit-area
  PSC filter (one spike delivers ``amplitude`` of charge, so the filtered train
  averages to amplitude · rate, the rate unit's output);
* read-out: no neurons. A ``"filtered"`` probe records the last population's
  spikes through the same filter (in Hz); :meth:`SpikingNetwork.readout`
  applies ``W_last (amplitude · filtered) + b_last`` to it.

Connections place each spike into the synapse at its exact time inside the
step (``placement="exact"``; ``"boundary"`` gives neurosim's default of the
next step boundary, as a network read back by ``neurosim.export.from_nir``).
:meth:`SpikingModel.predict` runs this same layout with the samples as a batch.
"""
from dataclasses import dataclass, field

import numpy as np

from neurosim import Network, PSCFilter
from neurosim.validation import check_choice, check_number


def _check_synapse(synapse):
    if not isinstance(synapse, PSCFilter):
        raise TypeError(f"synapse: expected a neurosim.PSCFilter, got {synapse!r}")
    return synapse

__all__ = ["SpikingNetwork", "build_network"]


@dataclass
class SpikingNetwork:
    """A :class:`neurosim.Network` built from a :class:`~ratenet.spiking.SpikingModel`, with handles.

    Attributes
    ----------
    network : neurosim.Network
        Run it with ``network.run(T)`` (chunks allowed); add probes or
        connections before the first run as with any network.
    populations : list of neurosim.Population
        One per hidden layer, named ``f"{name_prefix}{i}"``.
    probes : list of neurosim.Probe
        A ``"spikes"`` probe per population.
    filtered : neurosim.Probe
        ``"filtered"`` probe of the last population through the model's synapse,
        sampled every step (Hz; ``filtered.t`` holds the step ends).
    model : SpikingModel
        The converted model (weights, amplitudes, output activation).
    input : neurosim.CurrentInput or None
        The injected current ``W1 x(t)`` for a time-varying input, else None.
    mean : neurosim.Probe
        ``"filtered_mean"`` probe of the last population: the mean of its
        filtered spike train over every step, spikes at their exact times (Hz);
        :meth:`output` averages it, as :meth:`SpikingModel.predict` does.
    """

    network: Network
    populations: list
    probes: list
    filtered: object
    model: object
    input: object = field(default=None)
    mean: object = field(default=None)

    def rates(self, t_start=0.0, t_end=None):
        """Firing rate (Hz) of every neuron from the spike probes over [t_start, t_end).

        Returns
        -------
        list of ndarray (n_l,)
        """
        t_start = check_number("t_start", t_start, low=0.0)
        t_end = self.network.t if t_end is None else check_number("t_end", t_end, low=0.0)
        if not 0.0 <= t_start < t_end <= self.network.t + 1e-12:
            raise ValueError(f"window: expected 0 <= t_start < t_end <= {self.network.t} s (time run so far), "
                             f"got [{t_start!r}, {t_end!r})")
        eps = 1e-9 * self.network.dt                   # a spike exactly at a step boundary belongs to the later step
        out = []
        for probe in self.probes:
            times, idx = probe.data
            keep = (times > t_start + eps) & (times <= t_end + eps)
            out.append(np.bincount(idx[keep], minlength=probe.target.n) / (t_end - t_start))
        return out

    def readout(self, filtered=None):
        """The last Dense layer applied to filtered activity: ``(amplitude · filtered) W_lastᵀ + b_last``.

        Parameters
        ----------
        filtered : array_like (samples, n_last) or (n_last,), optional
            PSC-filtered spike trains of the last population in Hz; default
            ``self.filtered.data`` (every step so far).

        Returns
        -------
        ndarray (samples, n_out) or (n_out,)
            The read-out (the rate model's last z); when the model has no
            read-out Dense layer, the activity amplitude · filtered itself.
            :meth:`output` gives the time average and the output activation.
        """
        S = self.filtered.data if filtered is None else np.asarray(filtered, dtype=float)
        n_last = self.populations[-1].n
        if S.ndim not in (1, 2) or S.shape[-1] != n_last:
            raise ValueError(f"filtered: expected shape (samples, {n_last}) or ({n_last},), got {S.shape}")
        return self.model._readout(S)

    def output(self, t_average=None):
        """Time-averaged read-out over the last ``t_average`` seconds, through the output activation.

        The mean of the ``mean`` probe (the step means of the filtered spike
        train, spikes at their exact in-step times) over the window, times
        amplitude, through the read-out: what :meth:`SpikingModel.predict`
        computes for a batch, so ``predict(x[None])`` equals this to rounding.

        Parameters
        ----------
        t_average : float, optional
            Window at the end of the time run so far (a multiple of dt); default
            :meth:`SpikingModel.default_t_average` of the run time.

        Returns
        -------
        output, readout : ndarray (n_out,), ndarray (n_out,)
            As :class:`SpikingResult` ``output`` and ``readout`` for this input.
        """
        T = self.network.t
        if T <= 0:
            raise ValueError("output: run the network first (network.run(T))")
        t_average = (self.model.default_t_average(T) if t_average is None
                     else check_number("t_average", t_average, low=0.0, low_open=True))
        if not self.network.dt * (1 - 1e-9) <= t_average <= T * (1 + 1e-12):
            raise ValueError(f"t_average: expected a duration in [dt, {T}] s, got {t_average!r}")
        dt = self.network.dt
        steps = np.rint(self.mean.t / dt).astype(np.int64)
        window = self.mean.data[steps > int(round((T - t_average) / dt))]
        readout = self.model._readout(window.mean(axis=0)[None] * self.model.layers[-1].amplitude, scaled=True)
        return self.model._apply_output(readout)[0], readout[0]


def build_network(model, x, name_prefix="layer", synapse=None, v0=None, rng=None, placement="exact",
                  batch=None, bias0=None, probes=True):
    """See :meth:`ratenet.spiking.SpikingModel.to_network`.

    The one layout of a model as a network. :meth:`SpikingModel.predict` calls it
    with ``batch=B`` and ``bias0`` (B, n0) = the layer-1 currents of B samples
    (x None) and adds its own probes (``probes=False``).
    """
    if not isinstance(name_prefix, str):
        raise TypeError(f"name_prefix: expected a string, got {name_prefix!r}")
    check_choice("placement", placement, ("exact", "boundary"))
    syn = model.synapse if synapse is None else _check_synapse(synapse)
    first = model.layers[0]
    bias, current = (bias0, None) if bias0 is not None else _first_layer_input(first, x, model.n_in)
    net = Network(dt=model.dt, rng=rng, batch=batch)
    pops = [net.add_population(first.neuron, first.n_out, bias=bias, v0=v0, name=f"{name_prefix}0")]
    inp = net.add_current_input(pops[0], current) if current is not None else None
    for i, (before, layer) in enumerate(zip(model.layers, model.layers[1:]), start=1):
        pop = net.add_population(layer.neuron, layer.n_out, bias=layer.b + layer.offset, v0=v0, name=f"{name_prefix}{i}")
        net.connect(pops[-1], pop, layer.scaled(before.amplitude), synapse=syn, placement=placement)
        pops.append(pop)
    if not probes:
        return SpikingNetwork(net, pops, [], None, model, inp)
    spikes = [net.probe(p, "spikes") for p in pops]
    filtered = net.probe(pops[-1], "filtered", synapse=syn)
    mean = net.probe(pops[-1], "filtered_mean", synapse=syn)
    return SpikingNetwork(net, pops, spikes, filtered, model, inp, mean)


def _first_layer_input(first, x, n_in):
    """(bias, injected current or None) of layer 1 for the input x."""
    if x is None:
        raise ValueError("x: to_network builds the network for one input; pass x of shape "
                         f"({n_in},) (constant), an array (steps, {n_in}) or a function t -> ({n_in},) "
                         "(time-varying, injected as W1 x(t)); SpikingModel.predict runs batches")
    if callable(x):
        def current(t):
            value = np.asarray(x(t), dtype=float)
            if value.shape != (n_in,):
                raise ValueError(f"x(t): expected shape ({n_in},), got {value.shape} at t = {t}")
            return first.apply(value[None])[0]
        return first.b + first.offset, current
    try:
        X = np.asarray(x)
    except (TypeError, ValueError):
        X = np.asarray(None)
    if X.dtype.kind not in "biuf":
        what = "complex numbers" if X.dtype.kind == "c" else type(x).__name__
        raise TypeError(f"x: expected an array of real numbers or a function of t, got {what}")
    X = X.astype(float)
    if X.ndim not in (1, 2) or X.shape[-1] != n_in or X.size == 0:
        raise ValueError(f"x: expected shape ({n_in},) or (steps, {n_in}), got {X.shape}; "
                         "for a batch use SpikingModel.predict")
    if not np.all(np.isfinite(X)):
        raise ValueError("x: contains NaN or infinity")
    if X.ndim == 1:
        return first.apply(X[None])[0] + first.b + first.offset, None
    if X.shape[0] < 2:
        raise ValueError(f"x: shape {X.shape} reads as a 1-step input current; for one constant input "
                         f"pass shape ({n_in},)")
    return first.b + first.offset, first.apply(X)
