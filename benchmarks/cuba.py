"""CUBA benchmark (Vogels & Abbott 2005; Brette et al. 2007): neurosim vs Brian2.

4,000 LIF neurons (3,200 excitatory, 800 inhibitory), tau_m = 20 ms, tau_e = 5 ms,
tau_i = 10 ms, V_t = -50 mV, V_r = -60 mV, E_l = -49 mV, tau_ref = 5 ms,
connection probability 0.02, w_e = 60*0.27/10 mV, w_i = -20*4.5/10 mV, initial V
uniform in [V_r, V_t], dt = 0.1 ms, T = 1 s. Also 40,000 neurons with the same
in-degree (80 inputs per neuron). Brian2 runs the model of its own CUBA example
with the numpy and cython code-generation targets when it is importable.

Run single-threaded, e.g.::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 flock /tmp/bench.lock \\
        /work/refenv/bin/python benchmarks/cuba.py

Wall times are for ``run(1 s)`` only (network construction and Brian2's code
generation/compilation are printed separately as "build").
"""
import argparse
import time

import numpy as np

from neurosim.network.examples import cuba

IN_DEGREE = 80  # 0.02 * 4000


def run_neurosim(n, seed):
    t0 = time.perf_counter()
    net, spikes = cuba(n, rng=seed, in_degree=IN_DEGREE)
    t1 = time.perf_counter()
    net.run(1.0)
    t2 = time.perf_counter()
    count = spikes.data[0].size
    return dict(build=t1 - t0, wall=t2 - t1, spikes=count, rate=count / n)


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
    t1 = time.perf_counter()
    net.run(1 * b2.second)
    t2 = time.perf_counter()
    return dict(build=t1 - t0, wall=t2 - t1, spikes=int(mon.num_spikes), rate=mon.num_spikes / n, network=same)


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
    t1 = time.perf_counter()
    net.run(1.0)
    t2 = time.perf_counter()
    count = spikes.data[0].size
    return dict(build=t1 - t0, wall=t2 - t1, spikes=count, rate=count / n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000], help="network sizes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the timed runs")
    parser.add_argument("--rate-seeds", type=int, default=10, help="seeds for neurosim's rate spread (N = 4000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed neurosim runs per size (best is shown)")
    parser.add_argument("--no-brian", action="store_true", help="skip Brian2")
    args = parser.parse_args()

    try:
        import brian2  # noqa: F401

        targets = [] if args.no_brian else ["numpy", "cython"]
    except ImportError:
        targets = []
    rows = []
    for n in args.sizes:
        runs = [run_neurosim(n, args.seed) for _ in range(args.repeats)]
        best = min(runs, key=lambda r: r["wall"])
        rows.append(("neurosim", n, best))
        for target in targets:
            try:
                rows.append((f"brian2 {target}", n, run_brian(n, args.seed, target)))
                if target == "numpy":
                    rows.append(("neurosim*", n, run_neurosim_on(n, rows[-1][2]["network"])))
            except Exception as err:  # e.g. no compiler for cython: report and go on
                print(f"brian2 {target} failed: {type(err).__name__}: {err}")
    print(f"{'simulator':<16}{'N':>7}{'wall (s)':>10}{'build (s)':>11}{'spikes':>9}{'rate (Hz)':>11}")
    for name, n, r in rows:
        print(f"{name:<16}{n:>7}{r['wall']:>10.3f}{r['build']:>11.2f}{r['spikes']:>9}{r['rate']:>11.3f}")
    if any(name == "neurosim*" for name, _, _ in rows):
        print("neurosim*: neurosim on the connectivity and initial voltages Brian2 drew (same network)")
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
