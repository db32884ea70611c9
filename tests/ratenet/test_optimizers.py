"""Each optimizer's update against its textbook formula, computed independently here."""
import math

import numpy as np
import pytest

from ratenet.optimizers import SGD, Adadelta, Adagrad, Adam, RMSprop
from ratenet.parameter import Parameter
from ratenet.schedules import Constant, ExponentialDecay, InverseDecay, StepDecay

W0 = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.75]])
G1 = np.array([[0.1, -0.2, 0.3], [-0.4, 0.0, 0.6]])
G2 = np.array([[-0.3, 0.1, 0.2], [0.5, -0.1, 0.0]])


def run(opt_cls, grads=(G1, G2), dtype=np.float64, **kw):
    p = Parameter(W0.copy(), dtype=dtype)
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad[...] = g
        opt.step()
    return p.data


def test_sgd_plain_hand_computed():
    # w - lr * g for the first entry: 0.5 - 0.1 * 0.1 = 0.49
    w = run(SGD, grads=(G1,), lr=0.1)
    assert w[0, 0] == pytest.approx(0.49)
    np.testing.assert_allclose(w, W0 - 0.1 * G1, rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum(nesterov):
    lr, mu = 0.1, 0.9
    w, v = W0.copy(), np.zeros_like(W0)
    for g in (G1, G2):
        v = mu * v + g
        w = w - lr * (g + mu * v if nesterov else v)
    np.testing.assert_allclose(run(SGD, lr=lr, momentum=mu, nesterov=nesterov), w, rtol=1e-14)


def test_weight_decay_and_l1_enter_gradient():
    lr, wd, l1 = 0.1, 0.01, 0.05
    w = W0.copy()
    for g in (G1, G2):
        w = w - lr * (g + wd * w + l1 * np.sign(w))
    np.testing.assert_allclose(run(SGD, lr=lr, weight_decay=wd, l1=l1), w, rtol=1e-14)


def test_weight_decay_does_not_touch_grad():
    p = Parameter(W0.copy())
    p.grad[...] = G1
    SGD([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_array_equal(p.grad, G1)


def test_clip_norm_global_over_parameters():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    a.grad[...] = [3.0, 0.0]
    b.grad[...] = [4.0]  # global norm 5
    SGD([a, b], lr=1.0, clip_norm=1.0).step()
    np.testing.assert_allclose(a.data, [-0.6, 0.0])
    np.testing.assert_allclose(b.data, [-0.8])
    # below the threshold: untouched
    c = Parameter(np.zeros(1))
    c.grad[...] = [0.5]
    SGD([c], lr=1.0, clip_norm=1.0).step()
    np.testing.assert_allclose(c.data, [-0.5])


def test_adagrad():
    lr, eps = 0.05, 1e-10
    w, G = W0.copy(), np.zeros_like(W0)
    for g in (G1, G2):
        G += g * g
        w = w - lr * g / (np.sqrt(G) + eps)
    np.testing.assert_allclose(run(Adagrad, lr=lr, eps=eps), w, rtol=1e-14)
    # first step hand-computed: 0.5 - 0.05 * 0.1 / 0.1 = 0.45
    assert run(Adagrad, grads=(G1,), lr=lr)[0, 0] == pytest.approx(0.45)


def test_rmsprop():
    lr, a, eps = 0.01, 0.9, 1e-8
    w, E = W0.copy(), np.zeros_like(W0)
    for g in (G1, G2):
        E = a * E + (1 - a) * g * g
        w = w - lr * g / (np.sqrt(E) + eps)
    np.testing.assert_allclose(run(RMSprop, lr=lr, alpha=a, eps=eps), w, rtol=1e-13)


def test_adadelta():
    lr, rho, eps = 1.0, 0.9, 1e-6
    w, Eg, Edx = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for g in (G1, G2):
        Eg = rho * Eg + (1 - rho) * g ** 2
        d = np.sqrt(Edx + eps) / np.sqrt(Eg + eps) * g
        Edx = rho * Edx + (1 - rho) * d ** 2
        w = w - lr * d
    np.testing.assert_allclose(run(Adadelta, lr=lr, rho=rho, eps=eps), w, rtol=1e-13)


def test_adam_bias_corrected():
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t, g in enumerate((G1, G2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * mh / (np.sqrt(vh) + eps)
    np.testing.assert_allclose(run(Adam, lr=lr, betas=(b1, b2), eps=eps), w, rtol=1e-13)
    # first bias-corrected step moves every weight with g != 0 by ~lr
    w1 = run(Adam, grads=(G1,), lr=lr)
    assert w1[0, 0] == pytest.approx(0.5 - 1e-3, abs=1e-9)
    assert w1[1, 1] == W0[1, 1]


def test_adam_float32_stays_float32_and_close():
    w64 = run(Adam, lr=0.01)
    w32 = run(Adam, lr=0.01, dtype=np.float32)
    assert w32.dtype == np.float32
    np.testing.assert_allclose(w32, w64, rtol=1e-5)


def test_adam_flushes_denormal_moments():
    p = Parameter(np.ones(4, np.float32))
    opt = Adam([p], lr=1e-3)
    p.grad[...] = 1e-3
    opt.step()
    p.grad[...] = 0  # a dead unit: moments decay geometrically
    for _ in range(2000):
        opt.step()
    m, v = opt.state[p]["m"], opt.state[p]["v"]
    tiny = np.finfo(np.float32).tiny
    assert not np.any((m != 0) & (np.abs(m) < tiny))
    assert not np.any((v != 0) & (np.abs(v) < tiny))


def test_state_keyed_by_parameter_object():
    a = Parameter(np.zeros(2))
    b = Parameter(np.zeros(2), name=a.name)  # same name must not collide
    opt = Adam([a, b])
    a.grad[...] = 1.0
    b.grad[...] = -1.0
    opt.step()
    assert set(opt.state) == {a, b}
    assert opt.state[a]["m"][0] == pytest.approx(0.1)
    assert opt.state[b]["m"][0] == pytest.approx(-0.1)


def test_bind_zero_grad_and_errors():
    p = Parameter(np.zeros(3))
    opt = SGD(lr=0.1)
    with pytest.raises(RuntimeError, match="bind"):
        opt.step()
    opt.bind([p, p])
    assert opt.params == [p]
    p.grad[...] = 2.0
    opt.zero_grad()
    assert not p.grad.any()
    with pytest.raises(TypeError, match="Parameter"):
        opt.bind([np.zeros(2)])
    with pytest.raises(ValueError, match="lr"):
        SGD(lr=0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam(betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="weight_decay"):
        Adam(weight_decay=-1)
    with pytest.raises(TypeError, match="schedule"):
        Adam(schedule=0.1)


def test_schedule_drives_lr_per_step_and_epoch():
    p = Parameter(np.zeros(1))
    opt = SGD([p], schedule=StepDecay(1.0, drop=0.5, every=2))
    p.grad[...] = 1.0
    for _ in range(4):
        opt.step()  # lr 1, 1, 0.5, 0.5
    assert p.data[0] == pytest.approx(-3.0)
    opt = SGD([p], schedule=ExponentialDecay(0.1, k=1.0), schedule_unit="epoch")
    assert opt.current_lr == pytest.approx(0.1)
    opt.epoch_end()
    assert opt.current_lr == pytest.approx(0.1 * math.exp(-1))


def test_schedules_match_formulas():
    ts = [0, 1, 5, 9, 10, 11, 37]
    for t in ts:
        assert Constant(0.3)(t) == 0.3
        assert StepDecay(0.3, drop=0.1, every=10)(t) == pytest.approx(0.3 * 0.1 ** (t // 10))
        assert ExponentialDecay(0.3, k=0.05)(t) == pytest.approx(0.3 * math.exp(-0.05 * t))
        assert InverseDecay(0.3, tau=10)(t) == pytest.approx(0.3 * 10 / max(t, 10))
    assert InverseDecay(1.0, tau=10)(40) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="t must"):
        Constant(0.1)(-1)
    with pytest.raises(ValueError, match="drop"):
        StepDecay(0.1, drop=2)
    with pytest.raises(ValueError, match="tau"):
        InverseDecay(0.1, tau=0)
