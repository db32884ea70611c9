"""AdEx and Izhikevich spike times: neurosim against Brian2 (method="rk4", dt = 1 us) over 500 ms.

Issue 22's check: Naud et al. (2008)'s tonic, adapting and bursting AdEx patterns, and
Izhikevich (2003)'s RS and CH cells, must give spike times within 0.1 ms of Brian2's. For each
pattern it prints the spike counts and the largest spike-time difference, for neurosim at its
default dt (0.1 ms) and at 10 us. Brian2 columns are skipped when Brian2 is missing
(pip install brian2). Not a timing: needs no quiet machine; Brian2's 500,000 rk4 steps (numpy
target) take a minute or two.

    python benchmarks/adex_izhikevich.py

``--speed`` times compiled against Python steps instead (issue 21: a user ``NeuronModel`` whose step
numba compiles runs compiled): ``simulate`` of user models (Izhikevich's own Euler step as a
NeuronModel, and the QIF of examples/custom_neuron.py) with ``backend="numba"`` and ``"numpy"``,
side by side in this process, one thread, plus the first call's compile time. The built-in AdEx and
Izhikevich keep their Python step (``jit = False``: the adaptive RK4 step calls other methods):
their column is Python only.

    OMP_NUM_THREADS=1 python benchmarks/adex_izhikevich.py --speed
"""
import argparse
import sys
import time

import numpy as np

import neurosim
from neurosim.neurons.adex import NAUD_2008
from neurosim.neurons.izhikevich import IZHIKEVICH_2003

ADEX = ["tonic", "adapting", "initial_burst", "regular_bursting"]
IZH = ["RS", "CH"]
I_IZH = 10.0
T = 0.5
KEYS = ["C", "g_L", "E_L", "V_T", "Delta_T", "a", "tau_w", "b", "V_reset"]


def neurosim_trains(dt):
    """{pattern: spike times (s)} from one per-neuron-parameter population per model."""
    out = {}
    adex = neurosim.AdEx(**{k: np.array([NAUD_2008[n][k] for n in ADEX]) for k in KEYS})
    t, i = adex.simulate([NAUD_2008[n]["I"] for n in ADEX], T, dt=dt).events()
    out.update({n: t[i == j] for j, n in enumerate(ADEX)})
    a, b, c, d = (np.array(col) for col in zip(*(IZHIKEVICH_2003[n] for n in IZH)))
    t, i = neurosim.Izhikevich(a, b, c, d).simulate([I_IZH] * len(IZH), T, dt=dt).events()
    out.update({n: t[i == j] for j, n in enumerate(IZH)})
    return out


def brian2_trains():
    """The same runs in Brian2 (rk4, dt = 1 us, numpy target), or None without Brian2."""
    try:
        import brian2 as b2
    except ImportError:
        return None
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 1 * b2.us
    out = {}
    eqs = """
    dv/dt = (-g_L*(v - E_L) + g_L*Delta_T*exp((v - V_T)/Delta_T) - w + I)/C : volt
    dw/dt = (a*(v - E_L) - w)/tau_w : amp
    C : farad
    g_L : siemens
    E_L : volt
    V_T : volt
    Delta_T : volt
    a : siemens
    tau_w : second
    b : amp
    V_reset : volt
    I : amp
    """
    units = dict(C=b2.farad, g_L=b2.siemens, E_L=b2.volt, V_T=b2.volt, Delta_T=b2.volt, a=b2.siemens,
                 tau_w=b2.second, b=b2.amp, V_reset=b2.volt)
    net = b2.Network()
    g = b2.NeuronGroup(len(ADEX), eqs, threshold="v > V_T + 5*Delta_T", reset="v = V_reset; w += b",
                       method="rk4")
    for k in KEYS:
        setattr(g, k, np.array([NAUD_2008[n][k] for n in ADEX]) * units[k])
    g.I = np.array([NAUD_2008[n]["I"] for n in ADEX]) * b2.amp
    g.v = g.E_L
    mon = b2.SpikeMonitor(g)
    net.add(g, mon)
    net.run(T * b2.second)
    trains = mon.spike_trains()
    out.update({n: np.asarray(trains[j] / b2.second) for j, n in enumerate(ADEX)})

    ms = b2.ms
    eqs = """
    dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
    du/dt = a*(b*v - u)/ms : 1
    a : 1
    b : 1
    c : 1
    d : 1
    I : 1
    """
    net = b2.Network()
    g = b2.NeuronGroup(len(IZH), eqs, threshold="v >= 30", reset="v = c; u += d", method="rk4")
    for k, col in zip("abcd", zip(*(IZHIKEVICH_2003[n] for n in IZH))):
        setattr(g, k, np.array(col))
    g.I = I_IZH
    g.v = -65.0
    g.u = g.b * g.v
    mon = b2.SpikeMonitor(g)
    net.add(g, mon)
    net.run(T * b2.second)
    trains = mon.spike_trains()
    out.update({n: np.asarray(trains[j] / b2.second) for j, n in enumerate(IZH)})
    return out


def difference(a, b):
    if a.size != b.size:
        return f"count {a.size} vs {b.size}"
    return f"{np.max(np.abs(a - b), initial=0.0) * 1e3:.3g}"


class EulerIzhikevich(neurosim.NeuronModel):
    """Izhikevich (2003)'s published step as a user model: v in two Euler half-steps, u one step, in ms."""

    state = {"v": neurosim.StateVar(-65.0, "mV"), "u": neurosim.StateVar(-13.0, "mV/ms")}

    def __init__(self, a=0.02, b=0.2, c=-65.0, d=8.0):
        super().__init__(a=a, b=b, c=c, d=d)

    def step(self, dt, J, v, u):
        h = 500.0 * dt  # half of dt, in ms
        v += h * ((0.04 * v + 5.0) * v + 140.0 - u + J)
        v += h * ((0.04 * v + 5.0) * v + 140.0 - u + J)
        u += 2.0 * h * self.a * (self.b * v - u)
        spiked = v >= 30.0
        v[...] = np.where(spiked, self.c, v)
        u += np.where(spiked, self.d, 0.0)
        return spiked


def speed(repeat=3):
    """Compiled against Python steps of user models; ratios side by side in this process."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples"))
    from custom_neuron import QIF
    cases = [("EulerIzhikevich", EulerIzhikevich(), lambda n: np.linspace(0.0, 15.0, n)),
             ("QIF (examples/custom_neuron.py)", QIF(0.01), lambda n: np.linspace(-0.5, 4.0, n))]
    print("| model | neurons | steps | Python (s) | compiled (s) | Python / compiled | first call (compile, s) |")
    print("|---|---|---|---|---|---|---|")
    for name, model, inputs in cases:
        t0 = time.perf_counter()
        model.simulate(inputs(10), 1e-3, dt=1e-4, backend="numba")
        first = time.perf_counter() - t0
        for n, T in ((100, 1.0), (10000, 0.1)):
            J = inputs(n)
            best = {}
            for backend in ("numpy", "numba"):
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    model.simulate(J, T, dt=1e-4, backend=backend)
                    times.append(time.perf_counter() - t0)
                best[backend] = min(times)
            print(f"| {name} | {n} | {int(round(T / 1e-4))} | {best['numpy']:.3f} | {best['numba']:.3f} | "
                  f"{best['numpy'] / best['numba']:.2f} | {first:.1f} |", flush=True)
    for name, model, J in (("AdEx (built-in, Python step)", neurosim.AdEx.preset("tonic"), [500e-12] * 100),
                           ("Izhikevich (built-in, Python step)", neurosim.Izhikevich.preset("RS"), [10.0] * 100)):
        t0 = time.perf_counter()
        model.simulate(J, 0.1, dt=1e-4)
        print(f"| {name} | 100 | 1000 | {time.perf_counter() - t0:.3f} | - | - | - |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-brian2", action="store_true", help="skip Brian2 even if it is installed")
    parser.add_argument("--speed", action="store_true", help="time compiled against Python steps instead")
    args = parser.parse_args(argv)
    if args.speed:
        speed()
        return
    t0 = time.perf_counter()
    coarse = neurosim_trains(1e-4)
    t_coarse = time.perf_counter() - t0
    fine = neurosim_trains(1e-5)
    ref = None if args.no_brian2 else brian2_trains()
    if ref is None:
        print("Brian2 not installed (pip install brian2): its columns are skipped", file=sys.stderr)
    print(f"neurosim at dt = 0.1 ms took {t_coarse:.1f} s for all six 500 ms runs (two populations)")
    print("| pattern | spikes | neurosim 0.1 ms vs 10 us (ms) | neurosim 0.1 ms vs Brian2 rk4 1 us (ms) "
          "| neurosim 10 us vs Brian2 (ms) |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name in ADEX + IZH:
        b2_cols = ["-", "-"]
        if ref is not None:
            b2_cols = [difference(coarse[name], ref[name]), difference(fine[name], ref[name])]
            if coarse[name].size == ref[name].size:
                worst = max(worst, float(np.max(np.abs(coarse[name] - ref[name]), initial=0.0)))
            else:
                worst = np.inf
        print(f"| {name} | {coarse[name].size} | {difference(coarse[name], fine[name])} | "
              f"{b2_cols[0]} | {b2_cols[1]} |")
    if ref is not None:
        verdict = "within" if worst <= 1e-4 else "NOT within"
        print(f"\nlargest difference to Brian2 at neurosim's default dt: {worst * 1e3:.3g} ms ({verdict} 0.1 ms)")


if __name__ == "__main__":
    main()
