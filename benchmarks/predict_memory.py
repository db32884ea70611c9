"""Memory and batch size of ``SpikingModel.predict`` (issue 24, items 2 and 4).

The model: a 64-128-10 (``--layers``) soft-LIF network (tau_m = 0.02 s, tau_ref = 0.002 s,
amplitude 1/63) trained on scikit-learn's digits for 20 epochs (random weights
and inputs of the same shapes without scikit-learn), converted with
``ratenet.to_spiking`` (tau_s = 5 ms, dt = 1 ms). Inputs are the 360 test
digits, tiled to the number of samples asked for. Every case runs in a fresh
subprocess, so its peak RSS is its own.

``--part memory`` (default): peak RSS (``resource.getrusage``, ru_maxrss) of
``predict`` on ``--samples`` (1,000) samples at T = 2, 10 and 30 s, and of
``run(record=False)``; also the RSS after building the model, before
``predict``. Memory must not grow with T (target: T = 30 s under 300 MB).

``--part batch_size``: CPU time (user + sys of the child, all threads) and wall
time of ``predict`` on 3,600 samples at T = 0.2 s for several ``batch_size``
values and the default, for a 64-128-10 and a 64-128-128-10 network; prints
neurons per batch and the time per sample, to choose
``ratenet.spiking.convert.NEURONS_PER_BATCH``.

    PYTHONPATH=. python benchmarks/predict_memory.py [--part memory|batch_size] [--threads 1]

``--threads N`` sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS
in the children (default: leave the environment as it is). On a shared machine,
compare figures from one run, and repeat (``--repeat``).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def build_model(path, sizes="64-128-10", seed=0, epochs=20):
    """Train (or draw) the model ``sizes`` (e.g. "64-128-10"), save it to ``path``, the test inputs beside it."""
    import numpy as np

    import ratenet
    from ratenet.optimizers import Adam
    from ratenet.spiking.activations import SoftLIFRate

    rng = np.random.default_rng(seed)
    n = [int(v) for v in sizes.split("-")]
    layers = []
    for a, b in zip(n[:-2], n[1:-1]):
        layers += [ratenet.Dense(a, b, rng=rng), SoftLIFRate(0.02, 0.002, 1 / 63, 0.02)]
    model = ratenet.Sequential(layers + [ratenet.Dense(n[-2], n[-1], rng=rng), ratenet.Softmax()])
    try:
        from ratenet.data import load_digits_split
        Xtr, Xte, Ttr, _ = load_digits_split()
        model.fit(Xtr, Ttr, loss=ratenet.CategoricalCrossEntropy(), optimizer=Adam(lr=1e-3), epochs=epochs,
                  batch_size=32, rng=seed, verbose=0)
    except ImportError:
        print("scikit-learn not installed: random weights and inputs")
        Xte = rng.uniform(0, 1, (360, 64))
    model.save(path)
    np.save(path + ".X.npy", Xte)


def child(args):
    """One measured case, in its own process; prints a JSON line."""
    import resource

    import numpy as np

    import ratenet
    from neurosim.synapses import PSCFilter

    model = ratenet.load(args.model)
    X0 = np.load(args.model + ".X.npy")
    X = np.tile(X0, (-(-args.samples // X0.shape[0]), 1))[:args.samples]
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    snn.predict(X[:2], T=0.01)                               # imports and first-call costs
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    kwargs = {} if args.batch_size is None else {"batch_size": args.batch_size}
    if args.method == "run":
        snn.run(X, T=args.T, **kwargs)
    else:
        snn.predict(X, T=args.T, **kwargs)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"rss": r1.ru_maxrss * 1024, "rss_before": before, "wall": wall,
                      "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                      "batch": snn.default_batch_size() if args.batch_size is None else args.batch_size,
                      "neurons_per_sample": sum(l.n_out for l in snn.layers)}))


def run_child(model, T, samples, method="predict", batch_size=None, threads=None):
    env = dict(os.environ)
    if threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--model", model, "--T", repr(T),
           "--samples", str(samples), "--method", method]
    if batch_size is not None:
        cmd += ["--batch-size", str(batch_size)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"case T={T} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_memory(models, args):
    model = models[args.layers[0]]
    print(f"peak RSS of one process: build the model, then predict on {args.samples} samples "
          f"({args.layers[0]}, dt = 1 ms, default batch size)")
    print("| call | T (s) | RSS before the call (MB) | peak RSS (MB) | wall (s) |")
    print("|---|---|---|---|---|")
    for method in ("predict", "run"):
        for T in args.T:
            r = run_child(model, T, args.samples, method, threads=args.threads)
            print(f"| {method} | {T:g} | {r['rss_before'] / 1e6:.0f} | {r['rss'] / 1e6:.0f} | {r['wall']:.1f} |",
                  flush=True)


def part_batch_size(models, args):
    sizes = [16, 32, 64, 128, 256, 512, 1024, args.samples]
    print(f"predict on {args.samples} samples at T = {args.batch_T} s; best of {args.repeat} (CPU time), "
          f"threads={args.threads or 'unset'}")
    print("| model | batch_size | neurons per batch | CPU (s) | wall (s) | CPU per sample (ms) |")
    print("|---|---|---|---|---|---|")
    for (layers, model), size in ((m, s) for m in models.items() for s in sizes + [None]):
        runs = [run_child(model, args.batch_T, args.samples, batch_size=size, threads=args.threads)
                for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["cpu"])
        label = f"default ({best['batch']})" if size is None else str(size)
        print(f"| {layers} | {label} | {best['batch'] * best['neurons_per_sample']:,} | {best['cpu']:.2f} | "
              f"{min(r['wall'] for r in runs):.2f} | {1e3 * best['cpu'] / args.samples:.3f} |", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("memory", "batch_size"), default="memory")
    p.add_argument("--T", type=float, nargs="+", default=[2.0, 10.0, 30.0], help="presentation times (memory)")
    p.add_argument("--batch-T", type=float, default=0.2, help="presentation time (batch_size)")
    p.add_argument("--samples", type=int, default=None, help="default 1000 (memory), 3600 (batch_size)")
    p.add_argument("--layers", nargs="+", default=None,
                   help="models, e.g. 64-128-10 (default: 64-128-10 for memory; also 64-128-128-10 for batch_size)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--method", default="predict", help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        args.T = args.T[0]
        return child(args)
    if args.samples is None:
        args.samples = 1000 if args.part == "memory" else 3600
    if args.layers is None:
        args.layers = ["64-128-10"] if args.part == "memory" else ["64-128-10", "64-128-128-10"]
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for layers in args.layers:
            models[layers] = os.path.join(tmp, f"model-{layers}.npz")
            build_model(models[layers], layers)
        (part_memory if args.part == "memory" else part_batch_size)(models, args)


if __name__ == "__main__":
    main()
