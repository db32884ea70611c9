"""Spiking inference speed: classify the 360 digits test samples with a converted network.

A 64-128-10 soft-LIF network (tau_m = 0.02 s, tau_ref = 0.002 s, sigma = 0.02,
amplitude 1/63) trained on digits (Adam 1e-3, batch 32, 60 epochs; scikit-learn
needed, otherwise random weights and random inputs of the same shapes), converted
with :func:`ratenet.to_spiking` (tau_s = 5 ms, dt = 1 ms), presents all 360
samples for T = 0.2 s in one batched neurosim network (the samples are the
batch: 360 × 128 = 46,080 LIF neurons, 200 steps). Prints the best of
``--repeat`` wall times, samples per second, neuron-updates per second and the
accuracy.

When snnTorch is installed, the same weights also run as snnTorch ``Leaky``
neurons at the same dt (the usual snnTorch recipe: ``mem = beta mem + (1 − beta) J``
with beta = exp(−dt/tau_m), threshold 1, reset to zero, spikes at step ends,
no refractory period; the read-out is the last Dense on the spike counts of the
window), timed the same way, side by side in this process.

Run single-threaded, alone on the machine:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/spiking_inference.py
"""
import argparse
import time

import numpy as np

import ratenet
from neurosim.synapses import PSCFilter
from ratenet.spiking.activations import SoftLIFRate
from ratenet.optimizers import Adam
from ratenet.training import fit


def trained_model(seed=0, epochs=60, hidden=1):
    rng = np.random.default_rng(seed)
    layers = [ratenet.Dense(64, 128, rng=rng), SoftLIFRate(0.02, 0.002, 1 / 63, 0.02)]
    if hidden == 2:  # 64-128-64-10: the hidden layers joined by placement="exact" connections
        layers += [ratenet.Dense(128, 64, rng=rng), SoftLIFRate(0.02, 0.002, 1 / 63, 0.02)]
    model = ratenet.Sequential(layers + [ratenet.Dense(layers[-2].W.shape[0], 10, rng=rng), ratenet.Softmax()])
    try:
        from ratenet.data import load_digits_split
        Xtr, Xte, Ttr, Tte = load_digits_split()
    except ImportError:
        print("scikit-learn not installed: random weights and inputs (timing only)")
        return model, rng.uniform(0, 1, (360, 64)), None
    fit(model, Xtr, Ttr, ratenet.CategoricalCrossEntropy(), Adam(lr=1e-3), epochs=epochs, batch_size=32,
        rng=seed, verbose=0)
    return model, Xte, Tte


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=float, default=0.2)
    p.add_argument("--dt", type=float, default=1e-3)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--hidden", type=int, default=1, choices=(1, 2), help="hidden layers (2: 64-128-64-10)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--numpy", action="store_true",
                   help="also time the numpy backend (NEUROSIM_BACKEND=numpy) and print the ratio")
    args = p.parse_args(argv)

    model, X, labels = trained_model(epochs=args.epochs, hidden=args.hidden)
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=args.dt)
    snn.predict(X[:10], T=args.T)                       # warm-up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        Y = snn.predict(X, T=args.T)
        times.append(time.perf_counter() - start)
    best = min(times)
    n, steps = X.shape[0], int(round(args.T / args.dt))
    neurons = n * sum(l.n_out for l in snn.layers)
    print(f"{snn}: {n} samples × T = {args.T} s, dt = {args.dt} s ({steps} steps, {neurons:,} LIF neurons)")
    print(f"best of {args.repeat}: {best:.3f} s  ->  {n / best:,.0f} samples/s, "
          f"{neurons * steps / best / 1e6:.1f} M neuron-updates/s (median {np.median(times):.3f} s)")
    if args.numpy:
        import os
        os.environ["NEUROSIM_BACKEND"] = "numpy"  # "auto" then means numpy (neurosim.network.compiled)
        try:
            snn.predict(X[:10], T=args.T)
            t_np = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                Y_np = snn.predict(X, T=args.T)
                t_np.append(time.perf_counter() - start)
        finally:
            del os.environ["NEUROSIM_BACKEND"]
        bn = min(t_np)
        print(f"numpy backend: best {bn:.3f} s -> {n / bn:,.0f} samples/s; backend 'auto' is {bn / best:.2f}x its "
              f"speed (read-outs differ by {np.abs(Y - Y_np).max():.1e})")
    if labels is not None:
        print(f"spiking accuracy {100 * np.mean(Y.argmax(1) == labels):.2f} %, "
              f"rate accuracy {100 * np.mean(model.predict(X).argmax(1) == labels):.2f} %")
    try:
        import torch
        import snntorch
    except ImportError:
        print("snnTorch not installed: no comparison (pip install snntorch)")
        return
    torch.set_num_threads(1)
    run = snntorch_leaky(snn, X, args.T, args.dt, torch, snntorch)
    run()
    t_torch = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        Yt = run()
        t_torch.append(time.perf_counter() - start)
    bt = min(t_torch)
    print(f"snnTorch {snntorch.__version__} Leaky, same weights and dt: best {bt:.3f} s -> {n / bt:,.0f} samples/s; "
          f"neurosim/ratenet is {bt / best:.2f}x its speed"
          + (f"; snnTorch accuracy {100 * np.mean(Yt.argmax(1) == labels):.2f} %" if labels is not None else ""))


def snntorch_leaky(snn, X, T, dt, torch, snntorch):
    """A function running the converted model's weights as snnTorch Leaky layers; returns the read-out."""
    steps = int(round(T / dt))
    n_avg = int(round(snn.default_t_average(T) / dt))
    layers = snn.layers
    beta = [float(np.exp(-dt / l.neuron.tau_m)) for l in layers]
    lifs = [snntorch.Leaky(beta=b, threshold=1.0, reset_mechanism="zero") for b in beta]
    # deeper layers without a synapse: a spike of charge W·amplitude moves v by W·amplitude/tau_m
    Ws = [torch.tensor(l.W.T * prev.amplitude / l.neuron.tau_m) for prev, l in zip(layers, layers[1:])]
    bs = [torch.tensor((l.b + 1.0) * (1 - b)) for l, b in zip(layers[1:], beta[1:])]
    J0 = torch.tensor((X @ layers[0].W.T + layers[0].b + 1.0) * (1 - beta[0]))
    W_out = torch.tensor(snn.readout[0].T * layers[-1].amplitude / (n_avg * dt))
    b_out = torch.tensor(snn.readout[1])

    def run():
        with torch.no_grad():
            mems = [lif.init_leaky() for lif in lifs]
            count = torch.zeros(J0.shape[0], layers[-1].n_out, dtype=torch.float64)
            for k in range(steps):
                spk, mems[0] = lifs[0](J0, mems[0])
                for i in range(1, len(lifs)):
                    spk, mems[i] = lifs[i](spk @ Ws[i - 1] + bs[i - 1], mems[i])
                if k >= steps - n_avg:
                    count += spk
            return (count @ W_out + b_out).numpy()
    return run


if __name__ == "__main__":
    main()
