"""Spiking CNNs on real MNIST digits: train with rates, run as spikes, export to NIR.

Trains the issue-23 CNN (Conv2D(1, 16, 5) → act → AvgPool2D(2) → Conv2D(16, 32, 5) → act →
AvgPool2D(2) → Flatten → Dense(512, 10) → Softmax) twice on the 4,000 training digits of
``ratenet.data.load_mnist(split=True)``, with ±``--shift``-pixel shifts (``ratenet.data.augment``)
and cosine-annealed Adam:

* soft-LIF units (tau_m 20 ms, tau_ref 2 ms, amplitude 0.01) → LIF neurons, exact in rate;
* ReLU units → integrate-and-fire neurons (``neurosim.IF``, reset by subtraction) after
  data-based weight normalisation (99.9th percentile on 500 training digits, Rueckauer et al. 2017).

Both are converted with :func:`ratenet.to_spiking` (dt = 1 ms, exponential synapses tau_s = 5 ms;
convolutions stay convolutions) and evaluated on the held-out test digits at several
presentation times T from one run per sample (the read-out trace, averaged over T minus the
synaptic transient). Writes to ``--out``:

- mnist_conv_accuracy_vs_T.png   spiking accuracy against T, both routes, rate accuracy dashed
- mnist_conv_raster.png          spikes of a few channels of both conv layers for one digit
- mnist_conv_filters.png         the soft-LIF network's first-layer filters
- mnist_conv_softlif.nir         the soft-LIF spiking network as a NIR graph (if ``nir`` is installed)
- mnist_conv_results.txt         the measured accuracies

    python examples/mnist_conv.py --out figures/ [--epochs 30] [--n-test 1000]
    python examples/mnist_conv.py --out /tmp/x --quick      # seconds: 1 epoch on 128 digits, 8/16 channels
"""
import argparse
import math
import pathlib
import time

import numpy as np

import ratenet
from neurosim.synapses import PSCFilter


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default."""


def build(act, seed=0, channels=(16, 32)):
    """The issue-23 CNN in ratenet (float32)."""
    A = {"relu": ratenet.ReLU, "softlif": lambda: ratenet.SoftLIFRate(amplitude=0.01)}[act]
    c1, c2 = channels
    return ratenet.Sequential([
        ratenet.Conv2D(1, c1, 5, rng=seed), A(), ratenet.AvgPool2D(2),
        ratenet.Conv2D(c1, c2, 5, rng=seed + 1), A(), ratenet.AvgPool2D(2),
        ratenet.Flatten(), ratenet.Dense(c2 * 4 * 4, 10, rng=seed + 2), ratenet.Softmax()])


def train(act, X, y, Xt, yt, epochs, batch, lr, shift, seed, channels):
    """Train one CNN, printing progress per epoch; the model and its test accuracy."""
    model = build(act, seed, channels)
    steps = epochs * math.ceil(len(X) / batch)
    opt = ratenet.Adam(lr=lr, schedule=lambda t: lr * 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps)))
    loss = ratenet.CategoricalCrossEntropy()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        Xa = ratenet.data.augment(X, shift=shift, rng=rng) if shift else X
        h = model.fit(Xa, y, loss=loss, optimizer=opt, epochs=1, batch_size=batch, rng=rng, verbose=0)
        test = model.evaluate(Xt, yt, loss)
        print(f"[{act}] epoch {epoch:2d}/{epochs}  {time.perf_counter() - t0:6.1f} s  train loss "
              f"{h['loss'][-1]:.4f}  test acc {100 * test['accuracy']:.2f} %", flush=True)
    return model, float(test["accuracy"])


def spiking_accuracy(snn, Xt, yt, Ts, chunk, label):
    """Accuracy at each T in Ts from one run of T = max(Ts) per sample (read-out trace), with progress."""
    T_max, dt = max(Ts), snn.dt
    correct = np.zeros(len(Ts))
    t0 = time.perf_counter()
    for s in range(0, len(Xt), chunk):
        res = snn.run(Xt[s:s + chunk], T=T_max, record=True, batch_size=chunk)
        for k, T in enumerate(Ts):
            n = int(round(T / dt))
            n_avg = int(round(snn.default_t_average(T) / dt))
            readout = res.trace[n - n_avg:n].mean(axis=0)
            correct[k] += np.sum(readout.argmax(axis=1) == yt[s:s + chunk])
        done = min(s + chunk, len(Xt))
        so_far = ", ".join(f"T = {T:g} s: {100 * c / done:.1f} %" for T, c in zip(Ts, correct))
        print(f"[{label}] spiking: {done}/{len(Xt)} test digits  {time.perf_counter() - t0:6.1f} s  "
              f"accuracy so far {so_far}", flush=True)
    return correct / len(Xt)


def plot_raster(snn, x, path, channels=3):
    """Spikes of the first ``channels`` channels of both conv layers for one input image."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sn = snn.to_network(x.ravel())
    sn.network.run(0.2)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, probe, layer, name in zip(axes, sn.probes, snn.layers, ("conv 1", "conv 2")):
        per_channel = int(np.prod(layer.shape[1:]))
        times, idx = probe.data
        keep = idx < channels * per_channel
        ax.scatter(times[keep], idx[keep], s=1, c=idx[keep] // per_channel, cmap="viridis")
        ax.set(xlabel="t (s)", ylabel="neuron (channel-major)", title=f"{name}: channels 0-{channels - 1}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_filters(model, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    W = model.layers[0].W[:, 0]
    cols = 8
    rows = math.ceil(len(W) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows))
    for ax, k in zip(np.ravel(axes), range(rows * cols)):
        ax.axis("off")
        if k < len(W):
            ax.imshow(W[k], cmap="RdBu_r", vmin=-np.abs(W).max(), vmax=np.abs(W).max())
    fig.suptitle("first-layer filters (soft-LIF CNN)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy(Ts, results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, rate, acc), color in zip(results, ("C0", "C1")):
        ax.plot(Ts, 100 * acc, "o-", color=color, label=f"{label} spiking")
        ax.axhline(100 * rate, color=color, ls="--", label=f"{label} rate")
    ax.set(xlabel="presentation time T (s)", ylabel="test accuracy (%)", xscale="log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    ap.add_argument("--out", type=pathlib.Path, required=True, help="folder for the figures and results")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--shift", type=int, default=2, help="augmentation: random shifts up to this many pixels")
    ap.add_argument("--n-test", type=int, default=1000, help="test digits for the spiking evaluation")
    ap.add_argument("--T", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2, 0.5],
                    help="presentation times (s), from one run of the longest")
    ap.add_argument("--chunk", type=int, default=100, help="test digits simulated as one batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["softlif", "relu"], help="train and convert one of the two CNNs")
    ap.add_argument("--quick", action="store_true", help="1 epoch on 128 digits, 8/16 channels, rate test on 100 digits, spiking on 20")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    X, Xt, y, yt = ratenet.data.load_mnist(split=True)
    channels = (16, 32)
    if args.quick:
        X, y, args.epochs, args.n_test, channels = X[:128], y[:128], 1, min(args.n_test, 20), (8, 16)
        Xt, yt = Xt[:100], yt[:100]
        args.T = [t for t in args.T if t <= 0.1] or [0.05]
    Xs, ys = Xt[:args.n_test], yt[:args.n_test]
    lines = [f"# python examples/mnist_conv.py --epochs {args.epochs} --shift {args.shift} --n-test {args.n_test}"
             + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else ""),
             f"# train {len(X)} digits, rate accuracy on {len(Xt)} test digits, spiking on {len(Xs)}; "
             f"dt = 1 ms, tau_s = 5 ms"]
    results = []
    for act in ("softlif", "relu") if args.only is None else (args.only,):
        model, rate_acc = train(act, X, y, Xt, yt, args.epochs, args.batch, args.lr, args.shift, args.seed, channels)
        snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3, input_shape=(1, 28, 28),
                                 normalize=X[:500] if act == "relu" else None)
        rate_sub = float(np.mean(model.predict(Xs).argmax(axis=1) == ys))
        acc = spiking_accuracy(snn, Xs, ys, args.T, args.chunk, act)
        results.append((act, rate_sub, acc))
        lines.append(f"{act}: rate accuracy {100 * rate_acc:.2f} % ({len(Xt)} test digits), "
                     f"{100 * rate_sub:.2f} % on the {len(Xs)} spiking digits")
        lines += [f"{act}: spiking accuracy at T = {T:g} s: {100 * a:.2f} %" for T, a in zip(args.T, acc)]
        if act == "softlif":
            plot_filters(model, args.out / "mnist_conv_filters.png")
            plot_raster(snn, Xs[0], args.out / "mnist_conv_raster.png")
            try:
                import nir
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)    # NIR has no refractory period
                    nir.write(args.out / "mnist_conv_softlif.nir", snn.to_nir())
                lines.append("softlif: NIR graph written to mnist_conv_softlif.nir")
            except ImportError:
                lines.append("softlif: NIR export skipped (pip install '.[nir]')")
    plot_accuracy(args.T, results, args.out / "mnist_conv_accuracy_vs_T.png")
    text = "\n".join(lines) + "\n"
    (args.out / "mnist_conv_results.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
