"""Digits with LIF neurons: train a soft-LIF network by backprop, run it as a spiking network.

Trains a 64-128-10 network with :class:`ratenet.SoftLIFRate` hidden units
(tau_m = 20 ms, tau_ref = 2 ms, sigma = 0.02, amplitude 1/63) on scikit-learn's
8x8 digits (a synthetic 10-class stand-in with 64 features when scikit-learn is
not installed), converts it with :func:`ratenet.to_spiking` (LIF neurons,
exponential synapses tau_s = 5 ms, dt = 1 ms) and writes the comparisons:

- bridge_digits_tuning_curves.png   LIF, soft-LIF and Hodgkin–Huxley (``--hh``) curves
- bridge_digits_rate_vs_spiking.png hidden activities and read-out, rate vs spiking
- bridge_digits_accuracy_vs_T.png   accuracy against presentation time
- bridge_digits_accuracy_vs_tau.png accuracy against synaptic time constant (T = 0.2 s)
- bridge_digits_rate_histograms.png firing rates of the hidden neurons

    python examples/bridge_digits.py --out figures/ [--epochs 60] [--hh]
"""
import argparse
import pathlib
import time

import numpy as np

import ratenet
from neurosim.synapses import PSCFilter
from ratenet.spiking import plots as sp
from ratenet.spiking.activations import SoftLIFRate
from ratenet.optimizers import Adam
from ratenet.training import fit



class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default."""

def load_data(seed=0):
    """(X_train, X_test, labels_train, labels_test, name)."""
    try:
        from ratenet.data import load_digits_split
        return (*load_digits_split(), "digits")
    except ImportError:
        from ratenet.data import noisy_mapping, train_test_split
        X, labels = noisy_mapping(1800, n_classes=10, n_features=64, noise=2.5, rng=seed)
        X = (X - X.min()) / (X.max() - X.min())           # inputs in [0, 1] like digits / 16
        Xtr, Xte, Ttr, Tte = train_test_split(X, labels, test_size=0.2, stratify=labels, rng=seed)
        return Xtr, Xte, Ttr, Tte, "synthetic (scikit-learn not installed)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("--out", default="bridge_digits_figures", help="directory for the PNG figures")
    p.add_argument("--epochs", type=int, default=60, help="training epochs of the rate network")
    p.add_argument("--seed", type=int, default=0, help="seed (int >= 0) of the data split, initial weights and batches")
    p.add_argument("--hh", action="store_true", help="add the measured Hodgkin–Huxley curve (a few s)")
    args = p.parse_args(argv)

    Xtr, Xte, Ttr, Tte, name = load_data(args.seed)
    rng = np.random.default_rng(args.seed)
    model = ratenet.Sequential([ratenet.Dense(64, 128, rng=rng), SoftLIFRate(0.02, 0.002, 1 / 63, 0.02),
                                ratenet.Dense(128, 10, rng=rng), ratenet.Softmax()])
    start = time.perf_counter()
    fit(model, Xtr, Ttr, ratenet.CategoricalCrossEntropy(), Adam(lr=1e-3), epochs=args.epochs,
        batch_size=32, rng=args.seed, verbose=0)
    rate_acc = float(np.mean(model.predict(Xte).argmax(1) == Tte))
    print(f"{name}: trained 64-128-10 soft-LIF in {time.perf_counter() - start:.1f} s, "
          f"rate test accuracy {100 * rate_acc:.2f} %")

    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    exact_acc = float(np.mean(snn.rate_layers(Xte)[0].argmax(1) == Tte))
    start = time.perf_counter()
    result = snn.run(Xte, T=0.2)
    spk_acc = float(np.mean(result.output.argmax(1) == Tte))
    print(f"spiking, T = 0.2 s, tau_s = 5 ms: {100 * spk_acc:.2f} % "
          f"({len(Xte)} samples in {time.perf_counter() - start:.2f} s); same weights with the exact "
          f"LIF curve: {100 * exact_acc:.2f} %; mean hidden rate {result.rates[0].mean():.1f} Hz")

    Ts, acc_T = sp.accuracy_sweep(snn, Xte, Tte, T=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5))
    taus, acc_tau = sp.accuracy_sweep(snn, Xte, Tte, T=0.2, tau_s=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05))
    for T, a in zip(Ts, acc_T):
        print(f"  T = {T:5.3f} s: {100 * a:.2f} %")
    for ts, a in zip(taus, acc_tau):
        print(f"  tau_s = {1e3 * ts:4.0f} ms (T = 0.2 s): {100 * a:.2f} %")

    import matplotlib
    matplotlib.use("Agg")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    refs = {"rate soft-LIF": rate_acc, "rate LIF": exact_acc}
    figs = {
        "tuning_curves": sp.plot_tuning_curves(sp.bridge_curves(hh=args.hh)),
        "rate_vs_spiking": sp.plot_rate_vs_spiking(snn, Xte, result=result),
        "accuracy_vs_T": sp.plot_accuracy_sweep(Ts, acc_T, refs),
        "accuracy_vs_tau": sp.plot_accuracy_sweep(taus, acc_tau, refs, xlabel="synaptic time constant tau_s (s)"),
        "rate_histograms": sp.plot_rate_histograms(result),
    }
    for key, fig in figs.items():
        path = out / f"bridge_digits_{key}.png"
        fig.savefig(path, dpi=110)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
