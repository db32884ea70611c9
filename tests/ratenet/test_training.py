"""fit: learning, early stopping, divergence, reproducibility, validation handling."""
import numpy as np
import pytest

from ratenet import data
from ratenet.activations import ReLU, Sigmoid, Softmax, Tanh
from ratenet.callbacks import Callback, EarlyStopping, History, TrainingDiverged
from ratenet.layers import Dense
from ratenet.losses import MSE, BinaryCrossEntropy, CategoricalCrossEntropy
from ratenet.model import Sequential
from ratenet.optimizers import SGD, Adam
from ratenet.training import evaluate, fit


def xor_net(seed=0, hidden=8):
    return Sequential([Dense(2, hidden, rng=seed), Tanh(), Dense(hidden, 1, rng=seed + 1), Sigmoid()])


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def test_xor_learns():
    X, T = data.xor()
    model = xor_net()
    h = fit(model, X, T, BinaryCrossEntropy(), Adam(lr=0.05), epochs=400, batch_size=4, verbose=0, rng=0)
    assert h.loss[-1] < 0.05 < h.loss[0]
    assert h.accuracy[-1] == 1.0
    np.testing.assert_array_equal(model.forward(X)[:, 0] > 0.5, T[:, 0] > 0.5)


def test_same_seed_same_history_and_weights():
    X, T = data.noisy_mapping(200, n_classes=3, n_features=5, noise=1.0, rng=1)
    runs = []
    for _ in range(2):
        m = Sequential([Dense(5, 16, rng=3), ReLU(), Dense(16, 3, rng=4), Softmax()])
        h = fit(m, X, T, CategoricalCrossEntropy(), Adam(lr=0.01), epochs=4, batch_size=16,
                validation_split=0.25, input_noise=0.1, rng=7, verbose=0)
        runs.append((h.history, weights(m)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_validation_split_sizes_and_keys():
    X, T = data.noisy_mapping(100, n_classes=2, n_features=3, rng=0)
    seen = {}

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.update(logs)

    m = Sequential([Dense(3, 2, rng=0), Softmax()])
    h = fit(m, X, T, CategoricalCrossEntropy(), SGD(lr=0.1), epochs=2, validation_split=0.3,
            verbose=0, rng=0, callbacks=[Spy()])
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"} == set(seen)
    assert len(h) == 2 and h.epochs == [1, 2]
    # the validation loss is the eval-mode loss on 30 held-out rows: recompute it
    rng = np.random.default_rng(0)
    held = rng.permutation(100)[:30]
    ref = evaluate(m, X[held], T[held], CategoricalCrossEntropy())
    assert h.val_loss[-1] == pytest.approx(ref["loss"], rel=1e-5)
    assert h.val_accuracy[-1] == pytest.approx(ref["accuracy"])


def test_training_loss_is_batch_weighted_mean():
    X, T = data.dose_sugar(n_train=10, rng=0)[0]
    m = Sequential([Dense(1, 1, rng=0)])
    w0 = weights(m)
    # lr tiny -> weights practically unchanged, so the epoch loss equals the full-batch loss
    h = fit(m, X, T, MSE(), SGD(lr=1e-12), epochs=1, batch_size=3, shuffle=False, verbose=0)
    for p, w in zip(m.parameters(), w0):
        np.copyto(p.data, w)
    assert h.loss[0] == pytest.approx(MSE()(m.forward(X), T), rel=1e-5)
    assert "accuracy" not in h  # regression targets: no accuracy


def test_early_stopping_restores_best_weights():
    (X, T), (Xv, Tv) = data.dose_sugar(n_train=8, n_test=50, noise=1.0, rng=0)
    m = Sequential([Dense(1, 64, rng=0), Tanh(), Dense(64, 1, rng=1)])
    snaps = {}

    class Snap(Callback):  # record the weights after every epoch (independent of EarlyStopping)
        def on_epoch_end(self, epoch, logs):
            snaps[epoch] = weights(self.model)

    es = EarlyStopping(monitor="val_loss", patience=3)
    h = fit(m, X, T, MSE(), Adam(lr=0.05), epochs=300, batch_size=8, validation_data=(Xv, Tv),
            verbose=0, rng=0, callbacks=[Snap(), es])
    best = int(np.argmin(h.val_loss)) + 1
    assert h.best_epoch == best
    assert h.stopped_epoch == best + 3 < 300
    for a, b in zip(weights(m), snaps[best]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_needs_monitored_key():
    X, T = data.xor()
    with pytest.raises(ValueError, match="val_loss"):
        fit(xor_net(), X, T, MSE(), SGD(), epochs=1, verbose=0, callbacks=[EarlyStopping()])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_raises_and_keeps_finite_weights():
    X, T = data.dose_sugar(n_train=50, rng=0)[0]
    m = Sequential([Dense(1, 32, rng=0), ReLU(), Dense(32, 1, rng=1)])
    with pytest.raises(TrainingDiverged, match="diverged.*learning rate") as info:
        fit(m, X * 100, T * 100, MSE(), SGD(lr=10.0), epochs=50, batch_size=5, verbose=0, rng=0)
    assert isinstance(info.value, FloatingPointError)
    assert info.value.epoch >= 1
    assert all(np.isfinite(p.data).all() for p in m.parameters())


def test_progress_line(capsys):
    X, T = data.xor()
    fit(xor_net(), X, T, MSE(), SGD(lr=0.1), epochs=2, verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2") and "loss" in lines[1]
    fit(xor_net(), X, T, MSE(), SGD(lr=0.1), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_model_fit_delegates_and_binds_optimizer():
    X, T = data.xor()
    m, opt = xor_net(), Adam(lr=0.01)
    h = m.fit(X, T, loss=MSE(), optimizer=opt, epochs=2, verbose=0)
    assert isinstance(h, History) and opt.params == m.parameters()
    with pytest.raises(ValueError, match="bound"):
        fit(xor_net(), X, T, MSE(), opt, epochs=1, verbose=0)


@pytest.mark.parametrize("kw, err, match", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(input_noise=-1), ValueError, "input_noise"),
    (dict(rng="seed"), TypeError, "rng"),
    (dict(validation_split=0.5, validation_data=(np.zeros((2, 2)), np.zeros((2, 1)))), ValueError, "either"),
])
def test_argument_validation(kw, err, match):
    X, T = data.xor(8)
    with pytest.raises(err, match=match):
        fit(xor_net(), X, T, MSE(), SGD(), verbose=0, **kw)


def test_input_validation():
    X, T = data.xor()
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit(xor_net(), bad, T, MSE(), SGD(), verbose=0)
    with pytest.raises(ValueError, match="shape"):
        fit(xor_net(), X, T[:3], MSE(), SGD(), verbose=0)
    with pytest.raises(ValueError, match="2-D"):
        fit(xor_net(), X[:, 0], T, MSE(), SGD(), verbose=0)
