"""LIF population benchmark: neurosim vs Nengo and Brian2 (when installed).

N uncoupled LIF neurons (tau_m = 20 ms, tau_ref = 2 ms) with constant input J
spread over [0, 5], simulated for T = 1 s: by ``LIF.simulate`` ("neurosim") and as a
``Network`` population on the numpy and numba backends ("network numpy/numba",
times scaled from T - dt: the first step builds the network). Prints wall seconds and
neuron-updates per second (N * steps / seconds), the CPU time of the process for
neurosim's rows (on a loaded machine the wall time also counts time spent waiting
for a core), and the relative rate error of each simulator against the analytic curve G(J).

Run single-threaded, alone on the machine:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/lif_population.py [--quick] [--memory]

``--memory`` also runs 100,000 neurons for 10 s and prints the peak memory
traced by tracemalloc (numpy allocations included).
"""
import argparse
import time
import tracemalloc

import numpy as np

import neurosim

TAU_M, TAU_REF = 0.02, 0.002


def run_neurosim(J, T, dt):
    start, cpu = time.perf_counter(), time.process_time()
    result = neurosim.LIF(tau_m=TAU_M, tau_ref=TAU_REF).simulate(J, T, dt=dt)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, neurosim.isi_rate(result.events(), n_neurons=J.size), cpu


def run_network(J, T, dt, backend):
    """The same neurons as a Network population (bias J, a spike probe) on a neurosim backend; build untimed."""
    net = neurosim.Network(dt=dt, backend=backend)
    pop = net.add_population(neurosim.LIF(tau_m=TAU_M, tau_ref=TAU_REF), J.size, bias=J)
    probe = net.probe(pop)
    net.run(dt)  # build (and load the compiled kernels) outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    net.run(T - dt)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert net.backend == backend
    return wall * T / (T - dt), neurosim.isi_rate(probe.data, n_neurons=J.size), cpu * T / (T - dt)


def run_nengo(J, T, dt):
    import nengo

    with nengo.Network() as net:
        ens = nengo.Ensemble(J.size, 1, neuron_type=nengo.LIF(tau_rc=TAU_M, tau_ref=TAU_REF),
                             gain=np.ones(J.size), bias=J)
        # a dense spike probe of all neurons would need steps x N floats: probe every 100th
        probe = nengo.Probe(ens.neurons[::100], "output")
    with nengo.Simulator(net, dt=dt, progress_bar=False) as sim:
        start = time.perf_counter()
        sim.run(T, progress_bar=False)
        wall = time.perf_counter() - start
        spikes = sim.data[probe] > 0
    steps, idx = np.nonzero(spikes)
    times = (steps + 1) * dt  # Nengo reports spikes at the end of the step
    rates = np.full(J.size, np.nan)
    rates[::100] = neurosim.isi_rate((times, idx), n_neurons=spikes.shape[1])
    return wall, rates


def run_brian2(J, T, dt, target):
    import brian2 as b2

    b2.prefs.codegen.target = target
    b2.start_scope()
    b2.defaultclock.dt = dt * b2.second
    group = b2.NeuronGroup(J.size, "dv/dt = (J - v) / tau : 1 (unless refractory)\nJ : 1\ntau : second",
                           threshold="v > 1", reset="v = 0", refractory=TAU_REF * b2.second, method="exact")
    group.J = J
    group.tau = TAU_M * b2.second
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    net.run(dt * b2.second, namespace={})  # compiles (cached for later runs) outside the timing
    start = time.perf_counter()
    net.run(T * b2.second, namespace={})
    wall = time.perf_counter() - start
    return wall, neurosim.isi_rate((np.asarray(monitor.t / b2.second), np.asarray(monitor.i)), n_neurons=J.size)


def available_runners():
    runners = {"neurosim": run_neurosim,
               "network numpy": lambda J, T, dt: run_network(J, T, dt, "numpy")}
    try:
        import numba  # noqa: F401

        runners["network numba"] = lambda J, T, dt: run_network(J, T, dt, "numba")
    except ImportError:
        print("numba not installed: skipping the numba backend (pip install '.[fast]')")
    try:
        import nengo  # noqa: F401

        runners["nengo"] = run_nengo
    except ImportError:
        print("nengo not installed: skipping its rows")
    try:
        import brian2  # noqa: F401

        runners["brian2 numpy"] = lambda J, T, dt: run_brian2(J, T, dt, "numpy")
        runners["brian2 cython"] = lambda J, T, dt: run_brian2(J, T, dt, "cython")
    except ImportError:
        print("brian2 not installed: skipping its rows")
    return runners


def memory_check():
    J = np.linspace(0, 5, 100_000)
    tracemalloc.start()
    start = time.perf_counter()
    result = neurosim.LIF(tau_m=TAU_M, tau_ref=TAU_REF).simulate(J, 10.0, dt=1e-3)
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\nmemory: 100,000 neurons, T = 10 s, dt = 1 ms: {result.n_spikes / 1e6:.1f} M spikes, "
          f"peak traced memory {peak / 2**20:.0f} MiB, {wall:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 10,000 only, T = 0.2 s")
    parser.add_argument("--memory", action="store_true", help="also the 100,000 neurons x 10 s memory check")
    parser.add_argument("--only", default=None, help="comma-separated runner names")
    args = parser.parse_args()
    T = 0.2 if args.quick else 1.0
    sizes = [10_000] if args.quick else [10_000, 100_000]
    runners = available_runners()
    if args.only:
        runners = {k: v for k, v in runners.items() if k in args.only.split(",")}
    print(f"{'simulator':<16} {'N':>8} {'dt (s)':>8} {'wall (s)':>9} {'M updates/s':>12} {'CPU (s)':>8} "
          f"{'M upd/CPU-s':>12} {'max rel rate err':>17}")
    for N in sizes:
        J = np.linspace(0, 5, N)
        G = neurosim.LIF(tau_m=TAU_M, tau_ref=TAU_REF).rate(J)
        # compare only neurons with >= 3 spikes in T, where an ISI rate exists
        firing = G * T >= 3
        for dt in (1e-3, 1e-4):
            for name, run in runners.items():
                wall, rates, *cpu = run(J, T, dt)
                err = np.nanmax(np.abs(rates[firing] - G[firing]) / G[firing])
                steps = round(T / dt)
                cpu_text = f"{cpu[0]:>8.3f} {N * steps / cpu[0] / 1e6:>12.1f}" if cpu else f"{'-':>8} {'-':>12}"
                print(f"{name:<16} {N:>8} {dt:>8g} {wall:>9.3f} {N * steps / wall / 1e6:>12.1f} {cpu_text} {err:>17.1e}",
                      flush=True)
    if args.memory:
        memory_check()


if __name__ == "__main__":
    main()
