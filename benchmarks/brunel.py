"""Brunel (2000) with delta synapses: neurosim against NEST's own ``brunel_delta_nest.py``.

The NEST side is the published example (nest-simulator, pynest/examples/brunel_delta_nest.py):
iaf_psc_delta neurons, tau_m = 20 ms, threshold 20 mV, reset 0 mV, t_ref = 2 ms, V_m = 0 at
start, NE = 4 order, NI = order, fixed in-degrees CE = 0.1 NE and CI = 0.1 NI, J = 0.1 mV,
inhibition -g J, delay 1.5 ms, and one poisson_generator at eta nu_th CE connected to every neuron
(each gets its own train), dt = 0.1 ms. The only change: every neuron is recorded (the script
records 50), for the statistics. neurosim runs the same network,
``neurosim.network.examples.brunel(order, g, eta)``, in grid mode at dt = 0.1 ms on the numpy
backend (the numba backend does not compile Delta synapses yet).

Reported per simulator, over [t_warm, T]: the mean rate (Hz), the mean CV of the ISIs (neurons with
>= 3 spikes), and the Fano factor (variance / mean) of the population spike count in 5 ms bins; the
simulation wall time of ``Simulate(T)`` / ``net.run(T)`` (one thread: NEST's local_num_threads = 1,
OMP/BLAS threads 1) and the peak resident memory of the process (ru_maxrss). Each simulator runs in
its own subprocess; NEST from the interpreter named by $NEST_PYTHON (default: this one; skipped, with the
command to install it, if nest is not importable there).
Settings: the published one (g = 5, eta = 2) and the slow synchronous-irregular regime
(g = 4.5, eta = 0.9).

Run from the repository root::

    PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/brunel.py [--order 2500] [--T 1.0]

With several ``--seeds`` it also prints the ratios of the seed means with their standard errors
(seeds independent; delta method). The slow SI Fano factor needs long runs: at T = 1 s it varies by
about 24 % from seed to seed. It was decided with ``--order 1000 --T 10 --warm 0.5 --settings slow-SI
--seeds 1,...,26 --jobs 2`` (docs/models.md).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

NEST_PYTHON = os.environ.get("NEST_PYTHON", sys.executable)  # NEST may live in another virtualenv
SETTINGS = {"published": (5.0, 2.0), "slow-SI": (4.5, 0.9)}  # (g, eta)
BIN = 5e-3


def run_nest(order, g, eta, T, seed, out):
    import nest

    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.local_num_threads = 1
    nest.rng_seed = seed
    t0 = time.time()
    dt, delay, epsilon = 0.1, 1.5, 0.1
    NE, NI = 4 * order, order
    CE = int(epsilon * NE)
    CI = int(epsilon * NI)
    tauMem, theta, J = 20.0, 20.0, 0.1
    params = {"C_m": 1.0, "tau_m": tauMem, "t_ref": 2.0, "E_L": 0.0, "V_reset": 0.0, "V_m": 0.0, "V_th": theta}
    p_rate = 1000.0 * eta * theta / (J * CE * tauMem) * CE
    nest.resolution = dt
    ex = nest.Create("iaf_psc_delta", NE, params=params)
    inh = nest.Create("iaf_psc_delta", NI, params=params)
    noise = nest.Create("poisson_generator", params={"rate": p_rate})
    rec = nest.Create("spike_recorder")
    nest.CopyModel("static_synapse", "excitatory", {"weight": J, "delay": delay})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": -g * J, "delay": delay})
    nest.Connect(noise, ex, syn_spec="excitatory")
    nest.Connect(noise, inh, syn_spec="excitatory")
    nest.Connect(ex + inh, rec, syn_spec="excitatory")
    nest.Connect(ex, ex + inh, {"rule": "fixed_indegree", "indegree": CE}, "excitatory")
    nest.Connect(inh, ex + inh, {"rule": "fixed_indegree", "indegree": CI}, "inhibitory")
    t1 = time.time()
    nest.Simulate(T * 1e3)
    t2 = time.time()
    ev = rec.events
    np.savez(out, times=np.asarray(ev["times"]) * 1e-3, senders=np.asarray(ev["senders"]) - 1)
    return dict(build=t1 - t0, sim=t2 - t1)


def run_neurosim(order, g, eta, T, seed, out):
    from neurosim.network.examples import brunel

    t0 = time.time()
    net, spikes = brunel(order=order, g=g, eta=eta, rng=seed, backend="numpy")
    net.build()
    t1 = time.time()
    net.run(T)
    t2 = time.time()
    times, senders = spikes.data
    np.savez(out, times=times, senders=senders)
    return dict(build=t1 - t0, sim=t2 - t1)


def child(which, args):
    res = (run_nest if which == "nest" else run_neurosim)(**args)
    res["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps(res))


def statistics(times, senders, n, t_warm, T):
    """Mean rate (Hz), mean CV of ISIs (neurons with >= 3 spikes) and Fano factor of 5 ms population counts."""
    from neurosim import cv, from_events

    keep = times >= t_warm
    times, senders = times[keep], senders[keep]
    rate = times.size / (n * (T - t_warm))
    cvs = cv(from_events(times, senders, n))
    counts = np.histogram(times, bins=np.arange(t_warm, T + BIN / 2, BIN))[0]
    return dict(rate=rate, cv=float(np.nanmean(cvs)), fano=float(counts.var() / counts.mean()))


def mean_se(x):
    """Mean and its standard error (sample standard deviation / sqrt(n); nan for one value)."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")


def ratio_se(a, b):
    """Ratio mean(a) / mean(b) of two independent samples and its standard error (delta method)."""
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    r = ma / mb
    return r, r * float(np.hypot(sa / ma, sb / mb))


def launch(which, args):
    python = NEST_PYTHON if which == "nest" else sys.executable
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NEUROSIM_BACKEND="numpy")
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.pathsep + env.get(
        "PYTHONPATH", "")
    proc = subprocess.run([python, os.path.abspath(__file__), "--child", which, json.dumps(args)],
                          capture_output=True, text=True, env=env)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        raise RuntimeError(f"{which} run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(line[0][7:])


def nest_available():
    if not os.path.exists(NEST_PYTHON):
        return False
    return subprocess.run([NEST_PYTHON, "-c", "import nest"], capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--order", type=int, default=2500)
    ap.add_argument("--T", type=float, default=1.0, help="simulated time (s)")
    ap.add_argument("--warm", type=float, default=0.1, help="transient left out of the statistics (s)")
    ap.add_argument("--seeds", default="1", help="comma-separated seeds; statistics are averaged over them (a single "
                    "1 s run's Fano factor varies by tens of %% from seed to seed, in NEST as in neurosim)")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (the statistics do not change; the "
                    "times and memory are then measured side by side with other runs: use 1 for those)")
    ap.add_argument("--keep", help="keep each run's spikes as DIR/<setting>-<simulator>-<seed>.npz")
    ap.add_argument("--json", help="also write the per-seed statistics to this JSON file")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], json.loads(a.child[1]))
        return
    if not nest_available():
        print(f"NEST not importable from {NEST_PYTHON}: skipped (install it with "
              "`pip install nest-simulator` in that venv, or set NEST_PYTHON)")
        return
    n = 5 * a.order
    print(f"Brunel 2000, delta synapses, order {a.order} ({n} neurons), T = {a.T} s, dt = 0.1 ms, grid, 1 thread")
    rows = []
    allres = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.settings.split(","):
            g, eta = SETTINGS[name]
            res = {}
            seeds = [int(x) for x in a.seeds.split(",")]
            per_seed = {}
            def one(job, name=name, g=g, eta=eta):
                which, seed = job
                out = os.path.join(a.keep or tmp, f"{name}-{which}-{seed}.npz")
                r = launch(which, dict(order=a.order, g=g, eta=eta, T=a.T, seed=seed, out=out))
                d = np.load(out)
                r.update(statistics(d["times"], d["senders"], n, a.warm, a.T))
                return r

            jobs = [(which, seed) for which in ("nest", "neurosim") for seed in seeds]
            with ThreadPoolExecutor(a.jobs) as pool:  # each job is its own subprocess
                done = list(pool.map(one, jobs))
            for which in ("nest", "neurosim"):
                runs = [r for (w, _), r in zip(jobs, done) if w == which]
                per_seed[which] = runs
                res[which] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
                res[which]["maxrss"] = max(r["maxrss"] for r in runs)
            rows.append((name, res))
            print(f"\n{name}: g = {g}, eta = {eta}; seeds {seeds} (means; per seed: rate / CV / Fano)")
            for which in ("nest", "neurosim"):
                print(f"  {which:9s} " + "  ".join(f"{r['rate']:.3f}/{r['cv']:.4f}/{r['fano']:.1f}"
                                                  for r in per_seed[which]))
            if len(seeds) > 1:
                print("  ratio of the seed means +- standard error (delta method, seeds independent): " + ", ".join(
                    "{} {:.3f} +- {:.3f}".format(k, *ratio_se([r[k] for r in per_seed["neurosim"]],
                                                              [r[k] for r in per_seed["nest"]]))
                    for k in ("rate", "cv", "fano")))
            if a.json:
                allres[name] = dict(g=g, eta=eta, order=a.order, T=a.T, warm=a.warm, seeds=seeds, runs=per_seed)
                with open(a.json, "w") as f:
                    json.dump(allres, f, indent=1)
            print(f"{'':10s} {'rate (Hz)':>10s} {'CV ISI':>8s} {'Fano 5ms':>9s} {'sim (s)':>8s} {'build (s)':>9s} "
                  f"{'peak MiB':>9s}")
            for which in ("nest", "neurosim"):
                r = res[which]
                print(f"{which:10s} {r['rate']:10.3f} {r['cv']:8.4f} {r['fano']:9.3f} {r['sim']:8.2f} "
                      f"{r['build']:9.2f} {r['maxrss'] / 2**20:9.0f}")
            ns, ne = res["neurosim"], res["nest"]
            print(f"{'ratio':10s} {ns['rate'] / ne['rate']:10.3f} {ns['cv'] / ne['cv']:8.3f} "
                  f"{ns['fano'] / ne['fano']:9.3f} {ns['sim'] / ne['sim']:8.2f} {ns['build'] / ne['build']:9.2f} "
                  f"{ns['maxrss'] / ne['maxrss']:9.2f}   (neurosim / NEST)")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
