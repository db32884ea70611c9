"""Seconds per epoch of an MLP on synthetic MNIST-sized data: ratenet vs PyTorch vs scikit-learn.

Setup (issue 5): 60,000 x 784 float32 inputs, 10 classes, 784-H-H-10 ReLU,
softmax cross-entropy, Adam(lr=1e-3), batch 128, single-threaded. Every epoch
is timed (later epochs too: float32 denormals in Adam's moments show up late);
the last column is the mean training loss of the last epoch.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/mlp.py --hidden 256 1024 --epochs 3

PyTorch and scikit-learn are optional (measured when importable).
"""
import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy/torch load their BLAS

import time  # noqa: E402

import numpy as np  # noqa: E402

import ratenet  # noqa: E402


def make_data(n, d=784, k=10, seed=0):
    """Inputs ~ N(0, 1); labels from a random linear teacher plus noise (learnable, not trivial)."""
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d), dtype=np.float32)
    W = r.standard_normal((d, k), dtype=np.float32) / np.sqrt(d)
    T = (X @ W + 0.5 * r.standard_normal((n, k), dtype=np.float32)).argmax(axis=1)
    return X, T


def bench_ratenet(X, T, hidden, epochs, batch, seed):
    d, k = X.shape[1], int(T.max()) + 1
    model = ratenet.Sequential([ratenet.Dense(d, hidden, rng=seed), ratenet.ReLU(),
                                ratenet.Dense(hidden, hidden, rng=seed + 1), ratenet.ReLU(),
                                ratenet.Dense(hidden, k, rng=seed + 2), ratenet.Softmax()])
    times = []

    class Clock(ratenet.Callback):
        def on_epoch_end(self, epoch, logs):
            now = time.perf_counter()
            times.append(now - self.t)
            self.t = now

    clock = Clock()
    clock.t = time.perf_counter()
    h = model.fit(X, T, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.Adam(lr=1e-3),
                  epochs=epochs, batch_size=batch, rng=seed, verbose=0, callbacks=[clock])
    return times, h.loss[-1]


def bench_torch(X, T, hidden, epochs, batch, seed):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    d, k = X.shape[1], int(T.max()) + 1
    net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                              torch.nn.ReLU(), torch.nn.Linear(hidden, k))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T.astype(np.int64))
    times, last = [], None
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(Xt))
        total = 0.0
        for s in range(0, len(Xt), batch):
            idx = perm[s:s + batch]
            xb, tb = Xt[idx], Tt[idx]
            opt.zero_grad()
            loss = lossf(net(xb), tb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        times.append(time.perf_counter() - t0)
        last = total / len(Xt)
    return times, last


def bench_sklearn(X, T, hidden, epochs, batch, seed):
    import warnings

    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(hidden, hidden), solver="adam", learning_rate_init=1e-3,
                        batch_size=batch, alpha=0.0, random_state=seed)
    classes = np.unique(T)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            t0 = time.perf_counter()
            clf.partial_fit(X, T, classes=classes)  # one shuffled pass over the data
            times.append(time.perf_counter() - t0)
    return times, clf.loss_


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="+", choices=["ratenet", "torch", "sklearn"],
                    default=["ratenet", "torch", "sklearn"])
    args = ap.parse_args(argv)
    X, T = make_data(args.n, seed=args.seed)
    runners = {"ratenet": bench_ratenet, "torch": bench_torch, "sklearn": bench_sklearn}
    print(f"# n={args.n} batch={args.batch} epochs={args.epochs} threads=1 numpy {np.__version__}")
    print(f"{'network':<18} {'library':<9} {'s/epoch (each)':<28} {'mean s/epoch':>12} {'last loss':>10}")
    for h in args.hidden:
        for name in args.only:
            try:
                times, loss = runners[name](X, T, h, args.epochs, args.batch, args.seed)
            except ImportError:
                print(f"{f'784-{h}-{h}-10':<18} {name:<9} not installed")
                continue
            each = " ".join(f"{t:.2f}" for t in times)
            print(f"{f'784-{h}-{h}-10':<18} {name:<9} {each:<28} {np.mean(times):>12.2f} {loss:>10.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
