"""Digits accuracy and time per training run: ratenet vs PyTorch vs scikit-learn.

Setup (issue 5): sklearn's 8x8 digits, inputs / 16, stratified 80/20 split with
random_state 0; 64-128-10 network, Adam(lr=1e-3), batch 32, 60 epochs, softmax
cross-entropy, 5 seeds, hidden activation ReLU / tanh / sigmoid. Reported: mean
(and std) test accuracy over the seeds and mean seconds per 60-epoch run,
single-threaded. Needs scikit-learn (for the data); PyTorch is optional.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/digits.py
"""
import argparse
import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

import ratenet  # noqa: E402

ACTS = {"relu": ratenet.ReLU, "tanh": ratenet.Tanh, "sigmoid": ratenet.Sigmoid}


def run_ratenet(split, act, seed, epochs, batch):
    Xtr, Xte, Ttr, Tte = split
    model = ratenet.Sequential([ratenet.Dense(64, 128, rng=seed), ACTS[act](), ratenet.Dense(128, 10, rng=seed + 1000),
                                ratenet.Softmax()])
    t0 = time.perf_counter()
    model.fit(Xtr, Ttr, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.Adam(lr=1e-3),
              epochs=epochs, batch_size=batch, rng=seed, verbose=0)
    dt = time.perf_counter() - t0
    return (model.forward(Xte).argmax(axis=1) == Tte).mean(), dt


def run_torch(split, act, seed, epochs, batch):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr, Xte, Ttr, Tte = (torch.from_numpy(np.asarray(a)) for a in split)
    Ttr = Ttr.long()
    A = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[act]
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), A(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(Xtr))
        for s in range(0, len(Xtr), batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            lossf(net(Xtr[idx]), Ttr[idx]).backward()
            opt.step()
    dt = time.perf_counter() - t0
    with torch.no_grad():
        acc = (net(Xte).argmax(1) == Tte).float().mean().item()
    return acc, dt


def run_sklearn(split, act, seed, epochs, batch):
    import warnings

    from sklearn.neural_network import MLPClassifier

    Xtr, Xte, Ttr, Tte = split
    name = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}[act]
    clf = MLPClassifier(hidden_layer_sizes=(128,), activation=name, solver="adam", learning_rate_init=1e-3,
                        batch_size=batch, max_iter=epochs, alpha=0.0, n_iter_no_change=epochs + 1, tol=0,
                        random_state=seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is expected
        clf.fit(Xtr, Ttr)
    dt = time.perf_counter() - t0
    return clf.score(Xte, Tte), dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--acts", nargs="+", choices=list(ACTS), default=list(ACTS))
    ap.add_argument("--only", nargs="+", choices=["ratenet", "torch", "sklearn"],
                    default=["ratenet", "torch", "sklearn"])
    args = ap.parse_args(argv)
    try:
        split = ratenet.load_digits_split()
    except ImportError as e:
        sys.exit(f"benchmarks/digits.py: {e}")
    runners = {"ratenet": run_ratenet, "torch": run_torch, "sklearn": run_sklearn}
    print(f"# digits 64-128-10, Adam 1e-3, batch {args.batch}, {args.epochs} epochs, {args.seeds} seeds, 1 thread")
    print(f"{'activation':<10} {'library':<9} {'test acc % (mean +- std)':>26} {'s per run':>10}")
    for act in args.acts:
        for name in args.only:
            try:
                res = [runners[name](split, act, s, args.epochs, args.batch) for s in range(args.seeds)]
            except ImportError:
                print(f"{act:<10} {name:<9} not installed")
                continue
            acc = 100 * np.array([r[0] for r in res])
            sec = np.mean([r[1] for r in res])
            print(f"{act:<10} {name:<9} {acc.mean():>17.2f} +- {acc.std():.2f} {sec:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
