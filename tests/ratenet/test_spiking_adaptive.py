"""TuningCurveActivation from any neurosim model whose tuning curve works: Izhikevich and AdEx f-I curves."""
import numpy as np

import neurosim
import ratenet
from ratenet.spiking.activations import TuningCurveActivation


def test_tuning_curve_activation_from_izhikevich():
    J = np.linspace(3.0, 30.0, 10)
    model = neurosim.Izhikevich.preset("RS")
    act = TuningCurveActivation.from_model(model, J, T=0.4, t_start=0.15, amplitude=1 / 50, offset=4.0, scale=5.0)
    # oracle: the same curve measured directly; z = (J - offset) / scale
    rates = neurosim.tuning_curve(model, J, T=0.4, t_start=0.15)
    assert rates[0] == 0 and rates[-1] > 20 and np.all(np.diff(rates[rates > 0]) > 0)
    z = (J - 4.0) / 5.0
    np.testing.assert_allclose(act.function(z), rates / 50, rtol=1e-12, atol=1e-12)
    # usable as a layer: forward and derivative (against a central difference)
    net = ratenet.Sequential([ratenet.Dense(2, 3, rng=0, dtype=np.float64), act])
    assert net.predict(np.ones((4, 2))).shape == (4, 3)
    zz = np.array([0.7, 2.3, 4.1])
    h = 1e-6
    np.testing.assert_allclose(act.derivative(zz), (act.function(zz + h) - act.function(zz - h)) / (2 * h),
                               rtol=1e-5)


def test_tuning_curve_activation_from_adex_in_amperes():
    J = np.linspace(100e-12, 800e-12, 8)           # A
    model = neurosim.AdEx.preset("tonic")
    act = TuningCurveActivation.from_model(model, J, T=0.3, t_start=0.1, offset=200e-12, scale=100e-12)
    rates = neurosim.tuning_curve(model, J, T=0.3, t_start=0.1)
    assert rates[0] == 0 and rates[-1] > 50
    np.testing.assert_allclose(act.function((J - 200e-12) / 100e-12), rates, rtol=1e-9, atol=1e-9)
