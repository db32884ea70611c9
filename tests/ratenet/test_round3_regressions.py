"""Regression tests of issue 24 (round 3), items 6-10 and 15: each failed before its fix."""
import os
import signal

import numpy as np
import pytest

import ratenet



def _net(rng=0, bn=False):
    layers = [ratenet.Dense(4, 8, rng=rng)] + ([ratenet.BatchNorm(8)] if bn else [])
    return ratenet.Sequential(layers + [ratenet.Tanh(), ratenet.Dense(8, 3, rng=rng + 1), ratenet.Softmax()])


def _data(n=64, rng=0):
    g = np.random.default_rng(rng)
    return g.standard_normal((n, 4)).astype(np.float32), g.integers(0, 3, n)


# ------------------------------------------------------------ item 6: Ctrl-C inside Optimizer.step
@pytest.mark.parametrize("opt", [ratenet.SGD(lr=0.1, momentum=0.9), ratenet.Adam(lr=0.01, weight_decay=1e-3)])
def test_ctrl_c_during_an_optimizer_step_updates_all_parameters_or_none(opt, monkeypatch):
    model = _net()
    params = model.parameters()
    opt.bind(params)
    for p in params:
        p.grad[...] = 1.0
    before = [p.data.copy() for p in params]
    update, calls = type(opt)._update, []

    def interrupted(self, p, g, lr, state):  # a real SIGINT in the middle of the 2nd of 4 updates
        calls.append(p)
        update(self, p, g, lr, state)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(type(opt), "_update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        opt.step()
    changed = [not np.array_equal(p.data, b) for p, b in zip(params, before)]
    assert changed == [True] * len(params)           # before the fix: [True, True, False, False]
    assert opt.iterations == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_fit_stops_between_batches_and_training_continues_exactly(monkeypatch):
    X, y = _data(64)
    ref = _net(bn=True)
    ref_opt = ratenet.Adam(lr=0.01)
    ref.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ref_opt, epochs=2, batch_size=16,
            shuffle=False, verbose=0)

    model = _net(bn=True)
    opt = ratenet.Adam(lr=0.01)
    forward, n = ratenet.Sequential.forward, {"calls": 0}

    def interrupted(self, X, training=False):   # SIGINT during the 3rd forward pass
        n["calls"] += 1
        if n["calls"] == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return forward(self, X, training)

    monkeypatch.setattr(ratenet.Sequential, "forward", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=opt, epochs=10**12, batch_size=16,
                  shuffle=False, verbose=0)
    monkeypatch.undo()
    assert opt.iterations == 3                          # the 3rd batch's update was completed
    # continue: the remaining 5 batches of the 2 epochs give the uninterrupted run's weights
    model.fit(X[48:], y[48:], loss=ratenet.CategoricalCrossEntropy(), optimizer=opt, epochs=1, batch_size=16,
              shuffle=False, verbose=0)
    model.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=opt, epochs=1, batch_size=16,
              shuffle=False, verbose=0)
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    for a, b in zip(model.buffers(), ref.buffers()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ item 9: progress of fit
def test_fit_progress_draws_a_line_on_stderr_only_when_asked(capsys):
    X, y = _data(64)
    kw = dict(loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.SGD(lr=0.1), epochs=2, batch_size=16,
              verbose=0, rng=0)
    _net().fit(X, y, **kw)
    assert capsys.readouterr().err == ""
    kw["optimizer"] = ratenet.SGD(lr=0.1)
    _net().fit(X, y, progress=True, **kw)
    err = capsys.readouterr().err
    lines = [line.split("\r")[-1] for line in err.split("\n") if line]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and "4/4 batches" in lines[0] and "100.0%" in lines[0]
    assert lines[1].startswith("epoch 2/2") and "loss " in lines[1]
    with pytest.raises(TypeError, match="progress"):
        _net().fit(X, y, progress="yes", **kw)


# ------------------------------------------------------------ item 15: transform= and model.evaluate
def test_transform_is_applied_to_each_training_batch_with_fits_rng():
    X, y = _data(40)
    seen = []

    def flip(Xb, rng):
        seen.append(Xb.copy())
        Xb *= -1.0          # in place: allowed, it is a scratch copy
        return Xb

    kw = dict(loss=ratenet.CategoricalCrossEntropy(), epochs=2, batch_size=16, verbose=0, rng=3)
    a, b = _net(), _net()
    X0 = X.copy()
    a.fit(X, y, optimizer=ratenet.SGD(lr=0.1), transform=flip, shuffle=False, **kw)
    np.testing.assert_array_equal(X, X0)                           # the caller's X is untouched
    assert [len(s) for s in seen] == [16, 16, 8] * 2
    np.testing.assert_array_equal(np.concatenate(seen[:3]), X)
    b.fit(-X, y, optimizer=ratenet.SGD(lr=0.1), shuffle=False, **kw)  # the same as training on -X
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_transform_gets_fits_rng_so_a_seeded_run_is_reproducible():
    X, y = _data(40)

    gens = []

    def jitter(Xb, rng):
        gens.append(rng)
        return Xb + rng.normal(0, 0.1, Xb.shape)

    runs, per_run = [], []
    for transform in (jitter, jitter, None):
        gens.clear()
        m = _net()
        m.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.SGD(lr=0.1), epochs=2,
              verbose=0, rng=7, transform=transform)
        runs.append([p.data.copy() for p in m.parameters()])
        per_run.append(list(gens))
    for p, q in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(p, q)
    # one Generator per fit (fit's own, seeded by rng), and the transform really changed the training
    for gs in per_run[:2]:  # every batch of a fit gets that fit's one Generator
        assert gs and all(g is gs[0] for g in gs) and isinstance(gs[0], np.random.Generator)
    assert any(not np.array_equal(p, q) for p, q in zip(runs[0], runs[2]))


@pytest.mark.parametrize("transform, err, match", [
    ("flip", TypeError, "transform must be a callable"),
    (lambda Xb, rng: Xb[:, :2], ValueError, "batch's shape"),
    (lambda Xb, rng: Xb * np.nan, ValueError, "NaN"),
    (lambda Xb, rng: None, ValueError, "batch's shape")])
def test_transform_is_checked(transform, err, match):
    X, y = _data(20)
    with pytest.raises(err, match=match):
        _net().fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.SGD(), verbose=0,
                   transform=transform)


def test_model_evaluate_equals_ratenet_evaluate_with_the_matching_loss():
    X, y = _data(50)
    m = _net()
    m.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.SGD(lr=0.1), epochs=3, verbose=0, rng=0)
    got = m.evaluate(X, y)
    assert got == ratenet.evaluate(m, X, y, ratenet.CategoricalCrossEntropy())
    P = m.predict(X)   # independent oracle: the definitions
    assert got["loss"] == pytest.approx(-np.mean(np.log(P[np.arange(50), y])), rel=1e-5)
    assert got["accuracy"] == pytest.approx(np.mean(P.argmax(1) == y))
    reg = ratenet.Sequential([ratenet.Dense(4, 2, rng=0)])
    T = np.ones((50, 2), np.float32)
    assert reg.evaluate(X, T)["loss"] == pytest.approx(0.5 * np.mean(np.sum((reg.predict(X) - T) ** 2, 1)), rel=1e-5)
    with pytest.raises(ValueError, match="loss="):
        reg.evaluate(X, y)


# ------------------------------------------------------------ item 8: validation on load
def test_load_refuses_a_negative_batchnorm_running_var(tmp_path):
    m = ratenet.Sequential([ratenet.Dense(2, 3, rng=0), ratenet.BatchNorm(3), ratenet.ReLU()])
    m[1].running_var[:] = [1.0, -0.5, 2.0]
    path = m.save(tmp_path / "bn.npz")          # before the fix: loaded, then predicted NaN
    with pytest.raises(ValueError, match="running_var.*variance must be >= 0"):
        ratenet.load(path)
    state = m.state_dict()
    fresh = ratenet.Sequential([ratenet.Dense(2, 3, rng=0), ratenet.BatchNorm(3), ratenet.ReLU()])
    with pytest.raises(ValueError, match="running_var"):
        fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh[1].running_var, 1.0)   # nothing copied
    state["1.running_var"] = np.array([1.0, 0.0, 2.0])           # zero is a valid variance
    fresh.load_state_dict(state)
    assert np.isfinite(fresh.predict(np.ones((2, 2)))).all()


@pytest.mark.parametrize("abstract", ["Activation", "_LIFBase"])
def test_load_refuses_an_abstract_layer_class(tmp_path, abstract):
    import json
    import zipfile
    m = ratenet.Sequential([ratenet.Dense(2, 3, rng=0), ratenet.ReLU()])
    path = m.save(tmp_path / "m.npz")
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    arch = m.architecture()
    arch["layers"][1] = {"class": abstract, "config": {}}
    with open(tmp_path / "meta.npy", "wb") as f:
        np.save(f, np.array(json.dumps(arch)))
    entries["__ratenet__.npy"] = (tmp_path / "meta.npy").read_bytes()
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    with pytest.raises(ValueError, match="abstract base class"):   # before the fix: loaded
        ratenet.load(tmp_path / "bad.npz")


# ------------------------------------------------------------ item 7: finite input, NaN output
@pytest.mark.parametrize("dtype, big", [(np.float64, 8.99e307), (np.float32, 2.27e38)])
def test_standardizer_of_huge_finite_values_is_finite(dtype, big):
    X = np.array([[big], [big]], dtype)
    np.testing.assert_array_equal(ratenet.Standardizer().fit_transform(X), np.zeros((2, 1), dtype))  # was NaN
    X = np.array([[big], [-big], [big / 2]], dtype)
    s = ratenet.Standardizer().fit(X)
    x = X[:, 0].astype(np.float64)     # oracle: the moments of X / big, in float64
    mean, std = (x / big).mean() * big, (x / big).std() * big
    np.testing.assert_allclose(s.mean_, [mean], rtol=1e-6)
    np.testing.assert_allclose(s.scale_, [std], rtol=1e-6)
    Z = s.transform(X)
    np.testing.assert_allclose(Z[:, 0], (x / std - mean / std), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5)


def test_standardizer_raises_when_the_result_exceeds_the_range():
    s = ratenet.Standardizer().fit(np.array([[-1e308], [-1e308]]))
    with pytest.raises(ValueError, match="exceeds the float64 range"):
        s.transform([[1e308]])


def test_standardizer_keeps_ordinary_results_bitwise():
    X = np.random.default_rng(0).standard_normal((50, 3)) * [1, 1e3, 1e-3] + [0, 5, -2]
    s = ratenet.Standardizer().fit(X)
    np.testing.assert_array_equal(s.mean_, X.mean(axis=0))
    np.testing.assert_array_equal(s.transform(X), (X - X.mean(axis=0)) / X.std(axis=0))


def test_predict_refuses_an_overflowing_float32_input_instead_of_returning_nan():
    m = ratenet.Sequential([ratenet.Dense(2, 3, rng=0), ratenet.ReLU(), ratenet.Dense(3, 2, rng=1),
                            ratenet.Softmax()])
    X = np.ones((3, 2), np.float32)
    X[[0, 2]] = 2.27e38
    with pytest.raises(ValueError, match=r"rows \[0, 2\].*overflowed float32.*float64"):
        m.predict(X)                 # before the fix: NaN rows
    with pytest.raises(ValueError, match="overflowed"):
        m.predict(X, batch_size=2)
    P = m.copy(dtype=np.float64).predict(X)     # the advice works
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P[1], m.predict(X[1:2])[0], rtol=1e-6)


# ------------------------------------------------------------ item 10: errors name the right parameter
def _sweep_cases():
    """(label, call, {name: array}) for every public callable taking aligned arrays."""
    n, k = 10, 3
    g = np.random.default_rng(0)
    X = g.standard_normal((n, 4)).astype(np.float32)
    labels = g.integers(0, k, n)
    T = np.eye(k, dtype=np.float32)[labels]
    P = np.full((n, k), 1 / k, np.float32)
    cce = ratenet.CategoricalCrossEntropy()

    def model():
        return ratenet.Sequential([ratenet.Dense(4, k, rng=0), ratenet.Softmax()])

    cases = []
    for loss in [ratenet.MSE(), ratenet.BinaryCrossEntropy(), cce, ratenet.NLLLoss(), ratenet.Hinge()]:
        Y = np.log(P) if isinstance(loss, ratenet.NLLLoss) else P
        for method in ["__call__", "gradient"] + (["fused_gradient"] if loss.fused_activation else []):
            call = (lambda L, m: lambda Y, y: getattr(L, m)(Y, y))(loss, method)
            cases.append((f"{type(loss).__name__}.{method}", call, dict(Y=Y, y=T)))
            if loss.class_targets:
                cases.append((f"{type(loss).__name__}.{method} labels", call, dict(Y=Y, y=labels)))
    fit_kw = dict(loss=cce, epochs=1, verbose=0)
    cases += [
        ("fit", lambda X, y: ratenet.fit(model(), X, y, cce, ratenet.SGD(), epochs=1, verbose=0), dict(X=X, y=labels)),
        ("Sequential.fit", lambda X, y: model().fit(X, y, optimizer=ratenet.SGD(), **fit_kw), dict(X=X, y=labels)),
        ("fit validation_data", lambda Xv, yv: model().fit(X, labels, optimizer=ratenet.SGD(), validation_data=(Xv, yv),
                                                           **fit_kw),
         {"validation_data X": X, "validation_data y": labels}),
        ("evaluate", lambda X, y: ratenet.evaluate(model(), X, y, cce), dict(X=X, y=labels)),
        ("Sequential.evaluate", lambda X, y: model().evaluate(X, y), dict(X=X, y=labels)),
        ("backward_loss", lambda Y, y: (lambda m: (m.forward(X), m.backward_loss(cce, Y, y)))(model()),
         dict(Y=P, y=labels)),
        ("gradient_check", lambda X, y: ratenet.gradient_check(model().copy(np.float64), cce, X, y), dict(X=X, y=labels)),
        ("gradient_norms", lambda X, y: ratenet.gradient_norms(model(), cce, X, y), dict(X=X, y=labels)),
        ("train_test_split", lambda X, y: ratenet.train_test_split(X, y), dict(X=X, y=labels)),
        ("train_test_split stratify", lambda X, s: ratenet.train_test_split(X, stratify=s), dict(X=X, stratify=labels)),
        ("train_val_test_split", lambda X, y: ratenet.train_val_test_split(X, y), dict(X=X, y=labels)),
        ("batches", lambda X, y: list(ratenet.batches(X, y)), dict(X=X, y=labels)),
        ("plot_decision_boundary",
         lambda X, y: ratenet.plotting.plot_decision_boundary(ratenet.Sequential([ratenet.Dense(2, 3, rng=0)]), X, y,
                                                              resolution=4), dict(X=X[:, :2], y=labels)),
    ]
    snn = ratenet.to_spiking(ratenet.Sequential([ratenet.Dense(4, 5, rng=0), ratenet.LIFRate(), ratenet.Dense(5, k, rng=1)]))
    cases.append(("SpikingModel.accuracy", lambda X, labels: snn.accuracy(X, labels, T=0.01), dict(X=X, labels=labels)))
    return [(f"{label}: short {short}", call, arrays, short) for label, call, arrays in cases for short in arrays]


@pytest.mark.parametrize("label, call, arrays, short", _sweep_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_length_mismatch_names_the_short_array_with_its_shape(label, call, arrays, short):
    import matplotlib.pyplot as plt
    n = len(next(iter(arrays.values())))
    args = [a[:-1] if name == short else a for name, a in arrays.items()]
    with pytest.raises(ValueError) as err:
        call(*args)
    plt.close("all")
    # Before: e.g. MSE()(Y[:9], y) said "y: expected shape (9, 3)"; fit(X[:-1], y) blamed y.
    assert f"{short} has shape ({n - 1}" in str(err.value), str(err.value)


# ------------------------------------------------------------ item 10: empty and 0-d arguments
ELEMENTWISE = [ratenet.SoftLIFRate(), ratenet.LIFRate(), ratenet.ReLU(), ratenet.Sigmoid(), ratenet.Tanh(),
               ratenet.Softplus(), ratenet.LeakyReLU()]


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: type(a).__name__)
@pytest.mark.parametrize("method", ["function", "derivative"])
def test_elementwise_activations_give_0d_and_empty_results(act, method):
    f = getattr(act, method)
    z = np.array([-0.5, 0.5, 2.0])
    out = f(np.array(0.5))          # SoftLIFRate: TypeError before
    assert np.shape(out) == () and float(out) == f(z)[1]
    for shape in [(0,), (0, 3), (2, 0)]:   # SoftLIFRate: "zero-size array to reduction" before
        empty = f(np.zeros(shape))
        assert empty.shape == shape and empty.dtype == np.float64


@pytest.mark.parametrize("act", [ratenet.Softmax(), ratenet.LogSoftmax()], ids=lambda a: type(a).__name__)
def test_softmax_of_empty_arrays_is_empty_and_of_a_0d_array_a_clear_error(act):
    for shape in [(0,), (0, 3), (2, 0)]:
        assert act.function(np.zeros(shape)).shape == shape
        assert act.derivative(np.zeros(shape)).shape == shape
    with pytest.raises(ValueError, match="0-d"):
        act.function(np.array(0.5))


def test_held_interrupt_nests_and_restores_the_handler():
    from neurosim.interrupts import HeldInterrupt
    with pytest.raises(KeyboardInterrupt):
        with HeldInterrupt() as outer:
            with HeldInterrupt() as inner:          # nested: the outer one holds
                os.kill(os.getpid(), signal.SIGINT)
                done = True                          # reached: the signal was held
            assert not inner.pending and outer.pending and done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert HeldInterrupt._installed == 0
