"""Writing a neuron model: a quadratic integrate-and-fire (QIF) neuron as a ``neurosim.NeuronModel``.

The QIF neuron ``tau dv/dt = v^2 + J`` fires at ``sqrt(J) / (pi tau)`` Hz for J > 0 (v runs
from -inf to +inf in ``pi tau / sqrt(J)`` seconds). v itself blows up at every spike, so the
model is integrated in its phase form (the theta neuron of Ermentrout and Kopell,
``v = tan(theta / 2)``)::

    tau dtheta/dt = (1 - cos theta) + (1 + cos theta) J,     spike when theta reaches pi, then theta -= 2 pi

which is smooth and bounded: classic rk4 is accurate, and the crossing of pi is located inside
the step. The script checks the measured f-I curve against sqrt(J)/(pi tau), runs the model in a
batched network with Poisson input and a probe of its state, and turns the curve into a ratenet
activation.

    python examples/custom_neuron.py --out custom_neuron_out
"""
import argparse
import pathlib

import numpy as np

import neurosim


class QIF(neurosim.NeuronModel):
    """Quadratic integrate-and-fire neuron in phase form; J dimensionless, tau in seconds."""

    state = {"theta": neurosim.StateVar(-np.pi, unit="rad")}  # starts at the reset phase (v = -inf)

    def __init__(self, tau=0.01):
        super().__init__(tau=tau)

    def step(self, dt, J, theta):
        h = dt / self.tau

        def f(th):
            c = np.cos(th)
            return (1.0 - c) + (1.0 + c) * J

        k1 = f(theta)
        k2 = f(theta + 0.5 * h * k1)
        k3 = f(theta + 0.5 * h * k2)
        k4 = f(theta + h * k3)
        new = theta + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        spiked = new >= np.pi
        # where in the step theta passed pi: linear between the two ends (rk4 is smooth here)
        offsets = np.where(spiked, dt * (np.pi - theta) / np.maximum(new - theta, 1e-300), 0.0)
        offsets = np.clip(offsets, 0.0, np.nextafter(dt, 0.0))
        theta[...] = np.where(spiked, new - 2.0 * np.pi, new)
        return spiked, offsets


def analytic_rate(J, tau):
    """sqrt(J) / (pi tau) for J > 0, else 0 (Hz)."""
    J = np.asarray(J, dtype=float)
    return np.where(J > 0, np.sqrt(np.maximum(J, 0.0)) / (np.pi * tau), 0.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="custom_neuron_out", help="folder for the figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model = QIF(tau=0.01)
    J = np.linspace(-0.5, 4.0, 46)
    rates = neurosim.tuning_curve(model, J, T=1.0, dt=1e-4)
    expected = analytic_rate(J, model.tau)
    firing = expected > 5
    err = np.abs(rates[firing] / expected[firing] - 1).max()
    print(f"QIF f-I curve vs sqrt(J)/(pi tau): max relative error {err:.2e} over {firing.sum()} inputs")

    # the same model in a batched network: Poisson drive, spikes and its state variable probed
    net = neurosim.Network(dt=1e-4, rng=0, batch=4)
    drive = net.add_poisson(100, rate=40.0)
    pop = net.add_population(model, 20, bias=0.2)
    net.connect(drive, pop, np.full((20, 100), 0.002), synapse=neurosim.PSCFilter(0.005))
    spikes = net.probe(pop, "spikes")
    theta = net.probe(pop, "theta", sample_every=1e-3)
    net.run(0.5)
    times, idx, trials = spikes.data
    print(f"network: {times.size} spikes over 4 trials x 20 neurons in 0.5 s "
          f"({times.size / (4 * 20 * 0.5):.1f} Hz); theta probe {theta.data.shape}")

    # the measured curve as a ratenet activation (the bridge works from any model)
    try:
        from ratenet import TuningCurveActivation
        act = TuningCurveActivation(J, rates, amplitude=1 / 60.0)
        print("TuningCurveActivation at z = 1, 2:", np.round(act.function(np.array([1.0, 2.0])), 4))
    except ImportError:  # pragma: no cover - ratenet ships with neurosim
        pass

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from neurosim.plotting import save_figure
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.linspace(J[0], J[-1], 400)
    ax.plot(x, analytic_rate(x, model.tau), "k-", label="sqrt(J) / (pi tau)")
    ax.plot(J, rates, "o", ms=4, label="simulated (rk4 on theta, dt = 0.1 ms)")
    ax.set_xlabel("input J")
    ax.set_ylabel("rate (Hz)")
    ax.set_title("A user-defined neuron model: QIF")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "qif_fi.png")
    print(f"figure: {out / 'qif_fi.png'}")
    return err


if __name__ == "__main__":
    main()
