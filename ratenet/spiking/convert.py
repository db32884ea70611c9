"""A trained rate network run as spiking neurons with synaptic filters.

:func:`to_spiking` turns a :class:`ratenet.Sequential` of the form

    linear layers → hidden activation → ... → linear layers ending in Dense [→ output activation]

into a :class:`SpikingModel`. The linear layers between two activations (Dense,
Conv2D, AvgPool2D, Flatten, BatchNorm, Dropout) are folded into one connection
(:mod:`ratenet.spiking.fold`; a convolution stays a :class:`neurosim.Convolution`).
Two routes:

* **LIF route.** A ``LIFRate`` / ``SoftLIFRate`` layer becomes a population of
  :class:`neurosim.LIF` neurons with the activation's tau_m and tau_ref, driven
  by J = A(s) + b + 1 (the rate model's z + 1; see :mod:`ratenet.spiking.activations`).
  Exact in rate.
* **ReLU route.** A ``ReLU`` layer becomes :class:`neurosim.IF` neurons with reset
  by subtraction after data-based weight normalisation (Rueckauer et al. 2017):
  J = max_rate · (A(s) λ_(l−1) + b)/λ_l, a spike carries 1/max_rate, so the
  activity is the normalised ReLU output, up to the quantisation of a count.

s is the input (first layer) or the previous population's spikes filtered by a
unit-area :class:`neurosim.PSCFilter` and scaled by that population's
``amplitude`` — one spike adds ``amplitude`` of charge, so s averages to
amplitude · rate, the rate unit's output. The last Dense layer is a linear
read-out of the last population's filtered spikes; a final output activation
is applied to the read-out averaged over time.

Simulation: :meth:`SpikingModel.predict` and :meth:`SpikingModel.run` lay the
model out as one batched :class:`neurosim.Network` (the samples are the
batch, in chunks that bound memory; see :mod:`ratenet.spiking.network`) and
run it: neurosim's exact LIF step, synapses that receive each spike at its
exact time inside the step (``connect(placement="exact")``) and a
``"filtered_mean"`` probe of the last layer as the read-out. ratenet has no
stepping loop of its own, so ``predict`` for one row equals running
:meth:`SpikingModel.to_network` for that row.
"""
import math
import numbers
import warnings

import numpy as np

from neurosim import IF, LIF, Network
from neurosim.synapses import PSCFilter

from neurosim.validation import (DEFAULT_MAX_WORK, check_alloc, check_bool, check_int, check_number,
                                 check_same_length, n_steps, positive, real_array)

from ..activations import Identity, LogSoftmax, ReLU, Sigmoid, Softmax, to_labels
from ..layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, check_batch
from ..model import Sequential
from neurosim.progress import Progress
from .activations import LIFRate, SoftLIFRate
from .fold import LinearMap, fold_layers
from .network import _check_synapse, build_network

__all__ = ["to_spiking", "SpikingModel", "SpikingResult"]

_OUTPUTS = (Identity, Softmax, LogSoftmax, Sigmoid)

#: Neurons per simulated batch of :meth:`SpikingModel.predict` when ``batch_size`` is None
#: (samples = NEURONS_PER_BATCH // neurons per sample). Chosen by
#: ``benchmarks/predict_memory.py --part batch_size``; see docs/bridge.md.
NEURONS_PER_BATCH = 65536

#: The same for a model with a convolution between two populations: a batch's busy steps go through one
#: im2col/BLAS convolution (neurosim.Convolution.apply), which pays off with many samples per step
#: (``benchmarks/conv_spiking.py``: the issue's CNN ran 3-4x faster per sample at 100 samples than at 5).
CONV_NEURONS_PER_BATCH = 2**20

#: Bytes of probe records kept between two reductions inside a batch (at least one sample).
_PIECE_BYTES = 4 * 2**20


def _trace_buffer(steps, n_samples, n_out, max_bytes):
    """The (steps, n_samples, n_out) trace of ``run(record=True)``, refused before allocating if too large."""
    try:
        check_alloc("record", True, float(steps) * n_samples * n_out, limit=max_bytes)
    except ValueError:
        raise ValueError(f"record=True keeps the read-out of every step: {steps} steps x {n_samples} samples x "
                         f"{n_out} outputs = {8.0 * steps * n_samples * n_out / 2**20:.4g} MiB, more than "
                         + (f"max_bytes={max_bytes}" if max_bytes is not None else "the memory limit")
                         + "; use record=False (rates and activities need no trace), fewer samples, a "
                         "shorter T, or a larger max_bytes") from None
    return np.empty((steps, n_samples, n_out))


def _positive(value, name, allow_none=False):
    """A duration in seconds > 0 (TypeError for a wrong type, ValueError for a wrong value)."""
    if value is None and allow_none:
        return None
    return positive(name, value)


def _check_steps(steps, T):
    """Refuse a run longer than DEFAULT_MAX_WORK steps before anything is allocated."""
    if not steps <= DEFAULT_MAX_WORK:
        raise ValueError(f"T={T!r} s needs {steps:.3g} steps of dt, more than the limit of "
                         f"{DEFAULT_MAX_WORK:.3g}; use a shorter T")


def _check_v0(v0):
    if v0 is None or (isinstance(v0, str) and v0 == "uniform"):
        return
    if isinstance(v0, numbers.Real) and not isinstance(v0, bool) and np.isfinite(v0) and v0 < 1:
        return
    raise ValueError(f"v0: expected None, 'uniform' or a finite number < 1, got {v0!r}")


class SpikingLayer:
    """One population: N neurons per sample, J = A(s) + b + offset.

    Attributes
    ----------
    W : ndarray (n_out, n_in) or neurosim.Convolution
        Transform from the previous layer's *output units* (amplitude · filtered
        spikes) to input current: a dense matrix, or a convolution that is never
        formed densely.
    b : ndarray (n_out,)
        Bias of the rate model (per neuron; a convolution's per-channel bias repeated over pixels).
    neuron : neurosim.LIF or neurosim.IF
    amplitude : float
        Output per spike (charge) = the rate activation's amplitude.
    offset : float
        Added to the current: 1 for LIF (J = z + 1), 0 for IF.
    shape : int or (C, H, W)
        Layout of the population (an image, row-major, for a convolution's output).
    """

    def __init__(self, W, b, neuron, amplitude, offset=1.0, shape=None, exact=None, model=None):
        self.map = W if isinstance(W, LinearMap) else LinearMap(W, b, W.shape[0])
        self.b, self.neuron, self.amplitude, self.offset = self.map.b, neuron, amplitude, offset
        self.shape = self.map.out_shape if shape is None else shape
        self._exact, self._model = exact, model

    @property
    def W(self):
        return self.map.A

    @property
    def n_out(self):
        return self.W.shape[0]

    def apply(self, S):
        """A(S) for rows S (n, n_in): (n, n_out), through a sparse table for a convolution."""
        return self.map.apply(S)

    def scaled(self, factor):
        """The transform times ``factor`` (dense array or Convolution), for a connection."""
        return self.map.scaled(factor)

    def activation(self, exact):
        """z -> output units (amplitude · rate): the neuron's exact rate curve, or the trained activation."""
        return self._exact if exact else self._model


class SpikingResult:
    """What :meth:`SpikingModel.run` measured.

    Attributes
    ----------
    output : ndarray (n_samples, n_out)
        Output activation applied to ``readout``.
    readout : ndarray (n_samples, n_out)
        Linear read-out averaged over the window (the spiking counterpart of the
        last Dense layer's z).
    rates : list of ndarray (n_samples, n_l)
        Firing rate of every neuron in Hz (spikes in the window / window length).
    activity : list of ndarray (n_samples, n_l)
        Filtered output amplitude · (PSC-filtered spikes), averaged over the
        window: compare with the rate model's activation outputs.
    t : ndarray (steps,), trace : ndarray (steps, n_samples, n_out), or None
        Read-out averaged over each step, at the step ends t (``record=True``).
    window : (float, float)
        Start and end (s) of the averaging window.
    """

    def __init__(self, output, readout, rates, activity, window, t=None, trace=None):
        self.output, self.readout, self.rates, self.activity = output, readout, rates, activity
        self.window, self.t, self.trace = window, t, trace


class SpikingModel:
    """A rate network's weights run as spiking LIF populations; see :func:`to_spiking`.

    Attributes
    ----------
    layers : list of SpikingLayer
    input_shape : int or (C, H, W)
        Layout of one input (``predict`` takes rows (n, n_in) or images (n, C, H, W)).
    scales : list of float or None
        The normalisation factors lambda_l of the layers (1 for LIF layers), when
        ReLU layers were normalised (``to_spiking(normalize=...)``).
    readout : (W, b) or None
        Last Dense layer (n_out, n_last), (n_out,), or None when the model ends
        with a LIF activation (the output is then the last population's activity).
    output_activation : Activation or None
    synapse : neurosim.PSCFilter
    dt : float
        Step in seconds.
    source : Sequential
        The rate model.
    """

    def __init__(self, layers, readout, output_activation, synapse, dt, source, input_shape=None, scales=None):
        self.layers, self.readout, self.output_activation = layers, readout, output_activation
        self.synapse, self.dt, self.source = _check_synapse(synapse), _positive(dt, "dt"), source
        self.n_in = layers[0].W.shape[1]
        self.input_shape = self.n_in if input_shape is None else input_shape
        self.scales = scales
        self.n_out = readout[0].shape[0] if readout is not None else layers[-1].n_out

    def _inputs(self, X):
        """X as float64 rows (n, n_in); image batches (n, C, H, W) of ``input_shape`` are flattened row-major."""
        if isinstance(self.input_shape, tuple) and np.ndim(X) == 4:
            X = check_batch(X, self.input_shape, np.float64)
            return X.reshape(X.shape[0], -1)
        return check_batch(X, self.n_in, np.float64)

    def __repr__(self):
        sizes = [self.n_in] + [l.n_out for l in self.layers] + ([self.n_out] if self.readout else [])
        return (f"SpikingModel({'-'.join(map(str, sizes))}, synapse={self.synapse!r}, dt={self.dt!r})")

    def default_t_average(self, T, synapse=None):
        """Averaging window used when ``t_average`` is None: T minus the transient.

        The transient is 4 (n + 1) tau_s per filtered layer, at most T/2.
        """
        T = _positive(T, "T")
        _check_steps(T / self.dt, T)
        syn = self.synapse if synapse is None else _check_synapse(synapse)
        return T - min(0.5 * T, self.transient(syn))

    def transient(self, synapse=None):
        """Seconds of synaptic transient left out of the default average: 4 (n + 1) tau_s per filtered layer."""
        syn = self.synapse if synapse is None else _check_synapse(synapse)
        n_filtered = max(len(self.layers) - (0 if self.readout is not None else 1), 1)
        return 4 * (syn.n + 1) * syn.tau_s * n_filtered

    # ------------------------------------------------------------------ rate side
    def rate_layers(self, X, exact=True):
        """Rate-model counterparts of :class:`SpikingResult` fields.

        Parameters
        ----------
        X : array_like (n_samples, n_in)
        exact : bool
            True: the exact LIF curve (:class:`LIFRate`, what spiking neurons
            approximate); False: the model's own activations (e.g. soft-LIF).

        Returns
        -------
        output, readout, activity : ndarray (n_samples, n_out), (n_samples, n_out), list of (n_samples, n_l)
        """
        exact = check_bool("exact", exact)
        S = self._inputs(X)
        activity = []
        for layer, act in zip(self.layers, self._activations(exact)):
            S = act(layer.apply(S) + layer.b)
            activity.append(S)
        readout = S @ self.readout[0].T + self.readout[1] if self.readout is not None else S
        return self._apply_output(readout), readout, activity

    def _activations(self, exact):
        return [layer.activation(exact) for layer in self.layers]

    def _apply_output(self, readout):
        return readout if self.output_activation is None else self.output_activation.function(readout)

    # --------------------------------------------------------------- spiking side
    def default_batch_size(self):
        """Samples per simulated batch when ``batch_size`` is None: about :data:`NEURONS_PER_BATCH` neurons.

        Measured (``benchmarks/predict_memory.py --part batch_size``, docs/bridge.md):
        small batches pay neurosim's per-step Python overhead once per batch
        (a 64-128-128-10 network costs 6x more per sample at 16 samples than at
        256), large ones leave the CPU caches (1.4-1.6x the best at 460,000
        neurons); 32,000-260,000 neurons per batch were within the machine's noise
        of the best for one and two hidden layers. A model with a convolution between
        populations uses :data:`CONV_NEURONS_PER_BATCH` instead (about 93 samples of the
        issue-23 CNN), for the batched dense convolution.
        """
        conv = any(layer.map.is_conv for layer in self.layers[1:])
        return max(1, (CONV_NEURONS_PER_BATCH if conv else NEURONS_PER_BATCH) // sum(l.n_out for l in self.layers))

    def predict(self, X, T=0.2, t_average=None, synapse=None, v0=None, rng=None, batch_size=None,
                record=None, return_result=None, progress=False, max_bytes=None):
        """Present each row of X for T seconds to the spiking network; the output array.

        Memory does not grow with T: the read-out is accumulated over the
        window as the network runs (in pieces whose records are reduced and
        cleared), never kept per step.

        Parameters
        ----------
        X : array_like (n_samples, n_in)
            Inputs, as given to the rate model (constant currents W x + b + 1 into layer 1).
        T : float
            Presentation time in seconds (a multiple of ``dt``).
        t_average : float, optional
            Average the read-out over the last ``t_average`` seconds (0 < t_average <= T).
            Default :meth:`default_t_average`: T minus the synaptic transient.
        synapse : neurosim.PSCFilter, optional
            Override the model's synapse for this run (e.g. to scan tau_s).
        v0 : None, "uniform" or float
            Initial membrane voltages: 0 (default, which is also the reset, so
            layer 1 is in its steady state from t = 0), uniform in [0, 1)
            drawn with ``rng`` (one stream per sample, see
            :meth:`neurosim.Network.trial_seeds`; with several chunks, chunk c
            uses ``trial_seeds(rng, n_chunks)[c]``, so the draws depend on
            ``batch_size``), or one value < 1.
        rng : None, int, numpy.random.Generator or SeedSequence
            For ``v0="uniform"``.
        batch_size : int, optional
            Samples per simulated batch (bounds memory); default
            :meth:`default_batch_size` (about :data:`NEURONS_PER_BATCH`
            neurons, the fastest size measured).
        record, return_result
            Deprecated: use :meth:`run`, which returns the full record.
        progress : bool
            Show a progress line on stderr (steps of all batches).
        max_bytes : int, optional
            Refuse, before allocating, a batch whose network state exceeds this
            many bytes (``neurosim.Network.run``'s check; default half the
            available memory).

        Returns
        -------
        ndarray (n_samples, n_out)
            The output activation of the read-out averaged over the window.
        """
        if return_result is not None or record is not None:
            return_result = False if return_result is None else check_bool("return_result", return_result)
            record = False if record is None else check_bool("record", record)
            warnings.warn("predict(return_result=..., record=...) is deprecated: predict returns the output "
                          "array; use snn.run(X, T, record=...) for the SpikingResult", DeprecationWarning,
                          stacklevel=2)
            if return_result:
                return self.run(X, T, t_average, synapse, v0, rng, bool(record), batch_size, progress, max_bytes)
        return self._simulate(X, T, t_average, synapse, v0, rng, batch_size, full=False, record=False,
                              progress=progress, max_bytes=max_bytes).output

    def run(self, X, T=0.2, t_average=None, synapse=None, v0=None, rng=None, record=False, batch_size=None,
            progress=False, max_bytes=None):
        """Present each row of X for T seconds; the full record (rates, activities, traces).

        Parameters as :meth:`predict`; ``record=True`` also keeps the read-out
        averaged over every step (``trace``, steps x samples x n_out floats,
        refused before allocating when larger than ``max_bytes``). Rates and
        activities are accumulated over the window, so without ``record``
        memory does not grow with T.

        Returns
        -------
        SpikingResult
        """
        return self._simulate(X, T, t_average, synapse, v0, rng, batch_size, full=True,
                              record=check_bool("record", record), progress=progress, max_bytes=max_bytes)

    def _simulate(self, X, T, t_average, synapse, v0, rng, batch_size, full, record, progress=False,
                  max_bytes=None):

        X = self._inputs(X)
        steps = n_steps(T, self.dt)          # float32 T: checked to float32 precision
        _check_steps(steps, T)
        T = _positive(T, "T")
        syn = self.synapse if synapse is None else _check_synapse(synapse)
        t_average = self.default_t_average(T, syn) if t_average is None else _positive(t_average, "t_average")
        n_avg = int(round(t_average / self.dt))
        if not 1 <= n_avg <= steps:
            raise ValueError(f"t_average: expected a duration in [dt, T] = [{self.dt}, {T}] s, got {t_average!r}")
        _check_v0(v0)
        progress = check_bool("progress", progress)
        if max_bytes is not None:
            max_bytes = check_int("max_bytes", max_bytes, low=1)
        if batch_size is None:
            batch_size = self.default_batch_size()
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        trace = _trace_buffer(steps, X.shape[0], self.n_out, max_bytes) if record else None
        starts = range(0, X.shape[0], batch_size)
        # one seed per chunk (a single chunk uses rng itself: trial k = Network.trial_seeds(rng, B)[k])
        rngs = [rng] if len(starts) == 1 else Network.trial_seeds(rng, len(starts))
        with Progress(steps * len(starts), "predict" if not full else "run", enabled=progress, unit=" steps") as bar:
            chunks = [self._chunk(X[s:s + batch_size], steps, n_avg, syn, v0, r, full,
                                  trace[:, s:s + batch_size] if record else None, bar, max_bytes)
                      for s, r in zip(starts, rngs)]
        readout = np.concatenate([c[0] for c in chunks])
        output = self._apply_output(readout)
        if not full:
            return SpikingResult(output, readout, None, None, None)
        t_avg = n_avg * self.dt
        rates = [np.concatenate([c[1][i] for c in chunks]) for i in range(len(self.layers))]
        activity = [np.concatenate([c[2][i] for c in chunks]) for i in range(len(self.layers))]
        t = self.dt * np.arange(1, steps + 1) if record else None
        return SpikingResult(output, readout, rates, activity, (steps * self.dt - t_avg, steps * self.dt), t, trace)

    def _chunk(self, X, steps, n_avg, syn, v0, rng, full, trace, bar, max_bytes):
        """Run one batch of samples; (readout, rates, activity) with rates/activity None unless full.

        The network runs in pieces; after each piece the probes' records are
        reduced (summed over the window, or written into ``trace``) and
        cleared, so memory is one piece's records whatever T is.
        """
        first, dt = self.layers[0], self.dt
        sn = build_network(self, None, synapse=syn, v0=v0, rng=rng, batch=X.shape[0],
                           bias0=first.apply(X) + first.b + first.offset, probes=False)
        net, pops = sn.network, sn.populations
        B, start = X.shape[0], steps - n_avg
        # filtered_mean samples every g steps: the window (the last n_avg steps) is whole samples
        every = 1 if trace is not None else math.gcd(start, n_avg) or n_avg
        watched = pops if full else pops[-1:]
        means = [net.probe(p, "filtered_mean", sample_every=every * dt, synapse=syn) for p in watched]
        sums = [np.zeros((B, p.n)) for p in watched]
        counts = [np.zeros(B * p.n, dtype=np.int64) for p in pops] if full else []
        spikes = []
        per_sample = 8 * B * sum(p.n for p in watched)
        piece = every * max(1, _PIECE_BYTES // per_sample)    # steps per run call (whole samples)
        k = 0
        while k < steps:
            if k == start and full:   # spikes are counted in the window only
                spikes = [net.probe(p, "spikes") for p in pops]
            n = min(piece, (start if k < start else steps) - k)
            net.run(n * dt, max_bytes=max_bytes)
            if trace is not None:
                trace[k:k + n] = self._readout(means[-1].data)
            if k >= start:
                for probe, total in zip(means, sums):
                    total += np.add.reduce(probe.data, axis=0)
                for probe, pop, c in zip(spikes, pops, counts):
                    times, idx, trials = probe.data
                    keep = times > start * dt + 1e-9 * dt   # a spike at a step's end belongs to that step
                    c += np.bincount(trials[keep] * pop.n + idx[keep], minlength=B * pop.n)
                    probe.clear()
            for probe in means:
                probe.clear()
            k += n
            bar.update(bar.done + n)
        activity = [total * (layer.amplitude * every / n_avg)
                    for total, layer in zip(sums, self.layers[len(self.layers) - len(watched):])]
        readout = self._readout(activity[-1], scaled=True)
        if not full:
            return readout, None, None
        rates = [c.reshape(B, pop.n) / (n_avg * dt) for c, pop in zip(counts, pops)]
        return readout, rates, activity

    def _readout(self, S, scaled=False):
        """Read-out of the last population's filtered spikes S (raw, or already × amplitude)."""
        if not scaled:
            S = S * self.layers[-1].amplitude
        if self.readout is None:
            return S
        return S @ self.readout[0].T + self.readout[1]

    def to_network(self, x, name_prefix="layer", synapse=None, v0=None, rng=None, placement="exact"):
        """Lay the model out as a :class:`neurosim.Network` for one input x (export, probe, edit it).

        Layer 1: bias A1(x) + b1 + offset (offset 1 for LIF, 0 for IF); later
        layers: bias b + offset and a connection A · amplitude (a matrix or a
        ``neurosim.Convolution``) through the synapse; the last Dense layer is a read-out of the
        ``"filtered_mean"`` probe ``mean`` (and of a ``"filtered"`` probe per step).
        See :mod:`ratenet.spiking.network`; :meth:`predict` runs this same layout
        with many inputs as one batch (``predict(x[None])`` equals it to 1e-12).

        Parameters
        ----------
        x : array_like (n_in,) or (C, H, W), array_like (steps, n_in) or callable t -> (n_in,)
            Constant input (in layer 1's bias; an image of ``input_shape`` is
            flattened row-major) or time-varying (injected current
            W1 x(t)). None raises ``ValueError``.
        name_prefix : str
            Populations are named ``name_prefix + "0"``, ``"1"``, ...
        synapse : neurosim.PSCFilter, optional
            Override the model's synapse (connections and read-out probe).
        v0, rng
            Initial voltages (as ``Network.add_population``) and the network's rng.
        placement : {"exact", "boundary"}
            Where spikes enter the synapses (``Network.connect``): at their exact
            in-step times, as :meth:`predict`, or at the next step boundary.

        Returns
        -------
        SpikingNetwork
            ``network``, ``populations``, ``probes``, ``filtered``; helpers
            ``rates(t_start)``, ``readout(filtered)``, ``output(t_average)``.
        """
        if isinstance(self.input_shape, tuple) and not callable(x) and np.shape(x) == self.input_shape:
            x = np.ravel(x)                  # one image (C, H, W): its flat row-major layout
        return build_network(self, x, name_prefix, synapse, v0, rng, placement)

    def to_nir(self):
        """The spiking model as a NIR graph (needs ``pip install '.[nir]'``).

        ``Input`` (the constant input current x) → ``Affine`` → ``LIF`` (layer 1),
        ``Affine`` → ``CubaLIF`` per later layer (LIF + LI stages for a PSC of
        order n > 0), ``Affine`` → ``LI`` → ``Output`` for the read-out; neurosim's
        own :func:`neurosim.export.to_nir` mapping. Every parameter mapping and
        NIR's limits: :mod:`ratenet.spiking.nir`; run a graph with
        :func:`ratenet.spiking.nir.run_neurosim` or ``run_snntorch``.

        Returns
        -------
        nir.NIRGraph
            Normalized units (threshold 1, reset 0), times in seconds.

        Warns
        -----
        UserWarning
            When tau_ref > 0: NIR has no refractory period (kept in node metadata).
        """
        from .nir import model_to_nir
        return model_to_nir(self)

    def accuracy(self, X, labels, **predict_kwargs):
        """Fraction of rows whose label (:func:`ratenet.to_labels` of the output) equals ``labels``.

        One output column: the label is output > 0.5 after a Sigmoid, > 0 otherwise.
        """
        X = self._inputs(X)
        labels = real_array("labels", labels, dtype=None)
        if labels.ndim == 1 and (np.any(labels != np.round(labels)) or np.any(labels < 0)):
            raise ValueError("labels: expected class indices (integers >= 0), got "
                             f"{labels[(labels != np.round(labels)) | (labels < 0)][0]!r}")
        if labels.ndim != 1:
            raise ValueError(f"labels: expected class indices of shape ({len(X)},), got shape {labels.shape}")
        check_same_length("X", X, "labels", labels)
        out = self.predict(X, **predict_kwargs)
        threshold = 0.5 if isinstance(self.output_activation, Sigmoid) else 0.0
        return float(np.mean(to_labels(out, threshold=threshold) == labels))


_HIDDEN = (LIFRate, SoftLIFRate, ReLU)


def to_spiking(model, synapse=None, dt=1e-3, input_shape=None, normalize=None, percentile=99.9, max_rate=None):
    """Build the spiking version of a trained rate network.

    Two routes, chosen per hidden activation:

    * ``LIFRate`` / ``SoftLIFRate`` → :class:`neurosim.LIF` neurons with the
      activation's tau_m and tau_ref, J = z + 1: exact in rate, no scaling;
    * ``ReLU`` → :class:`neurosim.IF` (``reset="subtract"``) neurons after
      data-based weight normalisation (Rueckauer et al. 2017): lambda_l is the
      ``percentile``-th percentile of layer l's ReLU outputs on ``normalize``;
      ``W_l`` is scaled by lambda_(l-1)/lambda_l and ``b_l`` by 1/lambda_l, and
      a normalised activation of 1 fires at ``max_rate``. The read-out is scaled back
      by lambda_(L-1), so outputs are in the rate model's units.

    Parameters
    ----------
    model : Sequential
        Linear layers (Dense, Conv2D, AvgPool2D, Flatten, BatchNorm, Dropout)
        separated by hidden activations (LIFRate, SoftLIFRate or ReLU), then
        optionally a linear read-out ending in a Dense layer and one output
        activation (Identity, Softmax, LogSoftmax or Sigmoid). Each run of linear
        layers is folded into one connection (:mod:`ratenet.spiking.fold`):
        a convolution stays a :class:`neurosim.Convolution` (never a dense
        matrix), AvgPool2D is composed into the next layer as a convolution with
        kernel 1/(kh kw), BatchNorm is folded into the layer before it with its
        running statistics. MaxPool2D is refused (no rate-exact spiking form).
    synapse : neurosim.PSCFilter, optional
        Synapse between layers; default ``PSCFilter(0.005)`` (tau_s = 5 ms).
    dt : float
        Simulation step in seconds (> 0).
    input_shape : (C, H, W), optional
        Shape of one input image; needed when the model starts with Conv2D or
        AvgPool2D (inferred from ``normalize`` when that is an image batch).
    normalize : array_like (n, n_in) or (n, C, H, W), optional
        Training inputs for the normalisation of ReLU layers (required when the
        model has ReLU layers; a few hundred samples are enough).
    percentile : float in (0, 100]
        Percentile of the activations taken as each layer's maximum (99.9 as
        Rueckauer et al.; 100 is the plain maximum).
    max_rate : float, optional
        Firing rate (Hz) of an IF neuron whose normalised activation is 1;
        default 1/dt (one spike per step: the largest, so the smallest
        quantisation error, about 1/(T max_rate) of lambda).

    Returns
    -------
    SpikingModel

    Examples
    --------
    >>> snn = to_spiking(model)                                    # doctest: +SKIP
    >>> Y = snn.predict(X_test, T=0.2)                             # doctest: +SKIP
    >>> snn = to_spiking(relu_cnn, normalize=X_train[:500])         # doctest: +SKIP
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a ratenet.Sequential, got {type(model).__name__}")
    synapse = PSCFilter(0.005) if synapse is None else _check_synapse(synapse)
    dt = _positive(dt, "dt")
    percentile = check_number("percentile", percentile, low=0.0, high=100.0, low_open=True)
    max_rate = 1.0 / dt if max_rate is None else _positive(max_rate, "max_rate")
    X_norm = None if normalize is None else real_array("normalize", normalize)
    shape = shape0 = _input_shape(model, input_shape, X_norm)
    segments, tail, output = _split(model)
    maps, acts = [], []
    for run, (i, act) in segments:
        lin, out_shape = fold_layers(run, shape, "model.layers")
        if lin is None:
            raise ValueError(f"model.layers[{i}]: {act!r} must follow a Dense or Conv2D layer "
                             "(there is no spiking population otherwise)")
        maps.append(lin)
        acts.append(act)
        shape = out_shape
    if not maps:
        raise ValueError("model: no Dense/Conv2D layer followed by LIFRate, SoftLIFRate or ReLU to convert")
    readout, _ = fold_layers(tail, shape, "model.layers")
    if readout is not None and readout.is_conv:
        raise ValueError("model: the read-out after the last hidden activation must end in Flatten → Dense "
                         "(a convolutional read-out has no spiking counterpart here)")
    scales = _scales(maps, acts, X_norm, percentile)
    layers, prev = [], 1.0
    for lin, act, lam in zip(maps, acts, scales):
        layers.append(_layer(lin, act, prev, lam, dt, max_rate))
        prev = lam
    if readout is not None:
        readout = (readout.A * prev, readout.b)
    return SpikingModel(layers, readout, output, synapse, dt, model, shape0,
                        scales if any(isinstance(a, ReLU) for a in acts) else None)


def _input_shape(model, input_shape, X):
    """Shape of one input: (C, H, W) for image models, else the model's n_in."""
    if input_shape is not None:
        shape = tuple(check_int("input_shape", v, low=1) for v in np.atleast_1d(input_shape))
        if len(shape) not in (1, 3):
            raise ValueError(f"input_shape: expected (C, H, W), got {input_shape!r}")
        return shape if len(shape) == 3 else shape[0]
    n_in = model.n_in
    if not isinstance(n_in, tuple):
        return n_in
    if X is not None and X.ndim == 4:
        return tuple(int(v) for v in X.shape[1:])
    raise ValueError(f"input_shape: the model takes images {n_in}; pass input_shape=(C, H, W), "
                     "e.g. (1, 28, 28) for MNIST")


def _split(model):
    """[(linear run, (index, activation))], the tail's linear layers, the output activation or None."""
    segments, run, output = [], [], None
    items = list(enumerate(model.layers))
    for pos, (i, layer) in enumerate(items):
        if isinstance(layer, _HIDDEN):
            segments.append((run, (i, layer)))
            run = []
        elif isinstance(layer, _OUTPUTS):
            if pos != len(items) - 1:
                raise ValueError(f"model.layers[{i}]: {layer!r} is an output activation; nothing may follow "
                                 "the read-out Dense layer and its output activation")
            if not segments:
                raise ValueError(f"model.layers[{i}]: the first Dense layer must be followed by LIFRate, "
                                 "SoftLIFRate or ReLU (there is no spiking population otherwise)")
            output = layer
        elif isinstance(layer, (Dense, Conv2D, AvgPool2D, MaxPool2D, Flatten, BatchNorm, Dropout)):
            run.append((i, layer))
        else:
            raise TypeError(f"model.layers[{i}]: {layer!r} has no spiking counterpart; hidden activations "
                            "must be LIFRate, SoftLIFRate or ReLU and the output activation one of Identity, "
                            "Softmax, LogSoftmax, Sigmoid (last layer)")
    return segments, run, output


def _scales(maps, acts, X, percentile):
    """lambda_l per layer: the percentile of the ReLU outputs on X (1 for LIF layers)."""
    relu = [isinstance(a, ReLU) for a in acts]
    if not any(relu):
        return [1.0] * len(maps)
    if X is None:
        raise ValueError("normalize: ReLU layers convert to IF neurons after data-based weight normalisation; "
                         "pass normalize=X_train (a few hundred training inputs)")
    X = X.reshape(X.shape[0], -1)
    if X.shape[1] != maps[0].shape[1]:
        raise ValueError(f"normalize: expected inputs of {maps[0].shape[1]} values (flat or as images), "
                         f"got shape {X.shape}")
    outs = [[] for _ in maps]
    for start in range(0, X.shape[0], 256):          # bounded memory; float32 copies for the percentile
        S = X[start:start + 256]
        for k, (lin, act) in enumerate(zip(maps, acts)):
            S = act.function(lin.apply(S) + lin.b)
            if relu[k]:
                outs[k].append(S.astype(np.float32).ravel())
    scales = []
    for k, is_relu in enumerate(relu):
        if not is_relu:
            scales.append(1.0)
            continue
        lam = float(np.percentile(np.concatenate(outs[k]), percentile))
        if not lam > 0:
            raise ValueError(f"normalize: layer {k} (ReLU) is silent on the given inputs (percentile "
                             f"{percentile} of its activations is {lam}); it cannot be normalised")
        scales.append(lam)
    return scales


def _layer(lin, act, lam_prev, lam, dt, max_rate):
    """The SpikingLayer of a folded map and its activation, in current units."""
    if isinstance(act, ReLU):
        gain = max_rate / lam
        neuron = IF(reset="subtract")
        amp = 1.0 / max_rate
        J = LinearMap(lin.scaled(gain * lam_prev), lin.b * gain, lin.out_shape)
        return SpikingLayer(J, J.b, neuron, amp, 0.0,
                            exact=lambda z: amp * neuron.rate(z, dt),
                            model=lambda z: amp * np.maximum(z, 0.0))
    J = LinearMap(lin.scaled(lam_prev), lin.b, lin.out_shape)
    return SpikingLayer(J, J.b, LIF(act.tau_m, act.tau_ref), act.amplitude, 1.0,
                        exact=LIFRate(act.tau_m, act.tau_ref, act.amplitude).function, model=act.function)
