"""BLAS threads and ratenet's training speed (issue 24 item 14).

``--part fit`` (default): ``fit`` on scikit-learn's digits (64-128-10, ReLU, or
``--hidden`` units; Adam 1e-3, batch 32, ``--epochs`` epochs, validation on
the test split after each) in fresh subprocesses, with
OPENBLAS_NUM_THREADS (and OMP_/MKL_) unset, and set to 1; each alone and
again under a competing busy loop (one Python process spinning, as another
job on a shared host). The cases alternate, ``--repeat`` times; printed:
the median wall and CPU time per case and the ratios unset / 1.

``--part matmul``: in one process, with ``threadpoolctl`` switching OpenBLAS
between its default thread count and 1, the time of the products a
dense layer does per batch (X W^T, the gradient products) for batch 32 and
widths 16 ... 2048, alternating; prints the threaded / single ratio per size
(> 1: threads are slower). This is what the size threshold of
``ratenet.threads`` is chosen from.

    PYTHONPATH=. python benchmarks/blas_threads.py [--part fit|matmul] [--repeat 5] [--epochs 20] [--hidden 128]

The machine this ran on has 2 cores shared with other jobs: figures move with
their load, so compare the ratios of one run, and repeat.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def child(epochs, hidden):
    import resource

    import numpy as np

    import ratenet
    from ratenet.data import load_digits_split
    from ratenet.optimizers import Adam

    Xtr, Xte, ytr, yte = load_digits_split()
    rng = np.random.default_rng(0)
    model = ratenet.Sequential([ratenet.Dense(64, hidden, rng=rng), ratenet.ReLU(),
                                ratenet.Dense(hidden, 10, rng=rng), ratenet.Softmax()])
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    model.fit(Xtr, ytr, loss=ratenet.CategoricalCrossEntropy(), optimizer=Adam(lr=1e-3), epochs=epochs,
              batch_size=32, rng=0, verbose=0, validation_data=(Xte, yte))
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall": wall, "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime}))


def run_case(threads, busy, epochs, hidden):
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    if threads is not None:
        env.update({k: str(threads) for k in VARS})
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--epochs", str(epochs),
                              "--hidden", str(hidden)],
                             env=env, capture_output=True, text=True)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_fit(args):
    cases = [(None, False), (1, False), (None, True), (1, True)]
    results = {c: [] for c in cases}
    for _ in range(args.repeat):
        for c in cases:
            results[c].append(run_case(c[0], c[1], args.epochs, args.hidden))
    print(f"fit on digits, 64-{args.hidden}-10 ReLU, batch 32, {args.epochs} epochs (validation on the test "
          f"split each epoch); median of {args.repeat} "
          f"(load average before: {os.getloadavg()[0]:.1f})")
    print("| BLAS threads | competing busy loop | wall (s) | CPU (s) |")
    print("|---|---|---|---|")
    med = {}
    for (threads, busy), rows in results.items():
        med[threads, busy] = (statistics.median(r["wall"] for r in rows), statistics.median(r["cpu"] for r in rows))
        print(f"| {'unset' if threads is None else threads} | {'yes' if busy else 'no'} | "
              f"{med[threads, busy][0]:.2f} | {med[threads, busy][1]:.2f} |")
    for busy in (False, True):
        w = med[None, busy][0] / med[1, busy][0]
        c = med[None, busy][1] / med[1, busy][1]
        print(f"{'with' if busy else 'without'} a busy loop: unset / 1 thread = {w:.2f}x wall, {c:.2f}x CPU")
    per_run = [a["wall"] / b["wall"] for a, b in zip(results[None, True], results[1, True])]
    print("busy, unset / 1 per repetition: " + ", ".join(f"{r:.2f}" for r in per_run))


def part_matmul(args):
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    default = max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
    print(f"OpenBLAS default threads: {default}; batch 32; product times in microseconds, best of "
          f"{args.repeat} blocks alternating threaded and 1 thread; load average {os.getloadavg()[0]:.1f}")
    print("| layer (in x out) | X W^T threaded | 1 thread | threaded / 1 | X^T G (weight grad) threaded / 1 |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in (16, 64, 128, 256, 512, 1024, 2048):
        X = rng.standard_normal((32, n), dtype=np.float32)
        W = rng.standard_normal((n, n), dtype=np.float32)
        G = rng.standard_normal((32, n), dtype=np.float32)
        reps = max(3, int(2e7 / (32 * n * n)))
        best = {}
        for _ in range(args.repeat):
            for threads in (default, 1):
                with threadpool_limits(threads, user_api="blas"):
                    for name, fn in (("fwd", lambda: X @ W.T), ("grad", lambda: G.T @ X)):
                        fn()
                        t = time.perf_counter()
                        for _ in range(reps):
                            fn()
                        dt = (time.perf_counter() - t) / reps
                        key = (threads, name)
                        best[key] = min(best.get(key, np.inf), dt)
        print(f"| {n} x {n} | {1e6 * best[default, 'fwd']:.1f} | {1e6 * best[1, 'fwd']:.1f} | "
              f"{best[default, 'fwd'] / best[1, 'fwd']:.2f} | {best[default, 'grad'] / best[1, 'grad']:.2f} |",
              flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("fit", "matmul"), default="fit")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.epochs, args.hidden)
    (part_fit if args.part == "fit" else part_matmul)(args)


if __name__ == "__main__":
    main()
