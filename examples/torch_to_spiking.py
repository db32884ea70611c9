"""From PyTorch to spiking neurons and NIR: train in torch, run in neurosim and in snnTorch.

1. Train a 64-128-10 network in PyTorch on scikit-learn's 8x8 digits, with the
   project's soft-LIF activation as a torch module (``ratenet.torch.SoftLIF``:
   tau_m = 20 ms, tau_ref = 2 ms, sigma = 0.02, amplitude 1/63).
2. ``ratenet.from_torch``: the same network as a ratenet ``Sequential``.
3. ``ratenet.to_spiking``: LIF neurons with exponential synapses (tau_s = 5 ms,
   dt = 1 ms), all test digits as one batched neurosim run of T = 0.2 s.
4. ``snn.to_nir()``, written with ``nir.write`` and read back with ``nir.read``.
5. The graph run again by neurosim (``neurosim.export.from_nir``, one network
   per digit) and by snnTorch (``snntorch.import_nir.import_from_nir``, Euler at
   0.1 ms, no refractory period).

Writes ``torch_to_spiking.png`` (accuracy of every stage) and ``digits.nir``
into ``--out``. Needs torch, scikit-learn, nir (and snnTorch + nirtorch for
step 5's second consumer):

    pip install '.[torch,nir]' scikit-learn snntorch nirtorch
    python examples/torch_to_spiking.py --out figures/
"""
import argparse
import os
import pathlib
import shutil
import tempfile
import time
import warnings

import numpy as np

import ratenet
from neurosim.io import atomic_write
from neurosim.synapses import PSCFilter
from ratenet.data import load_digits_split

TAU_M, TAU_REF, AMP, SIGMA = 0.02, 0.002, 1 / 63, 0.02


def train_torch(Xtr, ytr, epochs, seed):
    import torch
    from ratenet.torch import SoftLIF

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), SoftLIF(TAU_M, TAU_REF, AMP, SIGMA),
                              torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X, y = torch.tensor(Xtr), torch.tensor(ytr, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=gen).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
    return torch.nn.Sequential(*net, torch.nn.Softmax(dim=1)).eval()


def write_nir(graph, path):
    """nir.write into a temporary file, then an atomic replace (a crash never leaves half a file)."""
    import nir

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmp:
        nir.write(os.path.join(tmp, "graph.nir"), graph)
        with open(os.path.join(tmp, "graph.nir"), "rb") as src, atomic_write(path) as dst:
            shutil.copyfileobj(src, dst)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="torch_to_spiking_figures", help="directory for the figure and the NIR file")
    p.add_argument("--epochs", type=int, default=60, help="PyTorch training epochs")
    p.add_argument("--T", type=float, default=0.2, help="presentation time per digit (s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and batches")
    args = p.parse_args(argv)
    if args.seed < 0 or args.epochs < 1 or args.T <= 0:
        p.error("--seed must be >= 0, --epochs >= 1 and --T > 0")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import nir
    import torch

    torch.set_num_threads(1)
    Xtr, Xte, ytr, yte = load_digits_split()
    acc = {}
    start = time.perf_counter()
    net = train_torch(Xtr, ytr, args.epochs, args.seed)
    with torch.no_grad():
        acc["PyTorch\n(rate, SoftLIF)"] = np.mean(net(torch.tensor(Xte)).argmax(1).numpy() == yte)
    model = ratenet.from_torch(net)                                     # torch -> ratenet
    acc["ratenet\n(from_torch)"] = np.mean(model.predict(Xte).argmax(1) == yte)
    print(f"trained in PyTorch ({time.perf_counter() - start:.1f} s): {model}")

    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)  # ratenet -> spiking
    acc["neurosim\nspiking"] = snn.accuracy(Xte, yte, T=args.T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)                     # NIR has no tau_ref (stated in docs)
        graph = snn.to_nir()                                             # spiking -> NIR
    path = out / "digits.nir"
    write_nir(graph, path)
    graph = nir.read(path)

    from ratenet.spiking.nir import run_neurosim, run_snntorch
    acc["NIR ->\nneurosim"] = np.mean(run_neurosim(graph, Xte, args.T).argmax(1) == yte)
    try:
        acc["NIR ->\nsnnTorch"] = np.mean(run_snntorch(graph, Xte, args.T).argmax(1) == yte)
    except ImportError:
        print("snnTorch/nirtorch not installed: skipping the second NIR consumer")
    for name, a in acc.items():
        print(f"{name.replace(chr(10), ' '):28s} {100 * a:6.2f} %")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    names, vals = list(acc), [100 * v for v in acc.values()]
    bars = ax.bar(names, vals, color=["C0", "C0", "C1", "C2", "C3"][:len(vals)])
    ax.bar_label(bars, fmt="%.1f")
    ax.set(ylim=(max(0, min(vals) - 10), 100), ylabel="test accuracy (%)",
           title=f"digits 64-128-10: PyTorch -> ratenet -> spiking (T = {args.T:g} s) -> NIR")
    fig.tight_layout()
    fig_path = out / "torch_to_spiking.png"
    with atomic_write(fig_path) as f:
        fig.savefig(f, format="png", dpi=120)
    print(f"wrote {fig_path} and {path}")


if __name__ == "__main__":
    main()
