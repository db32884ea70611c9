"""The main demo: each section writes figures into a folder and returns lines of summary text.

Sections are plain functions ``section(out_dir: pathlib.Path) -> list[str]``
listed in ``SECTIONS``; later features add theirs to that list. A section that
draws random numbers takes ``seed`` (int >= 0) as a keyword too.
"""
import pathlib

import numpy as np

from .neurons.lif import LIF
from .neurons.tuning import tuning_curve


def lif_section(out):
    """LIF tuning curves (analytic vs simulated) and a spike raster."""
    from . import plotting

    lines = []
    J = np.linspace(0, 10, 200)
    curves = {}
    for tau_ref in (0.002, 0.005):
        model = LIF(tau_m=0.02, tau_ref=tau_ref)
        measured = tuning_curve(model, J, T=1.0, dt=1e-3)
        analytic = model.rate(J)
        curves[f"analytic, tau_ref={tau_ref * 1e3:g} ms"] = analytic
        curves[f"simulated, tau_ref={tau_ref * 1e3:g} ms"] = (J[::5], measured[::5])
        ok = analytic > 0
        err = np.max(np.abs(measured[ok] - analytic[ok]) / analytic[ok])
        lines.append(f"LIF tau_m=20 ms tau_ref={tau_ref * 1e3:g} ms: max relative rate error {err:.1e} (dt = 1 ms)")
    fig = plotting.plot_tuning_curves(J, curves, title="LIF tuning curves G(J)")
    plotting.save_figure(fig, out / "lif_tuning.png")
    result = LIF().simulate(np.linspace(0.5, 3.0, 40), 0.5, dt=1e-3)
    fig = plotting.plot_raster(result.spike_times, t_max=0.5, title="LIF neurons, J from 0.5 (bottom) to 3 (top)")
    plotting.save_figure(fig, out / "lif_raster.png")
    lines.append(f"LIF raster: 40 neurons, 0.5 s, {result.n_spikes} spikes")
    return lines


def synapse_section(out, seed=0):
    """PSC kernels (n = 0, 1, 2) with a filtered spike train, and a small CUBA network raster."""
    from . import plotting
    from .network.examples import cuba
    from .spikes import poisson_spikes
    from .synapses import PSCFilter

    train_seed, net_seed = np.random.SeedSequence(seed).spawn(2)
    (train,) = poisson_spikes(40.0, 1, T=0.5, rng=train_seed)
    filters = [PSCFilter(0.01, n) for n in (0, 1, 2)]
    fig = plotting.plot_psc_filters(filters, train, np.linspace(0, 0.5, 1000))
    plotting.save_figure(fig, out / "psc_filters.png")
    lines = [f"PSC filters n = 0, 1, 2 (tau_s = 10 ms) on a 40 Hz Poisson train: {len(train)} spikes"]
    net, spikes = cuba(1000, rng=net_seed)
    net.run(0.5)
    times, indices = spikes.data
    fig = plotting.plot_network_activity((times, indices), 1000, 0.5, title="CUBA (1000 neurons)")
    plotting.save_figure(fig, out / "network_raster.png")
    lines.append(f"CUBA network, 1000 neurons (in-degree 80), 0.5 s: {times.size} spikes, "
                 f"mean rate {times.size / 500:.2f} Hz")
    return lines


def hh_section(out):
    """Hodgkin-Huxley: a spike train with its gates, and the f-I curve with a fitted LIF."""
    from . import plotting
    from .neurons.fit import fit_lif
    from .neurons.hh import HodgkinHuxley

    model = HodgkinHuxley()
    res = model.simulate(10.0, 0.05, dt=1e-5, record_v=True, record_gates=True)
    fig = plotting.plot_hh_trace(res.t, res.v, {"m": res.m, "h": res.h, "n": res.n},
                                 title="Hodgkin-Huxley, I = 10 uA/cm^2 (RK4, dt = 0.01 ms)")
    plotting.save_figure(fig, out / "hh_trace.png")
    # demo-sized f-I curve: 20 inputs, 0.4 s, RK4 at 0.025 ms (rates within ~1e-5 relative of the reference)
    I = np.linspace(0, 50, 20)
    rates = tuning_curve(model, I, T=0.4, dt=2.5e-5, t_start=0.1)
    fit = fit_lif(I, rates)
    fig = plotting.plot_fi_fit(I, rates, fit, title="HH f-I curve (demo: 20 inputs, 0.4 s) and fitted LIF")
    plotting.save_figure(fig, out / "hh_fi.png")
    on = I[rates > 0]
    return [f"HH: rest {model.V_rest:.3f} mV; at 10 uA/cm^2 {res.n_spikes} spikes in 50 ms, peak {res.v.max():.1f} mV",
            f"HH f-I: silent up to {I[rates == 0].max():.2f}, firing from {on.min():.2f} uA/cm^2 at {rates[rates > 0].min():.0f} Hz; "
            f"fitted LIF tau_m={fit.model.tau_m * 1e3:.3g} ms tau_ref={fit.model.tau_ref * 1e3:.3g} ms, rms error {fit.rms_error:.2f} Hz"]


SECTIONS = [lif_section, synapse_section, hh_section]


def run_demo(out_dir, sections=None, seed=0):
    """Run every demo section, writing PNGs into ``out_dir``; return the summary text.

    ``seed`` (int >= 0) is passed to the sections that take one (random inputs and connectivity).
    """
    import inspect

    import matplotlib.pyplot as plt

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for section in sections or SECTIONS:
        takes_seed = "seed" in inspect.signature(section).parameters
        lines.extend(section(out, seed=seed) if takes_seed else section(out))
        plt.close("all")
    text = "\n".join(lines) + "\n"
    from .io import atomic_write

    with atomic_write(out / "summary.txt", "w") as f:
        f.write(text)
    return text
