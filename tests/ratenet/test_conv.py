"""Image layers: Conv2D, AvgPool2D, MaxPool2D, Flatten and BatchNorm over channels.

Oracles, independent of the im2col implementation:
- a direct convolution / pooling written as loops over every output pixel (tiny shapes);
- the same computations written in ratenet.autodiff (per kernel tap, gathers by index),
  compared with ``check_layer`` (output, dX and every parameter gradient);
- centered finite differences (``gradient_check``);
- BatchNorm over channels equals the 2-D BatchNorm on the (n·H·W, C) pixel rows;
- ``torch.nn.functional`` in float64 to 1e-10 (skipped without torch).
Every comparison is relative to 1e-10 or tighter, so an output scaled by 1.5 fails.
"""
import json
import os

import numpy as np
import pytest

import ratenet
import ratenet.autodiff as ad
from ratenet import AvgPool2D, BatchNorm, Conv2D, Dense, Flatten, MaxPool2D, Sequential

F64 = np.float64
TORCH = "PyTorch reference needs `pip install torch` (CPU wheel: pip install torch --index-url https://download.pytorch.org/whl/cpu)"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def close(a, b, tol=1e-12):
    a, b = np.asarray(a, F64), np.asarray(b, F64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.abs(b).max(initial=0)))
    err = float(np.abs(a - b).max(initial=0))
    assert err <= tol * scale, f"max abs difference {err:.3g} (scale {scale:.3g})"


# ------------------------------------------------------------------ oracles
def naive_conv(X, W, b, stride, pad):
    """Direct cross-correlation, one output pixel at a time."""
    n, c, h, w = X.shape
    o, _, kh, kw = W.shape
    Xp = np.zeros((n, c, h + 2 * pad[0], w + 2 * pad[1]))
    Xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + w] = X
    ho, wo = (Xp.shape[2] - kh) // stride[0] + 1, (Xp.shape[3] - kw) // stride[1] + 1
    Y = np.zeros((n, o, ho, wo))
    for s in range(n):
        for k in range(o):
            for y in range(ho):
                for x in range(wo):
                    patch = Xp[s, :, y * stride[0]:y * stride[0] + kh, x * stride[1]:x * stride[1] + kw]
                    Y[s, k, y, x] = np.sum(patch * W[k]) + (0.0 if b is None else b[k])
    return Y


def naive_pool(X, kernel, stride, pad, how):
    n, c, h, w = X.shape
    fill = -np.inf if how == "max" else 0.0
    Xp = np.full((n, c, h + 2 * pad[0], w + 2 * pad[1]), fill)
    Xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + w] = X
    ho, wo = (Xp.shape[2] - kernel[0]) // stride[0] + 1, (Xp.shape[3] - kernel[1]) // stride[1] + 1
    Y = np.zeros((n, c, ho, wo))
    for y in range(ho):
        for x in range(wo):
            win = Xp[:, :, y * stride[0]:y * stride[0] + kernel[0], x * stride[1]:x * stride[1] + kernel[1]]
            Y[:, :, y, x] = win.max(axis=(2, 3)) if how == "max" else win.mean(axis=(2, 3))
    return Y


def _pad_matrix(size, pad):
    """(size + 2 pad, size) 0/1 matrix: zero padding as a product, for autodiff."""
    P = np.zeros((size + 2 * pad, size))
    P[np.arange(size) + pad, np.arange(size)] = 1.0
    return P


def _ad_taps(Xp, kernel, stride, out_hw):
    """Every kernel tap's view of the padded input, gathered by index arrays (autodiff)."""
    ys, xs = np.arange(out_hw[0]) * stride[0], np.arange(out_hw[1]) * stride[1]
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, ad.getitem(Xp, (slice(None), slice(None), (ys + i)[:, None], (xs + j)[None, :]))


def ad_conv(stride, pad, shape, kernel):
    n, c, h, w = shape
    ho, wo = (h + 2 * pad[0] - kernel[0]) // stride[0] + 1, (w + 2 * pad[1] - kernel[1]) // stride[1] + 1

    def fn(X, W, b):
        Xp = ad.matmul(ad.matmul(_pad_matrix(h, pad[0]), X), _pad_matrix(w, pad[1]).T)
        out = None
        for i, j, tap in _ad_taps(Xp, kernel, stride, (ho, wo)):
            term = ad.matmul(W[:, :, i, j], ad.reshape(tap, (n, c, ho * wo)))     # (n, o, ho·wo)
            out = term if out is None else out + term
        return ad.reshape(out, (n, -1, ho, wo)) + ad.reshape(b, (1, -1, 1, 1))
    return fn


def ad_pool(kernel, stride, shape, how):
    n, c, h, w = shape
    ho, wo = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1

    def fn(X):
        out = None
        for _, _, tap in _ad_taps(X, kernel, stride, (ho, wo)):
            if out is None:
                out = tap
            elif how == "max":
                out = out + ad.relu(tap - out)        # max(out, tap); ties keep the earlier tap
            else:
                out = out + tap
        return out if how == "max" else out / (kernel[0] * kernel[1])
    return fn


def ad_batchnorm(eps):
    def fn(X, gamma, beta):
        mu = ad.mean(X, axis=(0, 2, 3), keepdims=True)
        xc = X - mu
        var = ad.mean(xc * xc, axis=(0, 2, 3), keepdims=True)
        return ad.reshape(gamma, (1, -1, 1, 1)) * xc / (var + eps) ** 0.5 + ad.reshape(beta, (1, -1, 1, 1))
    return fn


# ------------------------------------------------------- numpy oracle tests
CONV_CASES = [  # (n, c, o, h, w, kernel, stride, padding)
    (2, 1, 3, 5, 6, (3, 3), (1, 1), (0, 0)),
    (3, 2, 2, 7, 5, (3, 2), (2, 1), (1, 0)),
    (1, 3, 4, 6, 6, (2, 2), (2, 2), (1, 1)),
    (2, 2, 1, 4, 9, (1, 4), (3, 2), (0, 2)),
    (2, 1, 2, 3, 3, (3, 3), (1, 1), (2, 2)),
]


@pytest.mark.parametrize("n, c, o, h, w, kernel, stride, pad", CONV_CASES)
def test_conv_forward_equals_a_direct_convolution(n, c, o, h, w, kernel, stride, pad, rng):
    conv = Conv2D(c, o, kernel, stride=stride, padding=pad, rng=0, dtype=F64)
    conv.b = rng.standard_normal(o)
    X = rng.standard_normal((n, c, h, w))
    close(conv.forward(X), naive_conv(X, conv.W, conv.b, stride, pad))


@pytest.mark.parametrize("n, c, o, h, w, kernel, stride, pad", CONV_CASES)
def test_conv_check_layer_against_autodiff(n, c, o, h, w, kernel, stride, pad, rng):
    conv = Conv2D(c, o, kernel, stride=stride, padding=pad, rng=1, dtype=F64)
    conv.b = rng.standard_normal(o)
    X = rng.standard_normal((n, c, h, w))
    check = ad.check_layer(conv, ad_conv(stride, pad, X.shape, kernel), X, rng=2)
    assert set(check.diffs) == {"output", "dX", "W", "b"}
    assert check.max_rel < 1e-12, str(check)


def test_conv_analytic_values_and_scale():
    """All-ones 3x3 kernel on a ones image with padding 1: 9 inside, 6 on edges, 4 in corners."""
    conv = Conv2D(1, 1, 3, padding=1, dtype=F64)
    conv.W = np.ones((1, 1, 3, 3))
    conv.b = [0.5]
    Y = conv.forward(np.ones((1, 1, 4, 5)))[0, 0]
    want = np.full((4, 5), 9.0)
    want[[0, -1], :] = 6.0
    want[:, [0, -1]] = 6.0
    want[[0, 0, -1, -1], [0, -1, 0, -1]] = 4.0
    np.testing.assert_array_equal(Y, want + 0.5)
    dX = conv.backward(np.ones((1, 1, 4, 5)))
    np.testing.assert_array_equal(dX[0, 0], want)     # the adjoint counts the same overlaps
    assert conv.dW.sum() == pytest.approx(want.sum(), rel=1e-15) and conv.db[0] == 20.0


@pytest.mark.parametrize("how, cls", [("avg", AvgPool2D), ("max", MaxPool2D)])
@pytest.mark.parametrize("kernel, stride, pad", [((2, 2), None, (0, 0)), ((3, 2), (1, 2), (1, 1)),
                                                 ((2, 3), (2, 1), (0, 1)), ((3, 3), (2, 2), (1, 0))])
def test_pools_equal_direct_loops(how, cls, kernel, stride, pad, rng):
    X = rng.standard_normal((2, 3, 7, 8))
    Y = cls(kernel, stride, pad).forward(X)
    close(Y, naive_pool(X, kernel, stride or kernel, pad, how))


@pytest.mark.parametrize("how, cls", [("avg", AvgPool2D), ("max", MaxPool2D)])
@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((2, 3), (2, 1))])
def test_pools_check_layer_against_autodiff(how, cls, kernel, stride, rng):
    X = rng.standard_normal((2, 2, 7, 8))
    check = ad.check_layer(cls(kernel, stride), ad_pool(kernel, stride, X.shape, how), X, rng=3)
    assert check.max_rel < 1e-12, str(check)


def test_pool_analytic_values():
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(AvgPool2D(2).forward(X)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(MaxPool2D(2).forward(X)[0, 0], [[5, 7], [13, 15]])
    dX = MaxPool2D(2).backward if False else None
    pool = MaxPool2D(2)
    pool.forward(X)
    dX = pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    want = np.zeros((4, 4))
    want[1, 1], want[1, 3], want[3, 1], want[3, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(dX[0, 0], want)
    avg = AvgPool2D(2)
    avg.forward(X)
    np.testing.assert_array_equal(avg.backward(np.ones((1, 1, 2, 2))), np.full((1, 1, 4, 4), 0.25))


def test_maxpool_ties_go_to_the_first_maximum():
    pool = MaxPool2D(2)
    pool.forward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 1)))[0, 0], [[1, 0], [0, 0]])


def test_flatten_check_layer_and_layout(rng):
    X = rng.standard_normal((3, 2, 4, 5))
    check = ad.check_layer(Flatten(), lambda X: ad.reshape(X, (3, -1)), X, rng=0)
    assert check.max_abs == 0.0
    np.testing.assert_array_equal(Flatten().forward(X)[1], X[1].ravel())    # C order, as torch


def test_batchnorm_channels_equals_batchnorm_on_pixel_rows(rng):
    """Per-channel statistics over (n, H, W) are per-feature statistics over the pixel rows."""
    X = rng.standard_normal((4, 3, 5, 6)) * 2 + 1
    dY = rng.standard_normal(X.shape)
    img, rows = BatchNorm(3, momentum=0.3, dtype=F64), BatchNorm(3, momentum=0.3, dtype=F64)
    img.gamma.data[:] = rows.gamma.data[:] = [0.5, 2.0, -1.0]
    img.beta.data[:] = rows.beta.data[:] = [0.1, 0.2, 0.3]
    to_rows = lambda A: A.transpose(0, 2, 3, 1).reshape(-1, 3)
    for training in (True, False):
        Y = img.forward(X, training=training)
        Yr = rows.forward(to_rows(X), training=training)
        close(to_rows(Y), Yr)
        close(to_rows(img.backward(dY)), rows.backward(to_rows(dY)))
        close(img.gamma.grad, rows.gamma.grad)
        close(img.beta.grad, rows.beta.grad)
    close(img.running_mean, rows.running_mean)
    close(img.running_var, rows.running_var)


def test_batchnorm_channels_running_statistics_convention(rng):
    """torch's convention: momentum weights the new batch; the running variance is unbiased."""
    X = rng.standard_normal((3, 2, 4, 4)) * 3
    bn = BatchNorm(2, momentum=1.0, dtype=F64)
    Y = bn.forward(X, training=True)
    close(bn.running_mean, X.mean(axis=(0, 2, 3)))
    close(bn.running_var, X.var(axis=(0, 2, 3), ddof=1))      # ddof=1: 1.5 % above the biased one here
    close(Y, (X - X.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(X.var(axis=(0, 2, 3), keepdims=True) + 1e-5))


def test_batchnorm_channels_check_layer(rng):
    X = rng.standard_normal((3, 2, 3, 4))
    bn = BatchNorm(2, dtype=F64)
    bn.gamma.data[:] = [1.5, -0.5]
    bn.beta.data[:] = [0.2, 0.1]
    check = ad.check_layer(bn, ad_batchnorm(bn.eps), X, training=True, rng=4)
    assert check.max_rel < 1e-10, str(check)


def _cnn(dtype=F64, pool=AvgPool2D, bn=False):
    layers = [Conv2D(1, 3, 3, padding=1, rng=0, dtype=dtype)]
    layers += [BatchNorm(3, dtype=dtype)] if bn else []
    layers += [ratenet.Tanh(), pool(2), Conv2D(3, 2, 2, stride=1, rng=1, dtype=dtype), ratenet.Softplus(),
               Flatten(), Dense(2 * 2 * 2, 3, rng=2, dtype=dtype), ratenet.Softmax()]
    return Sequential(layers)


@pytest.mark.parametrize("pool, bn", [(AvgPool2D, False), (MaxPool2D, False), (AvgPool2D, True)])
def test_cnn_gradients_match_finite_differences(pool, bn, rng):
    X = rng.standard_normal((4, 1, 6, 6))
    y = np.array([0, 2, 1, 2])
    errors = ratenet.gradient_check(_cnn(pool=pool, bn=bn), ratenet.CategoricalCrossEntropy(), X, y,
                                    training=bn, max_elements=25, rng=0)
    assert max(errors.values()) < 1e-7, errors
    assert {"0.W", "0.b", "input"} <= set(errors)


def test_float32_matches_float64(rng):
    X = rng.standard_normal((3, 1, 6, 6))
    m64, m32 = _cnn(F64), _cnn(np.float32)
    Y32 = m32.forward(X.astype(np.float32))
    assert Y32.dtype == np.float32
    close(Y32, m64.forward(X), tol=1e-5)
    m32.backward(np.ones_like(Y32))
    m64.backward(np.ones((3, 3)))
    for p32, p64 in zip(m32.parameters(), m64.parameters()):
        assert p32.grad.dtype == np.float32
        close(p32.grad, p64.grad, tol=1e-4)


def test_conv_initialization_uses_kernel_fans():
    conv = Conv2D(3, 8, 5, rng=0, dtype=F64)
    limit = np.sqrt(6.0 / (3 * 25 + 8 * 25))        # glorot: fan_in in·kh·kw, fan_out out·kh·kw
    assert np.abs(conv.W).max() <= limit and np.abs(conv.W).max() > 0.95 * limit
    assert conv.W.std() == pytest.approx(limit / np.sqrt(3), rel=0.1)
    he = Conv2D(4, 16, 3, init="he_normal", rng=0, dtype=F64)
    assert he.W.std() == pytest.approx(np.sqrt(2.0 / 36), rel=0.1)
    np.testing.assert_array_equal(conv.b, 0)


def test_sequential_shapes_and_summary():
    m = Sequential([Conv2D(1, 16, 5), ratenet.ReLU(), AvgPool2D(2), Conv2D(16, 32, 5), ratenet.ReLU(),
                    AvgPool2D(2), Flatten(), Dense(512, 10)])
    assert m.n_in == (1, None, None) and m.n_out == 10
    text = m.summary()
    assert "(n, 32, ?, ?)" in text and "Total parameters: 18,378" in text
    assert m.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    pool_first = Sequential([AvgPool2D(2), Flatten(), Dense(4, 2)])
    assert pool_first.n_in == (None, None, None)
    assert pool_first.forward(np.ones((1, 1, 4, 4))).shape == (1, 2)


def test_fit_trains_a_cnn_on_image_batches(rng):
    X = rng.standard_normal((40, 1, 6, 6)).astype(np.float32)
    y = (X[:, 0, :3].sum(axis=(1, 2)) > X[:, 0, 3:].sum(axis=(1, 2))).astype(int)
    model = Sequential([Conv2D(1, 4, 3, rng=0), ratenet.ReLU(), AvgPool2D(2), Flatten(), Dense(16, 2, rng=1),
                        ratenet.Softmax()])
    hist = ratenet.fit(model, X, y, ratenet.CategoricalCrossEntropy(), ratenet.Adam(lr=0.01), epochs=15,
                       batch_size=8, validation_data=(X[:10], y[:10]), verbose=0, rng=0)
    assert hist["loss"][-1] < 0.6 * hist["loss"][0]
    assert ratenet.evaluate(model, X, y, ratenet.CategoricalCrossEntropy())["accuracy"] > 0.8


# ------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path, rng):
    m = Sequential([Conv2D(1, 3, (3, 2), stride=(2, 1), padding=(1, 0), rng=0), BatchNorm(3), ratenet.ReLU(),
                    MaxPool2D(2, stride=1), AvgPool2D(2, padding=1), Flatten(), Dense(3 * 2 * 3, 2, rng=1)])
    X = rng.standard_normal((5, 1, 7, 6)).astype(np.float32)
    m.forward(X, training=True)                   # non-trivial running statistics
    path = m.save(tmp_path / "cnn")
    m2 = ratenet.load(path)
    assert repr(m2) == repr(m)
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        np.testing.assert_array_equal(a, b)


def _write(path, arch, arrays):
    arrays = dict(arrays)
    arrays["__ratenet__"] = np.array(json.dumps(arch))
    arrays["__version__"] = np.array(1, dtype=np.int64)
    np.savez(path, **arrays)
    return path


def test_load_validates_conv_shapes_and_config(tmp_path):
    m = Sequential([Conv2D(2, 3, 3, rng=0), Flatten()])
    arch, state = m.architecture(), m.state_dict()
    bad = json.loads(json.dumps(arch))
    bad["layers"][0]["config"]["kernel"] = 5                # W on file is 3x3
    with pytest.raises(ValueError, match=r"0\.W.*shape \(3, 2, 3, 3\).*needs \(3, 2, 5, 5\)"):
        ratenet.load(_write(os.path.join(tmp_path, "a.npz"), bad, state))
    for key, value in (("kernel", "3"), ("kernel", [3, 3, 3]), ("stride", 0), ("padding", -1), ("in_ch", 2.5)):
        bad = json.loads(json.dumps(arch))
        bad["layers"][0]["config"][key] = value
        with pytest.raises(ValueError, match="not a readable ratenet model"):
            ratenet.load(_write(os.path.join(tmp_path, f"{key}.npz"), bad, state))
    pool = Sequential([MaxPool2D(2), Flatten()]).architecture()
    pool["layers"][0]["config"]["padding"] = 2              # more than half the kernel
    with pytest.raises(ValueError, match="padding"):
        ratenet.load(_write(os.path.join(tmp_path, "p.npz"), pool, {}))


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(in_ch=0, out_ch=2, kernel=3), ValueError, "in_ch"),
    (dict(in_ch=1, out_ch=2.5, kernel=3), TypeError, "out_ch"),
    (dict(in_ch=1, out_ch=2, kernel="3"), TypeError, "kernel"),
    (dict(in_ch=1, out_ch=2, kernel=(3, 3, 3)), ValueError, "kernel"),
    (dict(in_ch=1, out_ch=2, kernel=3, stride=0), ValueError, "stride"),
    (dict(in_ch=1, out_ch=2, kernel=3, padding=-1), ValueError, "padding"),
    (dict(in_ch=1, out_ch=2, kernel=3, dtype=np.int32), (TypeError, ValueError), "dtype"),
    (dict(in_ch=1, out_ch=2, kernel=3, bias="yes"), TypeError, "bias"),
])
def test_conv_constructor_errors(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        Conv2D(**kwargs)


@pytest.mark.parametrize("cls", [AvgPool2D, MaxPool2D])
def test_pool_constructor_errors(cls):
    with pytest.raises(ValueError, match="kernel"):
        cls(0)
    with pytest.raises(TypeError, match="stride"):
        cls(2, stride="1")
    with pytest.raises(ValueError, match="padding"):
        cls(2, padding=2)


def test_forward_and_backward_errors():
    conv = Conv2D(2, 3, 3)
    with pytest.raises(ValueError, match=r"X: expected a 4-D image batch \(n_samples, 2, \?, \?\)"):
        conv.forward(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"reshape\(-1, 2, 4, 4\)"):
        conv.forward(np.zeros((1, 32)))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        conv.forward(np.zeros((1, 2, 2, 5)))
    with pytest.raises(TypeError, match="X"):
        conv.forward(np.zeros((1, 2, 5, 5), complex))
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2D(1, 1, 1).backward(np.zeros((1, 1, 1, 1)))
    conv.forward(np.zeros((2, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"dY: expected shape \(2, 3, 3, 3\)"):
        conv.backward(np.zeros((2, 3, 3, 2)))
    with pytest.raises(TypeError, match="input_grad"):
        conv.backward(np.zeros((2, 3, 3, 3)), input_grad="no")
    with pytest.raises(ValueError, match="X"):
        Flatten().forward(np.zeros(3))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        AvgPool2D(3).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"layers\[3\].*expects inputs \(n, 5\).*\(n, 3, \?, \?\).*Flatten"):
        Sequential([Conv2D(1, 3, 3), ratenet.ReLU(), AvgPool2D(2), Dense(5, 2)])
    with pytest.raises(ValueError, match=r"layers\[1\].*\(n, 2, \?, \?\).*\(n, 3, \?, \?\)"):
        Sequential([Conv2D(1, 3, 3), Conv2D(2, 3, 3)])
    with pytest.raises(ValueError, match=r"layers\[2\].*expected 5 features"):
        Sequential([Conv2D(1, 1, 3), Flatten(), Dense(5, 2)]).forward(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="BatchNorm"):
        Sequential([Conv2D(1, 3, 3), BatchNorm(4)])


# ---------------------------------------------------------- torch reference
def _torch():
    return pytest.importorskip("torch", reason=TORCH)


def test_conv_and_pools_equal_torch_functional_float64():
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    for trial in range(25):
        n, c, o = (int(v) for v in rng.integers(1, 4, 3))
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        pad = tuple(int(v) for v in rng.integers(0, 3, 2))
        h, w = (int(k + v) for k, v in zip(kernel, rng.integers(0, 7, 2)))
        X = rng.standard_normal((n, c, h, w))
        conv = Conv2D(c, o, kernel, stride=stride, padding=pad, rng=trial, dtype=F64)
        conv.b = rng.standard_normal(o)
        Y = conv.forward(X)
        dY = rng.standard_normal(Y.shape)
        dX = conv.backward(dY)
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (X, conv.W, conv.b))
        yt = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
        yt.backward(torch.tensor(dY))
        for mine, ref in ((Y, yt), (dX, xt.grad), (conv.dW, wt.grad), (conv.db, bt.grad)):
            close(mine, ref.detach().numpy(), tol=1e-10)
        ppad = tuple(min(p, k // 2) for p, k in zip(pad, kernel))
        for cls, fn in ((AvgPool2D, F.avg_pool2d), (MaxPool2D, F.max_pool2d)):
            pool = cls(kernel, stride, ppad)
            Y = pool.forward(X)
            dY = rng.standard_normal(Y.shape)
            dX = pool.backward(dY)
            xt = torch.tensor(X, requires_grad=True)
            yt = fn(xt, kernel, stride, ppad)
            yt.backward(torch.tensor(dY))
            close(Y, yt.detach().numpy(), tol=1e-10)
            close(dX, xt.grad.numpy(), tol=1e-10)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 2)])
def test_batchnorm_equals_torch_float64(shape):
    torch = _torch()
    rng = np.random.default_rng(3)
    bn = BatchNorm(4, momentum=0.25, eps=1e-3, dtype=F64)
    bn.gamma.data[:] = rng.standard_normal(4)
    bn.beta.data[:] = rng.standard_normal(4)
    tbn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(4, eps=1e-3, momentum=0.25,
                                                                             dtype=torch.float64)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(bn.gamma.data))
        tbn.bias.copy_(torch.tensor(bn.beta.data))
    for step, training in enumerate((True, True, False)):
        X = rng.standard_normal(shape) * (step + 1) + step
        dY = rng.standard_normal(shape)
        tbn.train(training)
        xt = torch.tensor(X, requires_grad=True)
        yt = tbn(xt)
        yt.backward(torch.tensor(dY))
        close(bn.forward(X, training=training), yt.detach().numpy(), tol=1e-10)
        close(bn.backward(dY), xt.grad.numpy(), tol=1e-10)
        close(bn.gamma.grad, tbn.weight.grad.numpy(), tol=1e-10)
        close(bn.beta.grad, tbn.bias.grad.numpy(), tol=1e-10)
        tbn.weight.grad = tbn.bias.grad = None
        close(bn.running_mean, tbn.running_mean.numpy(), tol=1e-12)
        close(bn.running_var, tbn.running_var.numpy(), tol=1e-12)


def test_to_torch_and_back_with_image_layers(rng):
    torch = _torch()
    m = Sequential([Conv2D(1, 4, 3, rng=0, dtype=F64), BatchNorm(4, dtype=F64), ratenet.ReLU(), MaxPool2D(2),
                    Conv2D(4, 6, (3, 2), stride=(1, 2), padding=1, rng=1, dtype=F64), AvgPool2D(2, stride=1),
                    Flatten(), Dense(6 * 5 * 3, 5, rng=2, dtype=F64)])
    X = rng.standard_normal((7, 1, 14, 14))
    m.forward(X, training=True)
    net = ratenet.to_torch(m)
    assert isinstance(net[1], torch.nn.BatchNorm2d) and isinstance(net[0], torch.nn.Conv2d)
    assert isinstance(net[6], torch.nn.Flatten)
    with torch.no_grad():
        close(net(torch.tensor(X)).numpy(), m.predict(X), tol=1e-12)
    back = ratenet.from_torch(net)
    assert repr(back) == repr(m)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    dense_bn = ratenet.to_torch(Sequential([Dense(3, 4), BatchNorm(4)]))
    assert isinstance(dense_bn[1], torch.nn.BatchNorm1d)


def test_from_torch_refuses_what_ratenet_cannot_express():
    torch = _torch()
    nn = torch.nn
    for mod, what in ((nn.Conv2d(2, 2, 3, groups=2), "groups"), (nn.Conv2d(1, 2, 3, dilation=2), "dilation"),
                      (nn.Conv2d(1, 2, 3, padding="same"), "padding"),
                      (nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), "padding_mode"),
                      (nn.AvgPool2d(2, ceil_mode=True), "ceil_mode"),
                      (nn.AvgPool2d(2, padding=1, count_include_pad=False), "count_include_pad"),
                      (nn.MaxPool2d(2, dilation=2), "dilation"), (nn.Flatten(2), "Flatten")):
        with pytest.raises(ValueError, match=what):
            ratenet.from_torch(nn.Sequential(mod))
    conv = ratenet.from_torch(nn.Sequential(nn.Conv2d(1, 2, 3, padding="valid", bias=False)))
    assert conv[0].padding == (0, 0) and conv[0].bias is None


def test_layers_package_keeps_every_import_path():
    from ratenet.layers import (LAYER_REGISTRY, BatchNorm as B, Dense as D, Dropout, Layer,  # noqa: F401
                                _check_dtype, _check_float, all_finite, backward_args, check_batch, check_targets)
    from ratenet.layers import AvgPool2D as A, Conv2D as C, Flatten as Fl, MaxPool2D as M
    assert (B, D, A, C, Fl, M) == (ratenet.BatchNorm, ratenet.Dense, ratenet.AvgPool2D, ratenet.Conv2D,
                                   ratenet.Flatten, ratenet.MaxPool2D)
    assert {"Conv2D", "AvgPool2D", "MaxPool2D", "Flatten"} <= set(LAYER_REGISTRY) & set(ratenet.__all__)


def test_layer_shapes_with_an_input_shape():
    m = Sequential([Conv2D(1, 16, 5), ratenet.ReLU(), AvgPool2D(2), Conv2D(16, 32, 5, padding=1), AvgPool2D(2),
                    Flatten(), Dense(32 * 5 * 5, 10)])
    shapes = m.layer_shapes((1, 28, 28))
    assert shapes[0] == ((1, 28, 28), (16, 24, 24))
    assert [o for _, o in shapes[2:]] == [(16, 12, 12), (32, 10, 10), (32, 5, 5), 800, 10]
    assert "(n, 32, 10, 10)" in m.summary(input_shape=(1, 28, 28))
    with pytest.raises(ValueError, match=r"layers\[6\].*expects 800 inputs .* gives 512"):
        m.layer_shapes((1, 26, 26))
    with pytest.raises(ValueError, match=r"layers\[0\].*the input is \(n, 3, 28, 28\)"):
        m.layer_shapes((3, 28, 28))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        m.layer_shapes((1, 4, 4))
    with pytest.raises(TypeError, match="input_shape"):
        m.layer_shapes((1, 28.5, 28))
    with pytest.raises(ValueError, match="input_shape"):
        m.layer_shapes(())
