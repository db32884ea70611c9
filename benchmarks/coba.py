"""COBA benchmark (Brette et al. 2007, benchmark 1; Vogels & Abbott 2005): neurosim vs Brian2.

4,000 LIF neurons (3,200 excitatory, 800 inhibitory) with exponential conductance
synapses: C = 200 pF, g_L = 10 nS (tau_m = 20 ms), E_l = V_r = -60 mV, V_t = -50 mV,
tau_ref = 5 ms, g_e += 6 nS (tau_e = 5 ms, E_e = 0 mV), g_i += 67 nS (tau_i = 10 ms,
E_i = -80 mV), connection probability 0.02, a constant drive of 20 mV (200 pA), initial
V normal(-55 mV, 5 mV), dt = 0.1 ms, T = 1 s.

Brian2 runs the model as its COBA benchmark scripts write it (``ge``, ``gi`` in units of
g_L, ``we = 0.6``, ``wi = 6.7``, ``method="euler"``; also ``"exponential_euler"``) with
the cython code-generation target; neurosim runs ``neurosim.network.examples.coba()``
on both of its backends (numpy, and the compiled numba one when numba is installed; its
machine code is compiled or loaded from the on-disk cache by a warm-up run first). Each simulator draws its
own random network from the same statistics, so the rates are compared as means over
``--seeds`` networks (requirement: within 10 %). One network's rate varies by about
+-10 % between realizations (connectivity and initial voltages), in both simulators;
``--same-network K`` also runs K networks realized by Brian2 in neurosim.

Run single-threaded, from the repository root, with the Brian2 environment::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/coba.py

Wall times are for ``run(1 s)`` only; the two simulators run alternately so machine load
hits both alike, and the ratio is of the medians.
"""
import argparse
import time

import numpy as np

from neurosim.network.examples import coba


# Brian2's COBA model (Brette et al. 2007 benchmark 1, as in Brian2's COBA scripts), shared by both runs
_BRIAN_EQS = """
dv/dt  = (ge*(Erev_exc-v)+gi*(Erev_inh-v)-(v-El) + I)*(1./taum) : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
"""


def _brian_namespace(b2):
    ms, mV = b2.ms, b2.mV
    return dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-60 * mV,
                Erev_exc=0 * mV, Erev_inh=-80 * mV, I=20 * mV, we=0.6, wi=6.7)


def run_neurosim(n, seed, T, backend="numpy"):
    net, spikes = coba(n, rng=seed, backend=backend)
    net.build()
    t1 = time.perf_counter()
    net.run(T)
    wall = time.perf_counter() - t1
    return dict(wall=wall, rate=spikes.data[0].size / n / T)


def run_same_network(n, seed, T, method="euler"):
    """Brian2's realized network (connectivity, initial V) run in both simulators: (Brian2 rate, neurosim rate)."""
    import scipy.sparse as sp

    import neurosim
    from neurosim.network.examples import COBA as c

    brian = run_brian(n, seed, T, method, keep=True)
    net = neurosim.Network(dt=1e-4, backend="numpy")
    units = neurosim.LIFUnits(C=c["C"], g_L=c["g_L"], V_L=c["E_l"], V_th=c["V_t"], V_reset=c["V_r"],
                              tau_ref=c["tau_ref"])
    # Brian2 fires at once where V starts above threshold; neurosim needs v0 below it (a spike one step later)
    pop = net.add_population(units, n, bias=c["I"], v0=np.minimum(brian["v0"], c["V_t"] - 1e-9))
    for (pre, post), g, tau, E in ((brian["exc"], c["g_e"], c["tau_e"], c["E_e"]),
                                   (brian["inh"], c["g_i"], c["tau_i"], c["E_i"])):
        W = sp.csr_matrix((np.full(pre.size, g), (post, pre)), shape=(n, n))
        net.connect(pop, pop, W, synapse=neurosim.Conductance(tau, E_rev=E))
    spikes = net.probe(pop, "spikes")
    net.run(T)
    return brian["rate"], spikes.data[0].size / n / T


def single_neuron(T=2.0, method="euler", seed=1):
    """One COBA neuron fed the same 64 excitatory and 16 inhibitory Poisson trains (20 Hz) in both simulators.

    Returns (neurosim spike times, Brian2 spike times) in seconds.
    """
    import brian2 as b2

    import neurosim
    from neurosim.network.examples import COBA as c

    rng = np.random.default_rng(seed)
    ne, ni = 64, 16
    # on the 0.1 ms grid plus half a step, one spike per train and step (Brian2's SpikeGeneratorGroup needs that)
    trains = [np.unique(np.round(rng.uniform(0, T, rng.poisson(20 * T)), 4)) + 0.5e-4 for _ in range(ne + ni)]
    units = neurosim.LIFUnits(C=c["C"], g_L=c["g_L"], V_L=c["E_l"], V_th=c["V_t"], V_reset=c["V_r"],
                              tau_ref=c["tau_ref"])
    net = neurosim.Network(dt=1e-4, backend="numpy")
    src = net.add_spike_source(trains)
    pop = net.add_population(units, 1, bias=c["I"], v0=c["V_r"])
    for sl, g, tau, E in ((slice(0, ne), c["g_e"], c["tau_e"], c["E_e"]), (slice(ne, ne + ni), c["g_i"], c["tau_i"],
                                                                            c["E_i"])):
        W = np.zeros((1, ne + ni))
        W[0, sl] = g
        net.connect(src, pop, W, synapse=neurosim.Conductance(tau, E_rev=E))
    spikes = net.probe(pop, "spikes")
    net.run(T)

    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    ns = _brian_namespace(b2)
    P = b2.NeuronGroup(1, _BRIAN_EQS, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms, method=method, namespace=ns)
    P.v = -60 * b2.mV
    idx = np.concatenate([np.full(t.size, i) for i, t in enumerate(trains)])
    G = b2.SpikeGeneratorGroup(ne + ni, idx, np.concatenate(trains) * b2.second)
    Ce = b2.Synapses(G, P, on_pre="ge += we", namespace=ns)
    Ce.connect(i=np.arange(ne), j=0)
    Ci = b2.Synapses(G, P, on_pre="gi += wi", namespace=ns)
    Ci.connect(i=np.arange(ne, ne + ni), j=0)
    mon = b2.SpikeMonitor(P)
    b2.run(T * b2.second)
    return spikes.data[0], np.array(mon.t / b2.second)


def run_brian(n, seed, T, method="euler", keep=False):
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = 0.1 * b2.ms
    b2.seed(seed)
    ns = _brian_namespace(b2)
    P = b2.NeuronGroup(n, _BRIAN_EQS, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms, method=method, namespace=ns)
    n_exc = int(0.8 * n)
    Ce = b2.Synapses(P[:n_exc], P, on_pre="ge += we", namespace=ns)
    Ci = b2.Synapses(P[n_exc:], P, on_pre="gi += wi", namespace=ns)
    P.v = "(randn() * 5 - 55) * mV"
    Ce.connect(p=80 / n)
    Ci.connect(p=80 / n)
    mon = b2.SpikeMonitor(P)
    same = {}
    if keep:  # the realized network, for run_same_network
        same = dict(v0=np.array(P.v[:]), exc=(np.array(Ce.i[:]), np.array(Ce.j[:])),
                    inh=(np.array(Ci.i[:]) + n_exc, np.array(Ci.j[:])))
    net = b2.Network(P, Ce, Ci, mon)
    net.run(0 * b2.ms)  # code generation and compilation, so the timed run measures simulation
    t1 = time.perf_counter()
    net.run(T * b2.second)
    wall = time.perf_counter() - t1
    return dict(wall=wall, rate=mon.num_spikes / n / T, **same)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--T", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, default=10, help="networks per simulator (rates are averaged)")
    parser.add_argument("--exponential-euler", action="store_true", help="also Brian2 with method='exponential_euler'")
    parser.add_argument("--same-network", type=int, default=0, metavar="K",
                        help="also run K of Brian2's realized networks in neurosim (rates side by side)")
    args = parser.parse_args(argv)
    res = {"neurosim": [], "brian2 euler": []}
    try:
        import numba  # noqa: F401
        res["neurosim numba"] = []
        coba(200, backend="numba")[0].run(1e-3)  # compiles the kernels, or loads them from numba's cache
    except ImportError:
        pass
    if args.exponential_euler:
        res["brian2 exponential_euler"] = []
    for seed in range(args.seeds):
        res["neurosim"].append(run_neurosim(args.n, seed, args.T))
        if "neurosim numba" in res:
            res["neurosim numba"].append(run_neurosim(args.n, seed, args.T, "numba"))
        res["brian2 euler"].append(run_brian(args.n, seed, args.T, "euler"))
        if args.exponential_euler:
            res["brian2 exponential_euler"].append(run_brian(args.n, seed, args.T, "exponential_euler"))
    print(f"COBA, n = {args.n}, T = {args.T} s, dt = 0.1 ms, {args.seeds} networks each, one thread")
    print(f"{'simulator':28s} {'rate (Hz) +- s.e.m.':>18s} {'wall median (s)':>16s}")
    for name, rows in res.items():
        rates = np.array([r["rate"] for r in rows])
        walls = np.array([r["wall"] for r in rows])
        sem = rates.std(ddof=1) / np.sqrt(rates.size) if rates.size > 1 else float("nan")
        print(f"{name:28s} {rates.mean():8.3f} +- {sem:5.3f} {np.median(walls):16.3f}")
    ref = np.mean([r["rate"] for r in res["brian2 euler"]])
    ours = np.mean([r["rate"] for r in res["neurosim"]])
    ratio = np.median([r["wall"] for r in res["neurosim"]]) / np.median([r["wall"] for r in res["brian2 euler"]])
    print(f"mean rate neurosim / Brian2 (euler) = {ours / ref:.3f} (requirement: within 10 %: "
          f"{'PASS' if abs(ours / ref - 1) <= 0.10 else 'FAIL'})")
    print(f"wall time neurosim (numpy) / Brian2 (cython) = {ratio:.2f}")
    if "neurosim numba" in res:
        fast = np.median([r["wall"] for r in res["neurosim numba"]]) / np.median([r["wall"] for r in res["brian2 euler"]])
        print(f"wall time neurosim (numba) / Brian2 (cython) = {fast:.2f}")
    ours, theirs = single_neuron()
    same = ours.size == theirs.size
    print(f"one neuron, the same input spikes: {ours.size} spikes in neurosim, {theirs.size} in Brian2 (euler)"
          + (f", times differ by at most {np.max(np.abs(ours - theirs)) * 1e3:.3f} ms" if same else ""))
    if args.same_network:
        print("Brian2's own networks (connectivity and initial V) run in neurosim:")
        pairs = np.array([run_same_network(args.n, 100 + s, args.T) for s in range(args.same_network)])
        for b, o in pairs:
            print(f"  Brian2 {b:7.3f} Hz   neurosim {o:7.3f} Hz   ratio {o / b:.3f}")
        print(f"  mean ratio {np.mean(pairs[:, 1] / pairs[:, 0]):.3f}")


if __name__ == "__main__":
    main()
