"""neurosim vs NEST (through PyNN, 1 and 2 threads) on the CUBA network at two sizes.

Each row runs in its own subprocess (a fresh NEST kernel, its own thread
setting). CUBA keeps 80 inputs per neuron as it grows (p = 80 / n). Reported:
the time to build the network (neurosim: connectivity; NEST: that plus
``neurosim.export.to_pynn``), the time to simulate T seconds, and the mean rate.
NEST rows are skipped with a message when pyNN or nest-simulator is missing
(``pip install '.[pynn]'``).

Usage::

    flock /tmp/bench.lock python benchmarks/scale.py              # 4,000 and 40,000 neurons, T = 0.5 s
    python benchmarks/scale.py --sizes 4000 --T 0.2 --threads 1   # quick
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time


def worker(simulator, n, T, threads, seed):
    """Build and run one CUBA network; print one JSON line."""
    from neurosim.network.examples import cuba

    t = time.perf_counter()
    net, spikes = cuba(n=n, rng=seed)
    if simulator == "neurosim":
        build = time.perf_counter() - t
        t = time.perf_counter()
        net.run(T)
        run = time.perf_counter() - t
        count = spikes.data[0].size
    else:
        from neurosim.export import to_pynn

        exported = to_pynn(net, threads=threads, rng_seed=seed + 1)
        exported.record("cuba")
        build = time.perf_counter() - t
        t = time.perf_counter()
        exported.run(T)
        run = time.perf_counter() - t
        count = sum(len(s) for s in exported.spike_times("cuba"))
    print(json.dumps({"build": build, "run": run, "rate": count / n / T}))


def nest_available():
    return importlib.util.find_spec("pyNN") is not None and importlib.util.find_spec("nest") is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000])
    parser.add_argument("--T", type=float, default=0.5, help="simulated seconds")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="NEST thread counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=3, metavar=("SIM", "N", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        sim, n, threads = args.worker
        worker(sim, int(n), args.T, int(threads), args.seed)
        return
    rows = [("neurosim", 1)]
    if nest_available():
        rows += [("NEST", t) for t in args.threads]
    else:
        print("NEST rows skipped: pyNN and nest-simulator are not installed (pip install '.[pynn]')")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"CUBA (80 inputs/neuron, dt = 0.1 ms), T = {args.T:g} s simulated, seed {args.seed}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (2-thread rows suffer from other load)")
    print(f"{'simulator':<10} {'threads':>7} {'neurons':>8} {'build s':>8} {'run s':>8} {'rate Hz':>8}")
    for n in args.sizes:
        for sim, threads in rows:
            cmd = [sys.executable, __file__, "--worker", sim.lower(), str(n), str(threads),
                   "--T", str(args.T), "--seed", str(args.seed)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode != 0 or not lines:
                print(f"{sim:<10} {threads:>7} {n:>8}  failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(lines[-1])
            print(f"{sim:<10} {threads:>7} {n:>8} {r['build']:>8.2f} {r['run']:>8.2f} {r['rate']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
