"""Regression tests for ratenet's bad-input handling (issue 12, the independent sweep).

Each class of fix has one parametrized test: a wrong type is a TypeError, a wrong
value a ValueError, and the message names the parameter; valid numpy scalars and
float32 values are accepted.
"""
import numpy as np
import pytest

import neurosim
import ratenet
from ratenet import autodiff as ad
from ratenet import data, initializers

BAD_FLAGS = ["no", 2, 1.5, None, object()]

LAYERS = [
    lambda: ratenet.Dropout(0.5, rng=0), lambda: ratenet.BatchNorm(3, dtype=np.float64),
    ratenet.Identity, ratenet.Sigmoid, ratenet.Tanh, ratenet.HardTanh, ratenet.Softsign,
    ratenet.ReLU, ratenet.LeakyReLU, ratenet.Softplus, ratenet.Softmax, ratenet.LogSoftmax,
    ratenet.LIFRate, ratenet.SoftLIFRate, lambda: ratenet.Dense(3, 3, rng=0, dtype=np.float64),
]
IDS = ["Dropout", "BatchNorm", "Identity", "Sigmoid", "Tanh", "HardTanh", "Softsign", "ReLU",
       "LeakyReLU", "Softplus", "Softmax", "LogSoftmax", "LIFRate", "SoftLIFRate", "Dense"]


def _forwarded(make, training=True):
    layer = make()
    X = np.random.default_rng(0).standard_normal((4, 3))
    Y = layer.forward(X, training=training)
    return layer, Y


@pytest.mark.parametrize("make", LAYERS, ids=IDS)
@pytest.mark.parametrize("flag", BAD_FLAGS, ids=["str", "int", "float", "None", "obj"])
def test_backward_input_grad_must_be_a_bool(make, flag):
    layer, Y = _forwarded(make)
    with pytest.raises(TypeError, match="input_grad"):
        layer.backward(np.ones_like(Y), input_grad=flag)


@pytest.mark.parametrize("make", LAYERS, ids=IDS)
@pytest.mark.parametrize("dY, err", [
    (np.ones((4, 3)) + 1j, TypeError), (np.full((4, 3), "a"), TypeError), (None, TypeError),
    (object(), TypeError), (np.ones((4, 5)), ValueError), (np.ones((4, 3, 1)), ValueError),
    (np.ones((0, 0)), ValueError)], ids=["complex", "str", "None", "obj", "shape", "ndim", "empty"])
def test_backward_rejects_bad_dY(make, dY, err):
    layer, Y = _forwarded(make)
    with pytest.raises(err, match="dY"):
        layer.backward(dY)


@pytest.mark.parametrize("make", LAYERS, ids=IDS)
def test_backward_unchanged_for_valid_input(make):
    """The checks change no result: backward with np.bool_ flags equals the plain call."""
    layer, Y = _forwarded(make)
    dY = np.random.default_rng(1).standard_normal(Y.shape).astype(Y.dtype)
    a = layer.backward(dY.copy())
    b = layer.backward(dY.copy(), input_grad=np.bool_(True))
    np.testing.assert_array_equal(a, b)
    assert layer.backward(dY.copy(), input_grad=False) is None


@pytest.mark.parametrize("cls", [ratenet.LIFRate, ratenet.SoftLIFRate])
@pytest.mark.parametrize("flag", BAD_FLAGS, ids=["str", "int", "float", "None", "obj"])
def test_lif_forward_training_flag(cls, flag):
    with pytest.raises(TypeError, match="training"):
        cls().forward(np.zeros((2, 3)), training=flag)


@pytest.mark.parametrize("cls", [ratenet.LIFRate, ratenet.SoftLIFRate])
def test_lif_forward_names_X(cls):
    with pytest.raises(TypeError, match="X"):
        cls().forward(np.zeros((2, 3)) + 1j)


@pytest.mark.parametrize("call, err, name", [
    (lambda: ratenet.Dense(10**6, 10**6), ValueError, "n_in"),
    (lambda: ratenet.BatchNorm(10**12), ValueError, "n_features"),
    (lambda: ratenet.one_hot([0, 1, 2], n_classes=10**12), ValueError, "n_classes"),
    (lambda: data.xor(n=10**12), ValueError, "n"),
    (lambda: data.noisy_mapping(n_samples=10**12), ValueError, "n_samples"),
    (lambda: data.noisy_mapping(n_classes=10**12), ValueError, "n_classes"),
    (lambda: data.noisy_mapping(n_features=10**12), ValueError, "n_features"),
    (lambda: data.dose_sugar(n_train=10**12), ValueError, "n_train"),
    (lambda: data.dose_sugar(n_test=10**12), ValueError, "n_test"),
    (lambda: initializers.zeros((10**6, 10**6)), ValueError, "shape"),
] + [(lambda f=f: f((10**6, 10**6)), ValueError, "shape") for f in (
    initializers.gaussian, initializers.glorot_uniform, initializers.glorot_normal,
    initializers.he_normal, initializers.he_uniform)])
def test_huge_sizes_refused_up_front(call, err, name):
    with pytest.raises(err, match=rf"{name}=.*bytes"):
        call()


@pytest.mark.parametrize("call, err, name", [
    (lambda: ad.Sum(axis=1.5), TypeError, "axis"), (lambda: ad.Mean(axis="a"), TypeError, "axis"),
    (lambda: ad.Softmax(axis=1.5), TypeError, "axis"), (lambda: ad.LogSoftmax(axis="a"), TypeError, "axis"),
    (lambda: ad.Reshape(shape="a"), TypeError, "shape"), (lambda: ad.Reshape(shape=None), TypeError, "shape"),
    (lambda: ad.Reshape(shape=(-2, 3)), ValueError, "shape"),
    (lambda: ad.Var(np.ones(2)).sum().backward(grad=np.nan), ValueError, "grad"),
    (lambda: ad.Var(np.ones(2)).sum().backward(grad=1j), TypeError, "grad"),
    (lambda: ad.getitem(ad.Var(np.ones(2)), 5), ValueError, "index"),
    (lambda: ad.zero_grad(None), TypeError, "vars"),
    (lambda: ad.check_layer(ratenet.Tanh(), ad.tanh, np.full((2, 3), np.nan)), ValueError, "X"),
    (lambda: ad.check_layer(ratenet.Tanh(), ad.tanh, np.ones((2, 3)), dY=np.full((2, 3), np.inf)),
     ValueError, "dY"),
])
def test_autodiff_constructors_and_entries(call, err, name):
    with pytest.raises(err, match=name):
        call()


def test_autodiff_valid_numpy_axis_and_shape():
    x = ad.Var(np.arange(6.0).reshape(2, 3))
    assert ad.sum(x, axis=np.int64(1)).shape == (2,)
    assert ad.reshape(x, (np.int64(3), -1)).shape == (3, 2)
    ad.zero_grad([x])


@pytest.mark.parametrize("epoch, logs, err, name", [
    (1.5, {}, TypeError, "epoch"), (-1, {}, ValueError, "epoch"), (None, {}, TypeError, "epoch"),
    (0, "loss", TypeError, "logs"), (0, None, TypeError, "logs"), (0, {"loss": "x"}, TypeError, "logs"),
])
def test_history_append(epoch, logs, err, name):
    with pytest.raises(err, match=name):
        ratenet.History().append(epoch, logs)


def test_history_append_keeps_nan_and_numpy_scalars():
    h = ratenet.History()
    h.append(np.int64(0), {"loss": np.float32(0.5)})
    h.append(1, {"loss": float("nan")})
    assert h.epochs == [0, 1] and np.isnan(h.loss[1]) and h.loss[0] == 0.5


@pytest.mark.parametrize("n_in, err", [(1.5, TypeError), ("a", TypeError), (None, TypeError),
                                       (0, ValueError), (-1, ValueError), (4, ValueError)])
def test_dense_output_features(n_in, err):
    with pytest.raises(err, match="n_in"):
        ratenet.Dense(3, 2, rng=0).output_features(n_in)
    assert ratenet.Dense(3, 2, rng=0).output_features(np.int64(3)) == 2


def test_load_state_dict_refuses_nan_and_keeps_weights():
    model = ratenet.Sequential([ratenet.Dense(2, 2, rng=0)])
    before = model.state_dict()
    bad = {k: np.full_like(v, np.nan) for k, v in before.items()}
    with pytest.raises(ValueError, match="NaN"):
        model.load_state_dict(bad)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_pca_whitening_names_X():
    with pytest.raises(ValueError, match="X"):
        data.PCAWhitening(n_components=2).fit(np.ones((5, 1)))


@pytest.mark.parametrize("Y", [np.array([[np.nan, 1.0]]), np.array([[np.inf, 1.0]]), np.ones((0, 2))])
@pytest.mark.parametrize("fn", [ratenet.argmax, ratenet.to_labels])
def test_labels_of_bad_outputs(fn, Y):
    with pytest.raises(ValueError, match="Y"):
        fn(Y)


# -- spiking ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def snn():
    model = ratenet.Sequential([ratenet.Dense(2, 3, rng=0, dtype=np.float64), ratenet.SoftLIFRate(amplitude=0.02),
                                ratenet.Dense(3, 2, rng=1, dtype=np.float64)])
    return ratenet.to_spiking(model)


def test_spiking_float32_duration_accepted(snn):
    X = np.array([[0.5, -0.2]])
    a = snn.predict(X, T=np.float32(0.05), rng=0)
    b = snn.predict(X, T=0.05, rng=0)
    np.testing.assert_array_equal(a, b)
    snn.run(X, T=np.float32(0.05), rng=0, record=np.bool_(False))


@pytest.mark.parametrize("call, err, name", [
    (lambda m: m.run(np.ones((1, 2)), T=0.01, record="no"), TypeError, "record"),
    (lambda m: m.run(np.ones((1, 2)), T=0.01, record=None), TypeError, "record"),
    (lambda m: m.rate_layers(np.ones((1, 2)), exact="no"), TypeError, "exact"),
    (lambda m: m.accuracy(np.ones((2, 2)), [-1, 0], T=0.01), ValueError, "labels"),
    (lambda m: m.accuracy(np.ones((2, 2)), [0.5, 0], T=0.01), ValueError, "labels"),
    (lambda m: m.default_t_average(np.nan), ValueError, "T"),
    (lambda m: m.default_t_average(-1.0), ValueError, "T"),
    (lambda m: m.default_t_average(None), TypeError, "T"),      # None is a wrong type
    (lambda m: m.to_network(np.ones(2) + 1j), TypeError, "x"),
    (lambda m: m.to_network(np.ones(2), placement="bogus"), ValueError, "placement"),
    (lambda m: m.to_network(np.ones(2), placement=None), TypeError, "placement"),
])
def test_spiking_model_entries(snn, call, err, name):
    with pytest.raises(err, match=name):
        call(snn)


@pytest.mark.parametrize("kwargs, err, name", [
    ({"t_start": "a"}, TypeError, "t_start"), ({"t_start": None}, TypeError, "t_start"),
    ({"t_end": 1j}, TypeError, "t_end"), ({"t_end": 0.0}, ValueError, "t_"),
])
def test_spiking_network_rates(snn, kwargs, err, name):
    net = snn.to_network(np.ones(2))
    net.network.run(0.01)
    with pytest.raises(err, match=name):
        net.rates(**kwargs)


@pytest.mark.parametrize("t_average, err", [("a", TypeError), (1j, TypeError), ([1.0], TypeError)])
def test_spiking_network_output(snn, t_average, err):
    net = snn.to_network(np.ones(2))
    net.network.run(0.01)
    with pytest.raises(err, match="t_average"):
        net.output(t_average)


@pytest.mark.parametrize("call, err, name", [
    (lambda: ratenet.TuningCurveActivation(np.arange(3.0) + 1j, np.ones(3)), TypeError, "J"),
    (lambda: ratenet.TuningCurveActivation(np.arange(3.0), np.ones(3) + 1j), TypeError, "rates"),
    (lambda: ratenet.TuningCurveActivation.from_callable(lambda J: J * np.nan, np.arange(3.0)),
     ValueError, "rate_fn"),
    (lambda: ratenet.TuningCurveActivation.from_callable(np.abs, np.arange(3.0) + 1j), TypeError, "J"),
    (lambda: ratenet.TuningCurveActivation.from_callable(np.abs, "abc"), TypeError, "J"),
    (lambda: ratenet.TuningCurveActivation.from_model("lif", np.arange(3.0)), TypeError, "neuron"),
    (lambda: ratenet.TuningCurveActivation.from_model(neurosim.LIF(), np.arange(3.0), t_start="a"),
     TypeError, "t_start"),
])
def test_tuning_curve_activation(call, err, name):
    with pytest.raises(err, match=name):
        call()


# -- plotting and torch -------------------------------------------------------------
def test_plotting_arguments():
    pytest.importorskip("matplotlib", reason="pip install matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from ratenet.plotting import plot_decision_boundary, plot_history
    model = ratenet.Sequential([ratenet.Dense(2, 1, rng=0), ratenet.Sigmoid()])
    X = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(TypeError, match="model"):
        plot_decision_boundary("m", X)
    with pytest.raises(ValueError, match="resolution"):
        plot_decision_boundary(model, X, resolution=10**12)
    for margin, err in [(np.nan, ValueError), (-1.0, ValueError), ("a", TypeError), (1j, TypeError)]:
        with pytest.raises(err, match="margin"):
            plot_decision_boundary(model, X, margin=margin)
    h = ratenet.History()
    h.append(0, {"loss": 1.0})
    with pytest.raises(TypeError, match="log"):
        plot_history(h, log="no")
    plot_decision_boundary(model, X, resolution=np.int64(5), margin=np.float32(0.2))
    plot_history(h, log=np.bool_(True))
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize("name", ["LIF", "SoftLIF"])
@pytest.mark.parametrize("param, value, err", [
    ("tau_m", np.nan, ValueError), ("tau_m", 0.0, ValueError), ("tau_ref", -1.0, ValueError),
    ("amplitude", "a", TypeError), ("amplitude", None, TypeError), ("tau_m", 1j, TypeError)])
def test_torch_modules_check_parameters(name, param, value, err):
    pytest.importorskip("torch", reason="pip install '.[torch]'")
    import ratenet.torch as rt
    with pytest.raises(err, match=param):
        getattr(rt, name)(**{param: value})
    assert getattr(rt, name)(tau_m=np.float32(0.02)).tau_m == pytest.approx(0.02)


@pytest.mark.parametrize("T", [1e12, 1e300])
def test_spiking_run_length_bounded_up_front(snn, T):
    with pytest.raises(ValueError, match="T="):
        snn.predict(np.ones((1, 2)), T=T)
    with pytest.raises(ValueError, match="T="):
        snn.default_t_average(T)


@pytest.mark.parametrize("name", [3, None, object()])
def test_initializers_as_rng_name_must_be_a_str(name):
    with pytest.raises(TypeError, match="name"):
        initializers.as_rng(0, name=name)
    assert isinstance(initializers.as_rng(np.int64(0)), np.random.Generator)


@pytest.mark.parametrize("J", [np.ones(0), np.ones((2, 2)), [1.0]])
def test_from_model_needs_a_current_axis(J):
    with pytest.raises(ValueError, match="J"):
        ratenet.TuningCurveActivation.from_model(neurosim.LIF(), J, T=0.05)
