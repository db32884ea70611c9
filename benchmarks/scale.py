"""CUBA at two sizes: neurosim vs NEST (1 and 2 threads) and NEURON (1 and 2 MPI ranks), through PyNN.

The network is neurosim's CUBA example (80 inputs per neuron at any size, dt =
0.1 ms) with every connection delayed by ``--delay`` (default 0.2 ms = 2 dt:
NEURON under MPI needs delays > dt). It is exported once per size with
``neurosim.export.write_pynn_script``; every NEST and NEURON row runs that same
script in its own process (``python net.py --sim nest --threads K`` and
``mpirun -n K python net.py --sim neuron``), so they simulate exactly the same
connectivity and initial voltages as the neurosim row.

Columns: wall = the whole process (start-up, build, run, gather); build =
creating the network (neurosim: drawing connectivity; PyNN: reading the .npz
and ``FromListConnector``); run = simulating T seconds; rate = mean rate (Hz).
The neurosim rate spread over ``--rate-seeds`` seeds tells whether a backend's
rate on seed 0 is within what the model itself varies. One thread per process
(OMP/OPENBLAS = 1); absolute times move with the machine's load, compare ratios.

Usage::

    python benchmarks/scale.py                              # N = 4,000 and 40,000, T = 0.5 s
    python benchmarks/scale.py --sizes 4000 --T 0.2         # quick
    python benchmarks/scale.py --neuron-max-n 4000          # skip NEURON at 40,000 (slow PyNN build)
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])


def network(n, seed, delay):
    """CUBA with all delays set to ``delay`` seconds."""
    from neurosim.network.examples import cuba

    net, spikes = cuba(n=n, rng=seed)
    for conn in net.connections:
        conn.delay = delay
    return net, spikes


def neurosim_worker(n, T, seed, delay):
    """Build and run one CUBA network in neurosim; print one JSON line."""
    t = time.perf_counter()
    net, spikes = network(n, seed, delay)
    build = time.perf_counter() - t
    t = time.perf_counter()
    net.run(T)
    run = time.perf_counter() - t
    print(json.dumps({"build": build, "run": run, "rate": spikes.data[0].size / n / T}))


def run_json(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT)
    wall = time.perf_counter() - t
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return None, wall, (out.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(lines[-1]), wall, None


def run_script(script, sim, k, T, folder):
    """Run the exported script with k threads (NEST) or k MPI ranks (NEURON); (result dict, wall s, error)."""
    import numpy as np

    out_file = os.path.join(folder, f"{sim}{k}.npz")
    cmd = [sys.executable, script, "--sim", sim, "--T", str(T), "--out", out_file]
    if sim == "nest":
        cmd += ["--threads", str(k)]
    elif k > 1:
        cmd = ["mpirun", "-n", str(k)] + cmd
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - t
    if out.returncode != 0 or not os.path.exists(out_file):
        return None, wall, (out.stderr.strip().splitlines() or ["?"])[-1]
    with np.load(out_file, allow_pickle=False) as f:
        n = int(f["sizes"][0])
        count = f["cuba_times"].size
        return {"build": float(f["build_s"]), "run": float(f["run_s"]), "rate": count / n / T}, wall, None


def available(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000])
    parser.add_argument("--T", type=float, default=0.5, help="simulated seconds")
    parser.add_argument("--delay", type=float, default=2e-4, help="delay of every connection (s); NEURON MPI needs > dt")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="NEST thread counts (none: skip NEST)")
    parser.add_argument("--ranks", type=int, nargs="*", default=[1, 2], help="NEURON MPI rank counts (none: skip NEURON)")
    parser.add_argument("--rate-seeds", type=int, default=5, help="neurosim seeds for the rate spread")
    parser.add_argument("--neuron-max-n", type=int, default=None, help="skip NEURON above this many neurons")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=1, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        neurosim_worker(int(args.worker[0]), args.T, args.seed, args.delay)
        return
    sys.path.insert(0, ROOT)
    from neurosim.export import write_pynn_script

    have_nest = available("pyNN", "nest")
    have_neuron = available("pyNN", "neuron", "mpi4py") and shutil.which("mpirun") is not None
    if not have_nest:
        print("NEST rows skipped: pip install '.[pynn]'")
    if not have_neuron:
        print("NEURON rows skipped: pip install '.[mpi]' plus Open MPI and nrnivmodl (docs/scale-out.md)")
    print(f"CUBA (80 inputs/neuron, dt = 0.1 ms, delays {1000 * args.delay:g} ms), T = {args.T:g} s simulated, "
          f"seed {args.seed}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'simulator':<9} {'thr/rk':>6} {'neurons':>8} {'wall s':>7} {'build s':>8} {'run s':>7} {'rate Hz':>8}",
          flush=True)
    summary = []
    for n in args.sizes:
        rows = []
        res, wall, err = run_json([sys.executable, __file__, "--worker", str(n), "--T", str(args.T),
                                   "--seed", str(args.seed), "--delay", str(args.delay)])
        rows.append(("neurosim", 1, res, wall, err))
        _print(rows[-1], n)
        with tempfile.TemporaryDirectory() as folder:
            t = time.perf_counter()
            net, _ = network(n, args.seed, args.delay)
            script, _ = write_pynn_script(net, os.path.join(folder, "cuba.py"), T=args.T)
            export_s = time.perf_counter() - t
            print(f"  (export: neurosim build + write_pynn_script {export_s:.2f} s)", flush=True)
            backends = [("nest", k) for k in args.threads if have_nest]
            if have_neuron and (args.neuron_max_n is None or n <= args.neuron_max_n):
                backends += [("neuron", k) for k in args.ranks]
            elif have_neuron:
                print(f"  NEURON skipped at N = {n} (--neuron-max-n {args.neuron_max_n})")
            for sim, k in backends:
                res, wall, err = run_script(script, sim, k, args.T, folder)
                rows.append(("NEST" if sim == "nest" else "NEURON", k, res, wall, err))
                _print(rows[-1], n)
        rates = []
        for seed in range(args.rate_seeds):
            res, _, err = run_json([sys.executable, __file__, "--worker", str(n), "--T", str(args.T),
                                    "--seed", str(seed), "--delay", str(args.delay)])
            if res:
                rates.append(res["rate"])
        if rates:
            import numpy as np

            r = np.array(rates)
            print(f"  neurosim rate over seeds 0-{args.rate_seeds - 1}: mean {r.mean():.2f} Hz, std {r.std(ddof=1) if r.size > 1 else 0:.2f}, "
                  f"range {r.min():.2f}-{r.max():.2f} Hz", flush=True)
        summary.append((n, rows))
    print("\nratios (same size): run time vs neurosim; 2 vs 1 thread/rank speed-up")
    for n, rows in summary:
        base = {(s, k): r for s, k, r, _, _ in rows if r}
        ns = base.get(("neurosim", 1))
        for s in ("NEST", "NEURON"):
            one, two = base.get((s, 1)), base.get((s, 2))
            if one and ns:
                line = f"  N = {n}: {s} 1 = {one['run'] / ns['run']:.1f}x neurosim's run time"
                if two:
                    line += (f"; 2 vs 1: run {one['run'] / two['run']:.2f}x faster, build "
                             f"{one['build'] / two['build']:.2f}x faster")
                print(line)


def _print(row, n):
    sim, k, res, wall, err = row
    if res is None:
        print(f"{sim:<9} {k:>6} {n:>8}  failed: {err}", flush=True)
        return
    print(f"{sim:<9} {k:>6} {n:>8} {wall:>7.2f} {res['build']:>8.2f} {res['run']:>7.2f} {res['rate']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
