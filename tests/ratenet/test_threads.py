"""ratenet.threads: fit runs with one BLAS thread for small models unless the user chose a count (issue 24 item 14)."""
import numpy as np
import pytest

import ratenet
from ratenet import threads

threadpoolctl = pytest.importorskip("threadpoolctl", reason="the BLAS limit needs `pip install threadpoolctl`")


def _blas_threads():
    return max(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")


class _Spy(ratenet.Callback):
    def on_train_begin(self, keys):
        self.seen = _blas_threads()


def _fit(width=8, **kw):
    X, y = ratenet.data.xor(16, rng=0)
    model = ratenet.Sequential([ratenet.Dense(2, width, rng=0), ratenet.Tanh(), ratenet.Dense(width, 1, rng=1),
                                ratenet.Sigmoid()])
    spy = _Spy()
    model.fit(X, y, loss=ratenet.BinaryCrossEntropy(), optimizer=ratenet.SGD(lr=0.1), epochs=1, verbose=0,
              callbacks=[spy], **kw)
    return spy.seen


@pytest.fixture
def two_threads(monkeypatch):
    for var in threads.THREAD_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if _blas_threads() < 2:
            pytest.skip("this BLAS cannot run 2 threads here")
        yield


def test_fit_runs_with_one_blas_thread_and_restores_it(two_threads):
    assert _fit() == 1
    assert _blas_threads() == 2                     # restored after fit
    X, y = ratenet.data.xor(16, rng=0)             # ratenet.fit (the function) too
    model = ratenet.Sequential([ratenet.Dense(2, 4, rng=0), ratenet.Tanh(), ratenet.Dense(4, 1, rng=1),
                                ratenet.Sigmoid()])
    spy = _Spy()
    ratenet.fit(model, X, y, ratenet.BinaryCrossEntropy(), ratenet.SGD(lr=0.1), epochs=1, verbose=0, callbacks=[spy])
    assert spy.seen == 1


def test_a_user_thread_count_or_a_large_model_is_left_alone(two_threads, monkeypatch):
    monkeypatch.setattr(threads, "MAX_SINGLE_THREAD_SIZE", 15)
    assert _fit(width=8) == 2                       # 16-element weights: above the (patched) limit
    monkeypatch.setattr(threads, "MAX_SINGLE_THREAD_SIZE", 2048 * 2048)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert _fit() == 2
    with pytest.raises(TypeError, match="model"):   # not a model: fit's own error, not the limiter's
        ratenet.fit("model", np.zeros((2, 2)), np.zeros(2), ratenet.MSE(), ratenet.SGD(lr=0.1))
