"""Progress lines (issue 24 item 11): one helper, off in library calls, on with progress=True; the rate plot."""
import io
import subprocess
import sys
import types

import numpy as np
import pytest

import neurosim
from neurosim import LIF, HodgkinHuxley, Network, fit_lif, tuning_curve
from neurosim.progress import Progress


def test_progress_line_counts_and_ends_once():
    out = io.StringIO()
    with Progress(4, "work", stream=out, interval=0.0) as bar:
        for k in range(4):
            bar.update(k + 1, f"item {k}")
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "work  1/4   25.0%" in text and "item 0" in text and "4/4  100.0%" in text
    assert "eta" in text  # shown while unfinished
    silent = io.StringIO()
    with Progress(4, "work", enabled=False, stream=silent) as bar:
        bar.update(2)
    assert silent.getvalue() == ""


def test_progress_after_an_error_ends_the_line_where_it_stopped():
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with Progress(10, "work", stream=out, interval=0.0) as bar:
            bar.update(3)
            raise RuntimeError("stop")
    assert out.getvalue().endswith("3/10   30.0%  00:00\n") or "3/10" in out.getvalue().splitlines()[-1]


def test_library_calls_are_silent_by_default_and_show_progress_when_asked(capsys):
    net = Network(dt=1e-4)
    net.add_population(LIF(), 3, bias=1.5)
    net.run(0.01)
    I = np.linspace(5, 15, 6)
    tuning_curve(HodgkinHuxley(), I, T=0.02, dt=2.5e-5)
    assert capsys.readouterr().err == ""
    net.run(0.01, progress=True)
    err = capsys.readouterr().err
    assert "simulated" in err and "100.0%" in err and err.endswith("\n")
    net2 = Network(dt=1e-4, timing="precise")
    net2.add_population(LIF(), 3, bias=1.5)
    net2.run(0.01, progress=True)
    assert "100.0%" in capsys.readouterr().err
    rates = tuning_curve(HodgkinHuxley(), I, T=0.02, dt=2.5e-5, progress=True)
    err = capsys.readouterr().err
    assert "Hodgkin-Huxley" in err and "0.02/0.02 s" in err
    np.testing.assert_array_equal(rates, tuning_curve(HodgkinHuxley(), I, T=0.02, dt=2.5e-5))  # same result
    tuning_curve(LIF(), np.linspace(0, 3, 5), T=0.1, dt=1e-3, progress=True)  # no progress keyword: start/end
    assert "tuning curve (5 inputs)" in capsys.readouterr().err
    x = np.linspace(0, 40, 30)
    r = LIF(0.02, 0.002).rate(0.5 * x - 1)
    a = fit_lif(x, r, progress=True)
    assert "fit_lif: starts  3/3" in capsys.readouterr().err
    assert a.model.tau_m == fit_lif(x, r).model.tau_m
    with pytest.raises(TypeError, match="progress"):
        fit_lif(x, r, progress="yes")


def test_pynn_run_in_pieces_covers_every_step(capsys):
    from neurosim.export.pynn import runner

    calls = []
    sim = types.SimpleNamespace(run=calls.append, __name__="pyNN.fake")
    runner.run(sim, 123.4, 0.1)
    assert calls == [123.4]
    calls.clear()
    runner.run(sim, 123.4, 0.1, progress=True)
    steps = [round(c / 0.1) for c in calls]
    assert sum(steps) == 1234 and 90 <= len(calls) <= 100 and all(abs(c / 0.1 - round(c / 0.1)) < 1e-9 for c in calls)
    assert "pyNN.fake: simulated" in capsys.readouterr().err


def test_generated_script_embeds_the_progress_helper(tmp_path):
    from neurosim.export import write_pynn_script

    net = Network(dt=1e-4)
    src = net.add_poisson(5, rate=100.0, name="inp")
    pop = net.add_population(LIF(), 2, name="pop")
    net.connect(src, pop, 0.01)
    script, _ = write_pynn_script(net, tmp_path / "s.py", T=0.01, rng=0)
    text = open(script).read()
    assert "class Progress" in text and "from ...progress" not in text
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path, env={"PATH": "", "PYTHONPATH": ""})
    assert out.returncode == 0 and "--progress" in out.stdout, out.stderr


def test_plot_population_rate_draws_the_binned_rate(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from neurosim.plotting import plot_population_rate, save_figure

    assert "plot_population_rate" in neurosim.plotting.__all__
    # 400 regular neurons at 40 Hz with phases spread evenly: every 5 ms bin holds 80 spikes -> 40 Hz
    n, rate, T, bin = 400, 40.0, 0.5, 0.005
    phase = np.arange(n) / n / rate
    times = (phase[:, None] + np.arange(int(T * rate))[None, :] / rate).ravel()
    indices = np.repeat(np.arange(n), int(T * rate))
    fig = plot_population_rate((times, indices), n, T, bin=bin, synapse=neurosim.PSCFilter(0.01))
    ax = fig.axes[0]
    steps = ax.patches[0] if ax.patches else None
    values = steps.get_data().values if steps is not None else None
    assert values is not None and values.shape == (100,)
    np.testing.assert_allclose(values, rate, rtol=1e-12)
    assert "mean 40.00 Hz" in ax.get_title()
    path = save_figure(fig, tmp_path / "rate.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # a batch: one line per trial
    fig2 = plot_population_rate((times, indices, (indices % 2)), n, T, bin=bin)
    assert len(fig2.axes[0].patches) == 2
    np.testing.assert_allclose(fig2.axes[0].patches[1].get_data().values, rate / 2, rtol=1e-12)
