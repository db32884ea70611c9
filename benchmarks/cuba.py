"""CUBA benchmark (Vogels & Abbott 2005; Brette et al. 2007): neurosim vs Brian2.

4,000 LIF neurons (3,200 excitatory, 800 inhibitory), tau_m = 20 ms, tau_e = 5 ms,
tau_i = 10 ms, V_t = -50 mV, V_r = -60 mV, E_l = -49 mV, tau_ref = 5 ms,
connection probability 0.02, w_e = 60*0.27/10 mV, w_i = -20*4.5/10 mV, initial V
uniform in [V_r, V_t], dt = 0.1 ms, T = 1 s. Also 40,000 neurons with the same
in-degree (80 inputs per neuron). Brian2 runs the model of its own CUBA example
with the numpy and cython code-generation targets when it is importable.

Run single-threaded, from the repository root, with a Python that has Brian2::

    PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/cuba.py

Wall times are for ``run(1 s)`` only (network construction, neurosim's runtime
build and Brian2's code generation/compilation and ``run(0 ms)`` are printed
separately as "build"). neurosim and
Brian2's cython target run alternately, ``--repeats`` times each, so machine
load hits both alike; the table shows the best and the median of each, and the
ratio of the medians. A last table splits neurosim's step into its phases
(timed by wrapping the phase functions, so the sum exceeds the plain run by the
wrappers' overhead).
"""
import argparse
import time
from contextlib import contextmanager

import numpy as np

from neurosim.network.examples import cuba

IN_DEGREE = 80  # 0.02 * 4000


def run_neurosim(n, seed):
    t0 = time.perf_counter()
    net, spikes = cuba(n, rng=seed, in_degree=IN_DEGREE)
    # the runtime (state arrays, propagation tables): the counterpart of Brian2's run(0 ms) before its timed run
    net.build()
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(1.0)
    t2, c2 = time.perf_counter(), time.process_time()
    count = spikes.data[0].size
    return dict(build=t1 - t0, wall=t2 - t1, cpu=c2 - c1, spikes=count, rate=count / n)


def run_brian(n, seed, target):
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = 0.1 * b2.ms
    b2.seed(seed)
    ms, mV = b2.ms, b2.mV
    namespace = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
                     we=(60 * 0.27 / 10) * mV, wi=(-20 * 4.5 / 10) * mV)
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    t0 = time.perf_counter()
    P = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="exact",
                       namespace=namespace)
    P.v = "Vr + rand() * (Vt - Vr)"
    n_exc = int(0.8 * n)
    p = IN_DEGREE / n
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=namespace)
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=namespace)
    Ce.connect(f"i<{n_exc}", p=p)
    Ci.connect(f"i>={n_exc}", p=p)
    mon = b2.SpikeMonitor(P)
    # the realized network, to run neurosim on exactly the same connectivity and initial voltages
    same = dict(v0=np.array(P.v[:]), exc=(np.array(Ce.i[:]), np.array(Ce.j[:])), inh=(np.array(Ci.i[:]), np.array(Ci.j[:])))
    net = b2.Network(P, Ce, Ci, mon)
    net.run(0 * ms)  # code generation and compilation, so the timed run measures simulation
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(1 * b2.second)
    t2, c2 = time.perf_counter(), time.process_time()
    return dict(build=t1 - t0, wall=t2 - t1, cpu=c2 - c1, spikes=int(mon.num_spikes), rate=mon.num_spikes / n, network=same)


def run_neurosim_on(n, network):
    """neurosim on a network realized by Brian2 (pre i -> post j; voltages in volts)."""
    import scipy.sparse as sp

    from neurosim import LIFUnits, Network, PSCFilter, synaptic_weight
    from neurosim.network.examples import CUBA as c

    t0 = time.perf_counter()
    units = LIFUnits(C=1.0, g_L=1.0 / c["tau_m"], V_L=c["E_l"], V_th=c["V_t"], V_reset=c["V_r"], tau_ref=c["tau_ref"])
    net = Network(dt=1e-4)
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
    net, _ = cuba(n, rng=seed, in_degree=IN_DEGREE)
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
    args = parser.parse_args()

    try:
        import brian2  # noqa: F401

        targets = [] if args.no_brian else (["numpy"] if args.numpy else []) + ["cython"]
    except ImportError:
        targets = []
        print("Brian2 is not importable: neurosim only (pip install brian2 for the comparison)")
    rows = []
    for n in args.sizes:
        runs = {"neurosim": []}
        for _ in range(args.repeats):
            runs["neurosim"].append(run_neurosim(n, args.seed))
            for target in targets:
                try:
                    runs.setdefault(f"brian2 {target}", []).append(run_brian(n, args.seed, target))
                except Exception as err:  # e.g. no compiler for cython: report and go on
                    print(f"brian2 {target} failed: {type(err).__name__}: {err}")
        for name, rs in runs.items():
            if rs:
                rows.append((name, n, rs))
        if "brian2 numpy" in runs and runs["brian2 numpy"]:
            rows.append(("neurosim*", n, [run_neurosim_on(n, runs["brian2 numpy"][0]["network"])]))
    print(f"{'simulator':<16}{'N':>7}{'wall best':>10}{'wall median':>12}{'CPU median':>11}{'build (s)':>10}"
          f"{'spikes':>9}{'rate (Hz)':>10}")
    medians = {}
    for name, n, rs in rows:
        walls = [r["wall"] for r in rs]
        medians[name, n] = (float(np.median(walls)), float(np.median([r["cpu"] for r in rs])))
        r = rs[0]
        print(f"{name:<16}{n:>7}{min(walls):>10.3f}{medians[name, n][0]:>12.3f}{medians[name, n][1]:>11.3f}"
              f"{r['build']:>10.2f}{r['spikes']:>9}{r['rate']:>10.3f}")
    for n in args.sizes:
        if ("brian2 cython", n) in medians:
            wall, cpu = (medians["brian2 cython", n][i] / medians["neurosim", n][i] for i in (0, 1))
            print(f"N={n}: brian2 cython / neurosim = {wall:.2f}x wall, {cpu:.2f}x CPU time (medians; > 1: neurosim "
                  "faster)")
    if any(name == "neurosim*" for name, _, _ in rows):
        print("neurosim*: neurosim on the connectivity and initial voltages Brian2 drew (same network)")
    print("\nneurosim per phase (1 s run, wrapped):")
    for n in args.sizes:
        wall, totals = profile_neurosim(n, args.seed)
        print(f"  N={n}: run {wall:.3f} s")
        for label, t in totals.items():
            print(f"    {label:<42}{t:8.3f} s {100 * t / wall:5.1f} %")
        rest = wall - sum(totals.values())
        print(f"    {'loop, sources, bookkeeping (rest)':<42}{rest:8.3f} s {100 * rest / wall:5.1f} %")
    if args.rate_seeds:
        rates = [run_neurosim(4000, s)["rate"] for s in range(args.rate_seeds)]
        print(f"neurosim N=4000 rate over seeds 0..{args.rate_seeds - 1}: median {np.median(rates):.2f} Hz, "
              f"range {min(rates):.2f}-{max(rates):.2f} Hz")
        if targets:
            target = targets[-1]  # the fastest one
            rates = [run_brian(4000, s, target)["rate"] for s in range(args.rate_seeds)]
            print(f"brian2 {target} N=4000 rate over seeds 0..{args.rate_seeds - 1}: median {np.median(rates):.2f} Hz, "
                  f"range {min(rates):.2f}-{max(rates):.2f} Hz")


if __name__ == "__main__":
    main()
