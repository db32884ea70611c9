"""CUBA benchmark (Vogels & Abbott 2005; Brette et al. 2007): neurosim vs Brian2.

4,000 LIF neurons (3,200 excitatory, 800 inhibitory), tau_m = 20 ms, tau_e = 5 ms,
tau_i = 10 ms, V_t = -50 mV, V_r = -60 mV, E_l = -49 mV, tau_ref = 5 ms,
connection probability 0.02, w_e = 60*0.27/10 mV, w_i = -20*4.5/10 mV, initial V
uniform in [V_r, V_t], dt = 0.1 ms, T = 1 s. Also 40,000 neurons with the same
in-degree (80 inputs per neuron). Brian2 runs the model of its own CUBA example
with the numpy and cython code-generation targets and its C++ standalone device
(``cpp_standalone``: needs a C++ compiler) when it is importable.

Simulators: neurosim on its numpy and numba backends (``Network(backend=...)``),
Brian2, and "fused numba": a numba loop written here, one pass over the neurons
per step and one CSR row per spike, spikes on the grid (the practical floor of
one core). The numba backend's compile cost is reported apart: first call (an
empty on-disk cache, in a subprocess) and cached call (a fresh process that
loads the cache).

Run single-threaded, from the repository root, with a Python that has Brian2::

    PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/cuba.py

Wall times are for ``run(1 s)`` only (network construction, neurosim's runtime
build and Brian2's code generation/compilation and ``run(0 ms)`` are printed
separately as "build"). The simulators
run alternately, ``--repeats`` times each, so machine load hits all alike (Brian2's
standalone binary is compiled once per size and run again in each repeat); the
table shows the best and the median wall time of each and the median CPU time of
the process, and the ratios of the median and of the best wall times (on a
loaded machine the best is the least disturbed). A last table splits neurosim's step into its phases
(timed by wrapping the phase functions, so the sum exceeds the plain run by the
wrappers' overhead).
"""
import argparse
import os
import time
from contextlib import contextmanager

import numpy as np

from neurosim.network.examples import cuba

IN_DEGREE = 80  # 0.02 * 4000


def run_neurosim(n, seed, backend="numpy"):
    t0 = time.perf_counter()
    net, spikes = cuba(n, rng=seed, in_degree=IN_DEGREE, backend=backend)
    # the runtime (state arrays, propagation tables): the counterpart of Brian2's run(0 ms) before its timed run
    net.build()
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(1.0)
    t2, c2 = time.perf_counter(), time.process_time()
    count = spikes.data[0].size
    assert net.backend == backend, (net.backend, backend)
    return dict(build=t1 - t0, wall=t2 - t1, cpu=c2 - c1, spikes=count, rate=count / n)


def compile_times():
    """Seconds to build + run one step of the numba backend: with an empty on-disk cache, then with it filled."""
    import os
    import subprocess
    import sys
    import tempfile

    code = ("import time; t = time.perf_counter(); from neurosim.network.examples import cuba; "
            "net, _ = cuba(400, rng=0, backend='numba'); net.run(1e-4); "
            "print(time.perf_counter() - t)")
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            out.append(float(res.stdout.split()[-1]))
    return out


def fused_loop():
    """The fused numba CUBA loop (compiled once, cached on disk)."""
    from numba import njit

    @njit(cache=True)
    def loop(steps, v, ge, gi, last, exc, indptr, indices, a, be, bi, de, di, El, Vt, Vr, we, wi, ref_steps):
        n = v.size
        spiked = np.empty(n, dtype=np.int64)
        total = 0
        for k in range(steps):
            count = 0
            for i in range(n):  # exact step of Brian2's CUBA equations, v held while refractory
                if k - last[i] >= ref_steps:
                    v[i] = El + (v[i] - El) * a + ge[i] * be + gi[i] * bi
                ge[i] *= de
                gi[i] *= di
                if v[i] > Vt and k - last[i] >= ref_steps:
                    v[i] = Vr
                    last[i] = k
                    spiked[count] = i
                    count += 1
            for s in range(count):  # one CSR row per spike
                j = spiked[s]
                w = we if exc[j] else wi
                g = ge if exc[j] else gi
                for q in range(indptr[j], indptr[j + 1]):
                    g[indices[q]] += w
            total += count
        return total

    return loop


def run_fused(n, seed):
    """CUBA as one fused numba loop on the connectivity and initial voltages neurosim's cuba() draws."""
    from neurosim.network.examples import CUBA as c

    t0 = time.perf_counter()
    net, _ = cuba(n, rng=seed, in_degree=IN_DEGREE)
    pop = net.populations[0]
    W = sum(conn.weights for conn in net.connections).T.tocsr()  # pre-major: row j = targets of neuron j
    n_exc = int(round(c["exc_fraction"] * n))
    dt, taum, taue, taui = 1e-4, c["tau_m"], c["tau_e"], c["tau_i"]
    a, de, di = np.exp(-dt / taum), np.exp(-dt / taue), np.exp(-dt / taui)
    be, bi = taue / (taue - taum) * (de - a), taui / (taui - taum) * (di - a)
    v = np.array(pop.v0, dtype=float)
    ge, gi = np.zeros(n), np.zeros(n)
    last = np.full(n, -10**9, dtype=np.int64)
    exc = np.arange(n) < n_exc
    args = (v, ge, gi, last, exc, W.indptr.astype(np.int64), W.indices.astype(np.int64), a, be, bi, de, di, c["E_l"],
            c["V_t"], c["V_r"], c["w_e"], c["w_i"], int(round(c["tau_ref"] / dt)))
    loop = fused_loop()
    loop(0, *args)  # compile (or load from the cache)
    t1, c1 = time.perf_counter(), time.process_time()
    count = loop(10000, *args)
    t2, c2 = time.perf_counter(), time.process_time()
    return dict(build=t1 - t0, wall=t2 - t1, cpu=c2 - c1, spikes=count, rate=count / n)


def brian_cuba(b2, n):
    """Brian2's CUBA example (the same model for every device): the group, its two synapse sets, a spike monitor."""
    ms, mV = b2.ms, b2.mV
    namespace = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
                     we=(60 * 0.27 / 10) * mV, wi=(-20 * 4.5 / 10) * mV)
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    P = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="exact",
                       namespace=namespace)
    P.v = "Vr + rand() * (Vt - Vr)"
    n_exc, p = int(0.8 * n), IN_DEGREE / n
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=namespace)
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=namespace)
    Ce.connect(f"i<{n_exc}", p=p)
    Ci.connect(f"i>={n_exc}", p=p)
    return P, Ce, Ci, b2.SpikeMonitor(P)


def run_brian(n, seed, target):
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = 0.1 * b2.ms
    b2.seed(seed)
    ms = b2.ms
    t0 = time.perf_counter()
    P, Ce, Ci, mon = brian_cuba(b2, n)
    # the realized network, to run neurosim on exactly the same connectivity and initial voltages
    same = dict(v0=np.array(P.v[:]), exc=(np.array(Ce.i[:]), np.array(Ce.j[:])), inh=(np.array(Ci.i[:]), np.array(Ci.j[:])))
    net = b2.Network(P, Ce, Ci, mon)
    net.run(0 * ms)  # code generation and compilation, so the timed run measures simulation
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(1 * b2.second)
    t2, c2 = time.perf_counter(), time.process_time()
    return dict(build=t1 - t0, wall=t2 - t1, cpu=c2 - c1, spikes=int(mon.num_spikes), rate=mon.num_spikes / n, network=same)


class Standalone:
    """Brian2's C++ standalone device, built once per network: ``build`` = code generation + C++ compilation
    (+ the first run, which gives the spike count); each :meth:`run` starts the compiled binary again and
    returns its simulation loop's time (``last_run_info.txt``, as ``device._last_run_time``) and the binary's
    whole CPU time (set-up, synapse creation and result writing included: an upper bound of the loop's CPU)."""

    def __init__(self, n, seed):
        import shutil
        import tempfile

        import brian2 as b2

        self.directory = tempfile.mkdtemp(prefix="cuba_standalone_")
        ms = b2.ms
        b2.set_device("cpp_standalone", directory=self.directory, build_on_run=False)
        try:
            b2.device.reinit()
            b2.set_device("cpp_standalone", directory=self.directory, build_on_run=False)
            b2.start_scope()
            b2.prefs.devices.cpp_standalone.openmp_threads = 0  # one thread
            b2.defaultclock.dt = 0.1 * ms
            b2.seed(seed)
            t0 = time.perf_counter()
            P, Ce, Ci, mon = brian_cuba(b2, n)
            net = b2.Network(P, Ce, Ci, mon)
            net.run(1 * b2.second)
            b2.device.build(directory=self.directory, compile=True, run=False, with_output=False)
            self.build = time.perf_counter() - t0
            b2.device.run(directory=self.directory, with_output=False)
            self.spikes = int(mon.num_spikes)
            self.results_dir = b2.device.results_dir
            cmd = b2.prefs.devices.cpp_standalone.run_cmd_unix
            self.cmd = ([cmd] if isinstance(cmd, str) else list(cmd)) + ["--results_dir", self.results_dir]
            self.env = dict(os.environ, **{k: str(v) for k, v in b2.prefs[
                "devices.cpp_standalone.run_environment_variables"].items()})
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        finally:
            b2.device.reinit()
            b2.set_device("runtime")

    def run(self):
        import resource
        import subprocess

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(self.cmd, cwd=self.directory, env=self.env, stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(os.path.join(self.results_dir, "last_run_info.txt")) as f:
            wall = float(f.read().split()[0])
        process_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return dict(build=self.build, wall=wall, cpu=process_cpu, spikes=self.spikes, rate=self.spikes / self.n)

    def close(self):
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


def run_neurosim_on(n, network):
    """neurosim on a network realized by Brian2 (pre i -> post j; voltages in volts)."""
    import scipy.sparse as sp

    from neurosim import LIFUnits, Network, PSCFilter, synaptic_weight
    from neurosim.network.examples import CUBA as c

    t0 = time.perf_counter()
    units = LIFUnits(C=1.0, g_L=1.0 / c["tau_m"], V_L=c["E_l"], V_th=c["V_t"], V_reset=c["V_r"], tau_ref=c["tau_ref"])
    net = Network(dt=1e-4, backend="numpy")
    pop = net.add_population(units, n, v0=network["v0"])
    for (i, j), tau, jump in ((network["exc"], c["tau_e"], c["w_e"]), (network["inh"], c["tau_i"], c["w_i"])):
        syn = PSCFilter(tau)
        w = np.full(i.size, synaptic_weight(units, syn, voltage=jump))
        net.connect(pop, pop, sp.csr_matrix((w, (j, i)), shape=(n, n)), synapse=syn)
    spikes = net.probe(pop)
    net.build()
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(1.0)
    t2, c2 = time.perf_counter(), time.process_time()
    count = spikes.data[0].size
    return dict(build=t1 - t0, wall=t2 - t1, cpu=c2 - c1, spikes=count, rate=count / n)


@contextmanager
def phase_timers():
    """Accumulate the time spent in each phase of neurosim's step (neuron, synapse, propagation, probes)."""
    from neurosim.network import connections, populations
    from neurosim.neurons.lif import LIFState
    from neurosim.spikes import SpikeRecorder

    totals = {}
    patched = [(populations._Base, "input", "input assembly + n=0 synapse decay"),
               (LIFState, "_step", "neuron step (LIFState._step)"),
               # only n = 0 synapses: v updated straight from the synaptic states, J never formed
               (populations.LIFRuntime, "_step_direct", "input + neuron step + n=0 decay (_step_direct)"),
               (connections.SynapseGroup, "advance_and_deliver", "synapse step (n>0 decay, delayed delivery)"),
               (connections.ConnectionRuntime, "_scatter", "propagation (spiking rows)"),
               (connections.FusedPropagation, "scatter", "propagation (spiking rows)"),
               (SpikeRecorder, "record", "probes (spike recording)")]
    originals = []
    for cls, name, label in patched:
        fn = getattr(cls, name)
        originals.append((cls, name, fn))
        totals.setdefault(label, 0.0)

        def timed(*args, _fn=fn, _label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - t0
        setattr(cls, name, timed)
    try:
        yield totals
    finally:
        for cls, name, fn in originals:
            setattr(cls, name, fn)


def profile_neurosim(n, seed):
    net, _ = cuba(n, rng=seed, in_degree=IN_DEGREE, backend="numpy")
    with phase_timers() as totals:
        net.build()  # binds the (wrapped) propagation method
        t0 = time.perf_counter()
        net.run(1.0)
        wall = time.perf_counter() - t0
    return wall, totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000], help="network sizes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the timed runs")
    parser.add_argument("--rate-seeds", type=int, default=0, help="seeds for the rate spread at N = 4000 (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timed runs per simulator and size")
    parser.add_argument("--numpy", action="store_true", help="also time Brian2's numpy target")
    parser.add_argument("--no-brian", action="store_true", help="skip Brian2")
    parser.add_argument("--brian-targets", nargs="+", default=["cython", "cpp_standalone"],
                        help="Brian2 targets/devices to time (cython, cpp_standalone)")
    parser.add_argument("--no-phases", action="store_true", help="skip the per-phase profile of the numpy backend")
    args = parser.parse_args()

    try:
        import brian2  # noqa: F401

        targets = [] if args.no_brian else (["numpy"] if args.numpy else []) + args.brian_targets
    except ImportError:
        targets = []
        print("Brian2 is not importable: its columns are skipped (pip install brian2 for the comparison)")
    try:
        import numba  # noqa: F401
    except ImportError:
        numba = None
        print("numba is not importable: neurosim numba and the fused loop are skipped (pip install '.[fast]')")
    if numba is not None:
        first, cached = compile_times()
        print(f"neurosim numba backend, build + first step of a small CUBA in a fresh process: {first:.2f} s with an "
              f"empty cache (compilation), {cached:.2f} s with the cache filled")
        net, _ = cuba(400, rng=0, backend="numba")  # loads the cached kernels into this process, untimed
        net.run(0.05)
    rows = []
    for n in args.sizes:
        runs = {"neurosim numpy": []}
        standalone = None
        if "cpp_standalone" in targets:  # built once, its binary run in each repeat
            try:
                standalone = Standalone(n, args.seed)
                standalone.n = n
            except Exception as err:  # e.g. no C++ compiler: report and go on
                print(f"brian2 cpp_standalone failed: {type(err).__name__}: {err}")
        for _ in range(args.repeats):
            if standalone is not None:
                runs.setdefault("brian2 cpp_standalone", []).append(standalone.run())
            runs["neurosim numpy"].append(run_neurosim(n, args.seed))
            if numba is not None:
                runs.setdefault("neurosim numba", []).append(run_neurosim(n, args.seed, "numba"))
                runs.setdefault("fused numba", []).append(run_fused(n, args.seed))
            for target in targets:
                if target == "cpp_standalone":
                    continue
                try:
                    runs.setdefault(f"brian2 {target}", []).append(run_brian(n, args.seed, target))
                except Exception as err:  # e.g. no compiler for cython: report and go on
                    print(f"brian2 {target} failed: {type(err).__name__}: {err}")
        if standalone is not None:
            standalone.close()
        for name, rs in runs.items():
            if rs:
                rows.append((name, n, rs))
        if "brian2 numpy" in runs and runs["brian2 numpy"]:
            rows.append(("neurosim*", n, [run_neurosim_on(n, runs["brian2 numpy"][0]["network"])]))
    print(f"{'simulator':<22}{'N':>7}{'wall best':>10}{'wall median':>12}{'CPU median':>11}{'build (s)':>10}"
          f"{'spikes':>9}{'rate (Hz)':>10}")
    medians = {}
    for name, n, rs in rows:
        walls = [r["wall"] for r in rs]
        medians[name, n] = (float(np.median(walls)), float(np.median([r["cpu"] for r in rs])), min(walls))
        r = rs[0]
        print(f"{name:<22}{n:>7}{min(walls):>10.3f}{medians[name, n][0]:>12.3f}{medians[name, n][1]:>11.3f}"
              f"{r['build']:>10.2f}{r['spikes']:>9}{r['rate']:>10.3f}")
    for n in args.sizes:
        ref = medians.get(("neurosim numba", n), medians.get(("neurosim numpy", n)))
        name = "neurosim numba" if ("neurosim numba", n) in medians else "neurosim numpy"
        for other in ("neurosim numpy", "brian2 cython", "brian2 cpp_standalone", "fused numba"):
            if (other, n) in medians and other != name:
                print(f"N={n}: {name} / {other} = {ref[0] / medians[other, n][0]:.2f}x wall time (medians), "
                      f"{ref[2] / medians[other, n][2]:.2f}x (best walls); < 1: {name} faster")
    if any(name == "brian2 cpp_standalone" for name, _, _ in rows):
        print("brian2 cpp_standalone: built once per size, its binary run once per repeat; wall = the simulation "
              "loop inside the binary (last_run_info.txt, as device._last_run_time); CPU = the binary's whole "
              "process (set-up, synapse creation, result files included); build = code generation + C++ "
              "compilation")
    if any(name == "neurosim*" for name, _, _ in rows):
        print("neurosim*: neurosim on the connectivity and initial voltages Brian2 drew (same network)")
    if args.no_phases:
        return
    print("\nneurosim numpy backend per phase (1 s run, wrapped):")
    for n in args.sizes:
        wall, totals = profile_neurosim(n, args.seed)
        print(f"  N={n}: run {wall:.3f} s")
        for label, t in totals.items():
            print(f"    {label:<42}{t:8.3f} s {100 * t / wall:5.1f} %")
        rest = wall - sum(totals.values())
        print(f"    {'loop, sources, bookkeeping (rest)':<42}{rest:8.3f} s {100 * rest / wall:5.1f} %")
    if args.rate_seeds:
        rates = [run_neurosim(4000, s)["rate"] for s in range(args.rate_seeds)]  # numpy = numba: same spikes
        print(f"neurosim N=4000 rate over seeds 0..{args.rate_seeds - 1}: median {np.median(rates):.2f} Hz, "
              f"range {min(rates):.2f}-{max(rates):.2f} Hz")
        if targets:
            target = targets[-1]  # the fastest one
            rates = [run_brian(4000, s, target)["rate"] for s in range(args.rate_seeds)]
            print(f"brian2 {target} N=4000 rate over seeds 0..{args.rate_seeds - 1}: median {np.median(rates):.2f} Hz, "
                  f"range {min(rates):.2f}-{max(rates):.2f} Hz")


if __name__ == "__main__":
    main()
