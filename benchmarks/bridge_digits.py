"""The bridge on the digits dataset: rate ReLU, rate soft-LIF, and the spiking soft-LIF network.

Protocol (issue 6): scikit-learn's 8x8 digits, inputs / 16, stratified 80/20
split with random_state 0 (:func:`ratenet.data.load_digits_split`); a
64-128-10 network, Adam lr 1e-3, batch 32, 60 epochs, categorical
cross-entropy on a softmax output; mean over 5 seeds. Soft-LIF hidden units:
tau_m = 0.02 s, tau_ref = 0.002 s, sigma = 0.02, amplitude 1/63. The spiking
version (:func:`ratenet.to_spiking`) uses LIF neurons with the same tau_m,
tau_ref, exponential synapses tau_s = 5 ms, dt = 1 ms, all 360 test digits in
one vectorized run, and averages the read-out over T minus a 20 ms transient.

    python benchmarks/bridge_digits.py [--seeds 5] [--epochs 60] [--nir]

(needs scikit-learn; prints a markdown table.) With ``--nir`` each spiking model
is also exported with ``SpikingModel.to_nir`` and run by neurosim's
``from_nir`` (one network per digit), by the same without refractory periods
(what a NIR consumer without tau_ref computes), and by snnTorch's
``import_from_nir`` (Euler at 0.1 ms; needs snntorch and nirtorch), at the
largest ``--T``; ``--tau-ref`` sets the hidden neurons' refractory period.
"""
import argparse
import time
import warnings

import numpy as np

import ratenet
from ratenet.data import load_digits_split
from ratenet.spiking.activations import LIFRate, SoftLIFRate
from ratenet.optimizers import Adam
from ratenet.training import fit
from neurosim.synapses import PSCFilter

TAU_M, SIGMA, AMP = 0.02, 0.02, 1 / 63


def build(hidden, seed):
    rng = np.random.default_rng(seed)
    return ratenet.Sequential([ratenet.Dense(64, 128, rng=rng), hidden, ratenet.Dense(128, 10, rng=rng),
                               ratenet.Softmax()])


def train(model, Xtr, Ttr, seed, epochs):
    fit(model, Xtr, Ttr, ratenet.CategoricalCrossEntropy(), Adam(lr=1e-3), epochs=epochs, batch_size=32,
        rng=seed, verbose=0)
    return model


def acc(Y, labels):
    return float(np.mean(Y.argmax(axis=1) == labels))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--T", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.5])
    p.add_argument("--tau-s", type=float, default=0.005)
    p.add_argument("--tau-ref", type=float, default=0.002, help="refractory period of the hidden neurons (s)")
    p.add_argument("--nir", action="store_true", help="also run the NIR export in neurosim and snnTorch")
    args = p.parse_args(argv)

    Xtr, Xte, Ttr, Tte = load_digits_split()
    cols = ["rate ReLU", "rate soft-LIF", "rate LIF (same weights)"] + [f"spiking T={t:g} s" for t in args.T]
    T_nir = max(args.T)
    if args.nir:
        cols += [f"NIR -> neurosim from_nir T={T_nir:g} s", f"NIR -> neurosim, no tau_ref T={T_nir:g} s",
                 f"NIR -> snnTorch import_from_nir T={T_nir:g} s"]
    rows = []
    start = time.perf_counter()
    for seed in range(args.seeds):
        relu = train(build(ratenet.ReLU(), seed), Xtr, Ttr, seed, args.epochs)
        soft = train(build(SoftLIFRate(TAU_M, args.tau_ref, AMP, SIGMA), seed), Xtr, Ttr, seed, args.epochs)
        snn = ratenet.to_spiking(soft, synapse=PSCFilter(args.tau_s), dt=1e-3)
        exact_out, _, _ = snn.rate_layers(Xte, exact=True)
        row = [acc(relu.predict(Xte), Tte), acc(soft.predict(Xte), Tte), acc(exact_out, Tte)]
        row += [acc(snn.predict(Xte, T=t), Tte) for t in args.T]
        if args.nir:
            from ratenet.spiking.nir import run_neurosim, run_snntorch
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)          # "NIR has no refractory period"
                graph = snn.to_nir()
            row += [acc(run_neurosim(graph, Xte, T_nir), Tte),
                    acc(run_neurosim(graph, Xte, T_nir, refractory=False), Tte)]
            try:
                row.append(acc(run_snntorch(graph, Xte, T_nir), Tte))
            except ImportError:
                row.append(np.nan)
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{c} {100 * v:.2f}" for c, v in zip(cols, row)), flush=True)
    rows = 100 * np.array(rows)
    print(f"\n{args.seeds} seeds, {args.epochs} epochs, tau_s = {1e3 * args.tau_s:g} ms, "
          f"{time.perf_counter() - start:.0f} s in total\n")
    print("| model | test accuracy (%), mean ± std |")
    print("|---|---|")
    for c, col in zip(cols, rows.T):
        print(f"| {c} | {col.mean():.2f} ± {col.std():.2f} |")


if __name__ == "__main__":
    main()
