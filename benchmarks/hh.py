"""Hodgkin-Huxley population benchmark: neurosim's integrators vs Brian2 (when importable).

N uncoupled HH neurons with constant inputs spread over [0, 50] uA/cm^2, T = 1 s,
dt = 1e-5 s (0.01 ms). For each simulator: wall seconds, neuron-updates per
second (N * steps / seconds), and the error against the solve_ivp reference
(DOP853, rtol = atol = 1e-9) on a subset of the neurons:

* f-I error: max |rate - rate_ref| in Hz, rates from inter-spike intervals after 0.3 s;
* spike-time error: max |t_k - t_k_ref| over each subset neuron's first 10 spikes, in ms.

Brian2 runs the same equations with its ``exponential_euler`` method (rate
functions in the classic form; the singular points are never hit exactly),
threshold ``v > 0 mV``, from the same initial state. Brian2 is not a
dependency: run this script with an interpreter that has it, single-threaded
and alone on the machine, e.g.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/hh.py

Each method runs on both backends of ``HodgkinHuxley.simulate``: ``numpy`` and, when numba
is importable, ``numba`` (the compiled step loop; its first-call time, compilation or
loading numba's on-disk cache, is printed separately and not counted).

``--big 10000`` neurons run for ``--big-T`` seconds (default 0.1) and are
scaled to 1 s; the output says so.
"""
import argparse
import time
import warnings

import numpy as np

import neurosim
from neurosim.neurons.hh import HodgkinHuxley
from neurosim.network.compiled import numba_available

T_START = 0.3  # rates from ISIs after the onset transient
N_SPIKES = 10


def errors(spike_times, ref, ref_idx, T):
    """(f-I error in Hz, spike-time error in ms) on the reference subset."""
    if T <= T_START:
        fi = float("nan")
    else:
        got = neurosim.isi_rate([spike_times[i] for i in ref_idx], t_start=T_START)
        fi = float(np.max(np.abs(got - neurosim.isi_rate(ref, t_start=T_START))))
    st = 0.0
    for i, r in zip(ref_idx, ref):
        s, r = np.asarray(spike_times[i]), r[r < T]
        k = min(N_SPIKES, r.size)
        if s.size < k:
            return fi, float("inf")
        st = max(st, float(np.max(np.abs(s[:k] - r[:k]), initial=0.0)))
    return fi, st * 1e3


def run_ours(I, T, dt, method, backend="numpy"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exp_euler at 0.01 ms warns by design
        start = time.perf_counter()
        res = HodgkinHuxley().simulate(I, T, dt=dt, method=method, backend=backend)
        wall = time.perf_counter() - start
    return wall, res.spike_times


BRIAN2_EQS = """
dv/dt = (I - gNa*m**3*h*(v-ENa) - gK*n**4*(v-EK) - gL*(v-EL))/Cm : volt
dm/dt = alpham*(1-m) - betam*m : 1
dh/dt = alphah*(1-h) - betah*h : 1
dn/dt = alphan*(1-n) - betan*n : 1
alpham = 0.1/mV*(v+40*mV)/(1-exp(-(v+40*mV)/(10*mV)))/ms : Hz
betam = 4*exp(-(v+65*mV)/(18*mV))/ms : Hz
alphah = 0.07*exp(-(v+65*mV)/(20*mV))/ms : Hz
betah = 1/(1+exp(-(v+35*mV)/(10*mV)))/ms : Hz
alphan = 0.01/mV*(v+55*mV)/(1-exp(-(v+55*mV)/(10*mV)))/ms : Hz
betan = 0.125*exp(-(v+65*mV)/(80*mV))/ms : Hz
I : amp/meter**2
"""


def run_brian2(currents, T, dt, target):
    """Returns (compile seconds, run seconds, spike times per neuron in s)."""
    import brian2 as b2

    model = HodgkinHuxley()
    V0, m0, h0, n0 = model.initial_state(1)[:, 0]
    area = b2.cm**2
    ns = dict(Cm=model.C * b2.uF / area, gNa=model.g_Na * b2.msiemens / area, gK=model.g_K * b2.msiemens / area,
              gL=model.g_L * b2.msiemens / area, ENa=model.E_Na * b2.mV, EK=model.E_K * b2.mV, EL=model.E_L * b2.mV)
    b2.prefs.codegen.target = target

    def build(n):
        group = b2.NeuronGroup(n, BRIAN2_EQS, threshold="v > 0*mV", refractory="v > 0*mV",
                               method="exponential_euler", namespace=ns, dt=dt * b2.second)
        group.v, group.m, group.h, group.n = V0 * b2.mV, m0, h0, n0
        group.I = currents[:n] * b2.uA / area
        mon = b2.SpikeMonitor(group)
        return b2.Network(group, mon), mon

    b2.start_scope()
    start = time.perf_counter()
    net, _ = build(currents.size)
    net.run(dt * b2.second)  # code generation and (cython) compilation, cached for the real run
    compile_s = time.perf_counter() - start
    b2.start_scope()
    net, mon = build(currents.size)
    start = time.perf_counter()
    net.run(T * b2.second)
    wall = time.perf_counter() - start
    trains = mon.spike_trains()
    return compile_s, wall, [np.asarray(trains[i] / b2.second) for i in range(currents.size)]


def ratios(args):
    """Interleaved rounds (so that load on a shared machine hits both alike): time / Brian2 cython's time."""
    I = np.linspace(0.0, 50.0, args.n)
    methods = ("rk4", "exp_midpoint", "exp_ab2", "exp_euler")
    for method in methods:
        run_ours(I[:1], 10 * args.dt, args.dt, method, "numba")  # compile or load the cache
    run_brian2(I, 10 * args.dt, args.dt, "cython")
    walls = {m: [] for m in ("brian2",) + methods}
    for _ in range(args.ratios):
        walls["brian2"].append(run_brian2(I, args.T, args.dt, "cython")[1])
        for method in methods:
            walls[method].append(run_ours(I, args.T, args.dt, method, "numba")[0])
    b = np.array(walls["brian2"])
    print(f"N = {args.n}, T = {args.T} s, dt = {args.dt * 1e3:g} ms, {args.ratios} interleaved rounds; "
          f"Brian2 cython exponential_euler: median {np.median(b):.2f} s (run only)")
    for method in methods:
        r = np.array(walls[method]) / b
        print(f"| neurosim {method:12s} numba | median {np.median(walls[method]):6.2f} s | time / Brian2 cython: "
              f"median {np.median(r):.2f} (rounds: {', '.join(f'{x:.2f}' for x in r)}) |")


def network(args):
    """An HH network on the numpy backend and on the compiled loop (CPU seconds, interleaved rounds)."""
    def build(backend):
        net = neurosim.Network(dt=args.dt, rng=1, backend=backend)
        src = net.add_poisson(100, rate=50.0)
        pop = net.add_population(HodgkinHuxley(), args.n, bias=np.linspace(0, 12, args.n))
        net.connect(src, pop, np.random.default_rng(0).uniform(0, 0.004, (args.n, 100)),
                    synapse=neurosim.PSCFilter(0.002))
        net.connect(pop, pop, 0.0005 * (np.random.default_rng(1).random((args.n, args.n)) < 0.05),
                    synapse=neurosim.PSCFilter(0.003))
        return net, net.probe(pop, "spikes")

    times = {"numpy": [], "numba": []}
    for backend in times:  # compile or load the cache
        build(backend)[0].run(10 * args.dt)
    for _ in range(args.network):
        for backend in times:
            net, probe = build(backend)
            start = time.process_time()
            net.run(args.T)
            times[backend].append(time.process_time() - start)
            spikes = probe.data[0].size
    print(f"HH network: {args.n} neurons (rk4), 100 Poisson sources, 5 % recurrent, T = {args.T} s, "
          f"dt = {args.dt * 1e3:g} ms, {spikes} spikes; CPU seconds per round")
    for backend, t in times.items():
        print(f"| {backend:6s} | {', '.join(f'{x:.2f}' for x in t)} |")
    print(f"numpy / compiled loop: median {np.median(np.array(times['numpy']) / np.array(times['numba'])):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--T", type=float, default=1.0)
    parser.add_argument("--dt", type=float, default=1e-5)
    parser.add_argument("--big", type=int, default=10000, help="also run ours at this size (0: skip)")
    parser.add_argument("--big-T", type=float, default=0.1, help="simulated time at --big, scaled to T")
    parser.add_argument("--ref-neurons", type=int, default=11, help="size of the reference subset")
    parser.add_argument("--no-brian2", action="store_true")
    parser.add_argument("--brian2-targets", default="cython,numpy", help="comma-separated Brian2 codegen targets")
    parser.add_argument("--ratios", type=int, default=0, metavar="R",
                        help="only measure: R interleaved rounds of Brian2 cython and each neurosim method on the "
                             "numba backend at --n neurons for --T seconds; prints each time / Brian2's, median")
    parser.add_argument("--network", type=int, default=0, metavar="R",
                        help="only measure an HH network (--n neurons, --T seconds) on the numpy backend and on the "
                             "compiled loop, R interleaved rounds")
    args = parser.parse_args()
    if args.network:
        return network(args)
    if args.ratios:
        return ratios(args)
    if args.T <= T_START:
        parser.error(f"--T must be > {T_START} s: the f-I error uses rates from inter-spike intervals after "
                     f"{T_START} s (the onset transient), got --T {args.T}")

    I = np.linspace(0.0, 50.0, args.n)
    ref_idx = np.unique(np.linspace(0, args.n - 1, args.ref_neurons).round().astype(int))
    start = time.perf_counter()
    ref = HodgkinHuxley().reference(I[ref_idx], args.T, rtol=1e-9, atol=1e-9)
    print(f"reference: solve_ivp DOP853 rtol=atol=1e-9 on {ref_idx.size} neurons "
          f"(I = {', '.join(f'{x:.1f}' for x in I[ref_idx])}), {time.perf_counter() - start:.1f} s")
    steps = round(args.T / args.dt)
    print(f"N = {args.n}, T = {args.T} s, steps = {steps}; errors vs reference: f-I after {T_START} s, "
          f"first {N_SPIKES} spike times\n")
    header = f"| {'simulator':30s} | {'dt (ms)':>7s} | {'wall (s)':>8s} | {'updates/s':>9s} | {'f-I err (Hz)':>12s} | {'spike err (ms)':>14s} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")

    def row(name, dt, wall, trains, note=""):
        fi, st = errors(trains, ref, ref_idx, args.T)
        ups = args.n * round(args.T / dt) / wall
        print(f"| {name:30s} | {dt * 1e3:7.3g} | {wall:8.2f} | {ups:9.3g} | {fi:12.3g} | {st:14.3g} |{note}", flush=True)

    backends = ["numpy"]
    if numba_available():
        backends.append("numba")
        for method in ("rk4", "exp_midpoint", "exp_ab2", "exp_euler"):  # compile (or load the on-disk cache)
            start = time.perf_counter()
            run_ours(I[:1], 10 * args.dt, args.dt, method, "numba")
            print(f"numba {method}: first call {time.perf_counter() - start:.2f} s (compile or cache load)")
    for method, dt in (("rk4", args.dt), ("exp_midpoint", args.dt), ("exp_ab2", args.dt), ("exp_euler", args.dt),
                       ("rk4", 2.5 * args.dt), ("rk4", 5 * args.dt)):
        for backend in backends:
            wall, trains = run_ours(I, args.T, dt, method, backend)
            row(f"neurosim {method} {backend}", dt, wall, trains)
    try:
        import brian2  # noqa: F401
        brian2_ok = True
    except ImportError:
        brian2_ok = False
    if not args.no_brian2:
        if not brian2_ok:
            print("| brian2 not importable: skipped |")
        else:
            for target in args.brian2_targets.split(","):
                compile_s, wall, trains = run_brian2(I, args.T, args.dt, target)
                row(f"brian2 {target} exponential_euler", args.dt, wall, trains, f" (+{compile_s:.1f} s code generation/compile)")
    if args.big:
        print(f"\nN = {args.big}: simulated {args.big_T} s, wall scaled to {args.T} s (x{args.T / args.big_T:g})")
        Ib = np.linspace(0.0, 50.0, args.big)
        runs = [(f"neurosim {m} {b}", (m, b), dt) for m, dt in (("rk4", args.dt), ("exp_midpoint", args.dt),
                ("exp_ab2", args.dt), ("exp_euler", args.dt), ("rk4", 2.5 * args.dt), ("rk4", 5 * args.dt))
                for b in backends]
        if not args.no_brian2 and brian2_ok:
            runs.append(("brian2 cython exponential_euler", "brian2", args.dt))
        for name, method, dt in runs:
            if method == "brian2":
                wall = run_brian2(Ib, args.big_T, dt, "cython")[1]
            else:
                wall = run_ours(Ib, args.big_T, dt, *method)[0]
            scaled = wall * args.T / args.big_T
            print(f"| {name:30s} | {dt * 1e3:7.3g} | {scaled:8.2f} | {args.big * round(args.big_T / dt) / wall:9.3g} |", flush=True)


if __name__ == "__main__":
    main()
