"""ratenet <-> PyTorch: identical outputs and gradients, LIF modules against ratenet's derivative."""
import numpy as np
import pytest

import neurosim
import ratenet

torch = pytest.importorskip("torch", reason="PyTorch interop needs `pip install '.[torch]'`")
from ratenet import torch as rt  # noqa: E402

RTOL = {np.float32: 1e-6, np.float64: 1e-12}
TDT = {np.float32: torch.float32, np.float64: torch.float64}


def curve_act(**kw):
    J = np.linspace(0.0, 5.0, 40)
    kw = {"amplitude": 1 / 63, "offset": 1.0, **kw}
    return ratenet.TuningCurveActivation(J, neurosim.LIF().rate(J), **kw)


def all_activations():
    return [ratenet.Identity(), ratenet.Sigmoid(), ratenet.Tanh(), ratenet.HardTanh(), ratenet.Softsign(),
            ratenet.ReLU(), ratenet.LeakyReLU(0.1), ratenet.Softplus(),
            ratenet.LIFRate(amplitude=1 / 63), ratenet.SoftLIFRate(amplitude=1 / 63, sigma=0.05),
            ratenet.SoftLIFRate(tau_ref=0.0, sigma=0.5), curve_act(), curve_act(extrapolate="flat")]


def make_model(dtype, rng=0):
    acts = all_activations()
    layers, n = [], 12
    for k, act in enumerate(acts):
        layers += [ratenet.Dense(n, 12, rng=rng + k, dtype=dtype), act]
    layers += [ratenet.BatchNorm(12, momentum=0.2, eps=1e-4, dtype=dtype), ratenet.Dropout(0.3, rng=1),
               ratenet.Dense(12, 5, rng=99, dtype=dtype, bias=False), ratenet.Softmax()]
    model = ratenet.Sequential(layers)
    bn = model.layers[-4]
    r = np.random.default_rng(3)
    bn.running_mean[...] = r.normal(0, 0.3, 12)
    bn.running_var[...] = r.uniform(0.5, 2, 12)
    bn.gamma.data[...] = r.uniform(0.5, 1.5, 12)
    return model


def as_tensor(X, dtype):
    return torch.as_tensor(X, dtype=TDT[dtype])


def _compare_outputs(model, X, dtype, rtol):
    net = ratenet.to_torch(model)
    assert isinstance(net, torch.nn.Sequential) and not net.training
    assert net[0].weight.dtype == TDT[dtype]
    with torch.no_grad():
        Yt = net(as_tensor(X, dtype)).numpy()
    Y = model.forward(X)
    assert Yt.dtype == Y.dtype == dtype
    # relative to the output's scale: an output that is a sum with cancellation
    # (the last Dense) differs in its low bits between any two BLAS summation orders
    np.testing.assert_allclose(Yt, Y, rtol=rtol, atol=rtol * np.abs(Y).max())
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), model.layers[0].W)   # (out, in) as is


def test_to_torch_gives_the_same_outputs_float64_deep():
    X = np.random.default_rng(0).normal(0, 1, (64, 12))
    _compare_outputs(make_model(np.float64), X, np.float64, 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", range(len(all_activations())))
def test_to_torch_gives_the_same_outputs_per_activation(dtype, k):
    act = all_activations()[k]
    model = ratenet.Sequential([ratenet.Dense(12, 16, rng=k, dtype=dtype), act,
                                ratenet.BatchNorm(16, dtype=dtype), ratenet.Dense(16, 4, rng=9, dtype=dtype)])
    X = np.random.default_rng(k).normal(0, 1, (64, 12)).astype(dtype)
    model.forward(X, training=True)                    # non-trivial running statistics
    _compare_outputs(model, X, dtype, RTOL[dtype])


def _ratenet_grads(model, X, G, training):
    Y = model.forward(X, training=training)
    model.zero_grad()
    dX = model.backward(G.copy())
    return Y, dX, [p.grad.copy() for p in model.parameters()]


def _torch_grads(net, X, G, dtype):
    x = as_tensor(X, dtype).requires_grad_(True)
    Y = net(x)
    (Y * as_tensor(G, dtype)).sum().backward()
    return Y.detach().numpy(), x.grad.numpy(), [p.grad.numpy() for p in net.parameters()]


def test_round_trip_ratenet_torch_ratenet_is_identical_in_training_mode():
    dtype = np.float64
    model = make_model(dtype)
    model.layers[-3].rate = 0.0                        # dropout masks differ between libraries
    back = ratenet.from_torch(ratenet.to_torch(model))
    assert back.architecture() == model.architecture()
    r = np.random.default_rng(1)
    X, G = r.normal(0, 1, (32, 12)), r.normal(0, 1, (32, 5))
    Y1, dX1, g1 = _ratenet_grads(model, X, G, training=True)
    Y2, dX2, g2 = _ratenet_grads(back, X, G, training=True)
    np.testing.assert_array_equal(Y1, Y2)
    np.testing.assert_array_equal(dX1, dX2)
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.buffers(), back.buffers()):   # running statistics updated alike
        np.testing.assert_array_equal(a, b)


def small_model(dtype):
    model = ratenet.Sequential([
        ratenet.Dense(12, 16, rng=0, dtype=dtype), ratenet.BatchNorm(16, momentum=0.2, dtype=dtype),
        ratenet.SoftLIFRate(amplitude=1 / 63), ratenet.Dropout(0.0),
        ratenet.Dense(16, 16, rng=1, dtype=dtype), ratenet.SoftLIFRate(amplitude=1 / 63, sigma=0.1),
        ratenet.Dense(16, 16, rng=2, dtype=dtype), curve_act(),
        ratenet.Dense(16, 5, rng=3, dtype=dtype), ratenet.Softmax()])
    for d in model.layers[4::2]:
        if isinstance(d, ratenet.Dense):
            d.b = np.full(d.n_out, 0.3, dtype)          # keep the LIF units mostly active
    return model


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-11)])
def test_torch_and_ratenet_training_step_agree_outputs_gradients_running_stats(dtype, rtol):
    model = small_model(dtype)
    net = ratenet.to_torch(model).train()
    r = np.random.default_rng(2)
    X, G = r.normal(0, 1, (32, 12)).astype(dtype), r.normal(0, 1, (32, 5)).astype(dtype)
    Yr, dXr, gr = _ratenet_grads(model, X, G, training=True)
    Yt, dXt, gt = _torch_grads(net, X, G, dtype)
    # relative to each array's scale (sums with cancellation differ in their low bits)
    scale = lambda a: dict(rtol=rtol, atol=rtol * np.abs(a).max())  # noqa: E731
    np.testing.assert_allclose(Yt, Yr, **scale(Yr))
    np.testing.assert_allclose(dXt, dXr, **scale(dXr))
    assert len(gt) == len(gr) == 10
    big = max(np.abs(g).max() for g in gr)      # e.g. a bias before BatchNorm has a zero gradient
    for a, b in zip(gt, gr):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * big)
    bn, tbn = model.layers[1], net[1]
    np.testing.assert_allclose(tbn.running_mean.numpy(), bn.running_mean, **scale(bn.running_mean))
    np.testing.assert_allclose(tbn.running_var.numpy(), bn.running_var, **scale(bn.running_var))


def test_round_trip_torch_ratenet_torch_is_identical():
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16, momentum=0.3), rt.SoftLIF(amplitude=1 / 63),
                        nn.Sequential(nn.Linear(16, 16), nn.LeakyReLU(0.2)), nn.Dropout(0.1),
                        nn.Linear(16, 8), rt.LIF(amplitude=0.01), nn.Linear(8, 3), nn.LogSoftmax(dim=1)).double()
    with torch.no_grad():
        net[1].running_mean.normal_()
        net[1].running_var.uniform_(0.5, 2)
    net.eval()
    model = ratenet.from_torch(net)
    assert [type(l).__name__ for l in model.layers] == [
        "Dense", "BatchNorm", "SoftLIFRate", "Dense", "LeakyReLU", "Dropout", "Dense", "LIFRate", "Dense",
        "LogSoftmax"]
    again = ratenet.to_torch(model)
    x = torch.randn(20, 6, dtype=torch.float64)
    with torch.no_grad():
        y1, y2 = net(x), again(x)
    assert torch.equal(y1, y2)
    np.testing.assert_allclose(model.forward(x.numpy()), y1.numpy(), rtol=1e-12)
    g = torch.randn(20, 3, dtype=torch.float64)
    for m in (net, again):
        m.zero_grad()
        (m(x) * g).sum().backward()
    for a, b in zip(net.parameters(), again.parameters()):
        assert torch.equal(a.grad, b.grad)


ACTS = {"lif": lambda: ratenet.LIFRate(amplitude=0.05),
        "softlif": lambda: ratenet.SoftLIFRate(amplitude=1 / 63),
        "softlif-wide": lambda: ratenet.SoftLIFRate(tau_ref=0.0, sigma=0.5),
        "curve": curve_act, "curve-flat": lambda: curve_act(extrapolate="flat", scale=2.0, offset=0.5)}


@pytest.mark.parametrize("name", list(ACTS))
def test_lif_modules_autograd_equals_ratenet_derivative(name):
    act = ACTS[name]()
    mod = ratenet.to_torch(ratenet.Sequential([ratenet.Dense(1, 1, dtype=np.float64), act]))[1]
    r = np.random.default_rng(4)
    z = r.uniform(-3, 6, 400)
    z[np.abs(z) < 0.05] += 0.1                        # LIFRate's slope is infinite at 0+
    z = np.concatenate([z, [-1e4, -30.0, -0.41, -0.39, 40.0, 5.5, 6.2]])   # tails and curve ends
    zt = torch.tensor(z, requires_grad=True)
    y = mod(zt)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), act.function(z), rtol=1e-12, atol=0)
    np.testing.assert_allclose(zt.grad.numpy(), act.derivative(z), rtol=1e-11, atol=1e-300)
    # and autograd against torch's own finite differences
    zc = torch.tensor(z[:40], requires_grad=True)
    assert torch.autograd.gradcheck(mod, (zc,), eps=1e-7, atol=1e-7, rtol=1e-5)


def test_softlif_module_is_strictly_positive_with_finite_gradient_far_below_threshold():
    z = torch.tensor([-1e6, -1e3, -15.0, -0.4], dtype=torch.float32, requires_grad=True)
    y = rt.SoftLIF(amplitude=1 / 63)(z)
    y.sum().backward()
    assert (y > 0).all() and torch.isfinite(z.grad).all() and (z.grad > 0).all()


def test_unsupported_layers_raise_type_error_naming_the_layer():
    nn = torch.nn
    with pytest.raises(TypeError, match=r"layer 1 \(Conv1d"):
        ratenet.from_torch(nn.Sequential(nn.Linear(3, 3), nn.Conv1d(1, 1, 1)))
    with pytest.raises(TypeError, match="layer 0.*GELU"):
        ratenet.from_torch(nn.Sequential(nn.GELU()))
    with pytest.raises(ValueError, match="Hardtanh"):
        ratenet.from_torch(nn.Sequential(nn.Hardtanh(0, 6)))
    with pytest.raises(ValueError, match="momentum"):
        ratenet.from_torch(nn.Sequential(nn.BatchNorm1d(3, momentum=None)))
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        ratenet.from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="ratenet.Sequential"):
        ratenet.to_torch(nn.Sequential())

    class Custom(ratenet.Activation):
        def function(self, z):
            return z

    with pytest.raises(TypeError, match="layer 1.*Custom"):
        ratenet.to_torch(ratenet.Sequential([ratenet.Dense(2, 2), Custom()]))


def test_ratenet_imports_without_torch():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; import ratenet; "
            "assert callable(ratenet.to_torch)\n"
            "try:\n    ratenet.to_torch(ratenet.Sequential([ratenet.Dense(2, 2)]))\n"
            "except ImportError as e:\n    assert \"pip install '.[torch]'\" in str(e); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_root())
    assert out.stdout.strip() == "ok", out.stderr


def _root():
    import pathlib
    return str(pathlib.Path(ratenet.__file__).resolve().parents[1])


@pytest.mark.parametrize("k", range(len(all_activations())))
def test_every_activation_autograd_equals_ratenet_derivative(k):
    act = all_activations()[k]
    mod = ratenet.to_torch(ratenet.Sequential([ratenet.Dense(1, 1, dtype=np.float64), act]))[1]
    z = np.random.default_rng(k).uniform(-3, 5, 300)
    z[np.abs(z) < 0.05] += 0.1                          # kinks of ReLU/LIF at 0
    z[np.abs(np.abs(z) - 1) < 0.02] += 0.05             # HardTanh's kinks at ±1
    zt = torch.tensor(z, requires_grad=True)
    mod(zt).sum().backward()
    np.testing.assert_allclose(zt.grad.numpy(), act.derivative(z), rtol=1e-11, atol=1e-300)
