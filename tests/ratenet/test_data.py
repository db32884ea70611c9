"""Preprocessing fitted on training data only, splits, batches, toy datasets."""
import numpy as np
import pytest

from ratenet import data


def correlated(n=500, seed=0):
    r = np.random.default_rng(seed)
    A = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.3, -0.7, 0.2]])
    return r.normal(size=(n, 3)) @ A.T + np.array([5.0, -2.0, 1.0])


def test_standardizer_uses_train_statistics_only():
    Xtr, Xte = correlated(seed=0), correlated(seed=1) * 3 + 10
    s = data.Standardizer().fit(Xtr)
    np.testing.assert_allclose(s.mean_, Xtr.mean(axis=0))
    np.testing.assert_allclose(s.transform(Xte), (Xte - Xtr.mean(0)) / Xtr.std(0))
    np.testing.assert_allclose(s.inverse_transform(s.transform(Xte)), Xte)
    m = data.Standardizer(with_std=False).fit(Xtr)
    np.testing.assert_allclose(m.transform(Xtr).mean(axis=0), 0, atol=1e-12)
    with pytest.raises(RuntimeError, match="fit"):
        data.Standardizer().transform(Xtr)


def test_zca_identity_covariance_and_close_to_input():
    X = correlated()
    zca = data.ZCAWhitening(eps=0).fit(X)
    Z = zca.transform(X)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(3), atol=1e-8)
    W = zca.W_
    np.testing.assert_allclose(W, W.T, atol=1e-10)  # ZCA's matrix is symmetric (PCA's is not)


def test_pca_whitening_and_reduction():
    X = correlated()
    Z = data.PCAWhitening(eps=0).fit_transform(X)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(3), atol=1e-8)
    p2 = data.PCAWhitening(n_components=2).fit(X)
    assert p2.transform(X).shape == (500, 2)
    assert p2.explained_variance_[0] >= p2.explained_variance_[1]


def test_whitening_fitted_on_train_only():
    Xtr, Xte = correlated(seed=0), correlated(seed=1) + 3.0
    zca = data.ZCAWhitening(eps=0).fit(Xtr)
    # the test set's shift survives: its statistics were not used
    np.testing.assert_allclose(zca.transform(Xte).mean(0), (Xte.mean(0) - Xtr.mean(0)) @ zca.W_, atol=1e-10)
    assert np.abs(zca.transform(Xte).mean(0)).max() > 0.5


def test_train_test_split_stratified_and_reproducible():
    T = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.arange(100)[:, None].astype(float)
    a = data.train_test_split(X, T, test_size=0.2, stratify=True, rng=3)
    b = data.train_test_split(X, T, test_size=0.2, stratify=True, rng=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    Xtr, Xte, Ttr, Tte = a
    assert np.bincount(Tte).tolist() == [10, 6, 4]
    assert sorted(np.r_[Xtr[:, 0], Xte[:, 0]]) == list(range(100))  # a partition
    np.testing.assert_array_equal(T[Xte[:, 0].astype(int)], Tte)  # rows stay paired
    c = data.train_test_split(X, T, test_size=0.2, stratify=True, rng=4)
    assert not np.array_equal(c[1], Xte)


def test_train_val_test_split_onehot_stratify():
    T = data.one_hot(np.repeat([0, 1], [60, 40]))
    X = np.zeros((100, 2))
    Xtr, Xva, Xte, Ttr, Tva, Tte = data.train_val_test_split(X, T, 0.1, 0.2, stratify=True, rng=0)
    assert (len(Xtr), len(Xva), len(Xte)) == (70, 10, 20)
    assert Tva.sum(0).tolist() == [6, 4] and Tte.sum(0).tolist() == [12, 8]
    with pytest.raises(ValueError, match="val_size"):
        data.train_val_test_split(X, T, 0.5, 0.5)


def test_batches_cover_every_row_once():
    X = np.arange(10)[:, None]
    got = [b for b, _ in data.batches(X, X * 2, batch_size=3, rng=0)]
    assert [len(b) for b in got] == [3, 3, 3, 1]
    assert sorted(np.concatenate(got)[:, 0]) == list(range(10))
    assert [b[0, 0] for b in data.batches(X, batch_size=4, shuffle=False)] == [0, 4, 8]
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batches(X, batch_size=0))


def test_toy_datasets():
    X, T = data.xor()
    assert X.shape == (4, 2) and T[:, 0].tolist() == [0, 1, 1, 0] and X.dtype == np.float32
    X, T, P = data.noisy_mapping(400, n_classes=4, n_features=8, noise=0.3, rng=0, return_prototypes=True)
    assert X.shape == (400, 8) and np.bincount(T).tolist() == [100] * 4
    # nearest prototype recovers the class at low noise
    assert (np.argmin(((X[:, None] - P[None]) ** 2).sum(-1), axis=1) == T).mean() > 0.99
    (Xtr, Ttr), (Xte, Tte) = data.dose_sugar(n_train=10, n_test=300, noise=0.0, rng=0)
    assert Xtr.shape == (10, 1) and Xte.shape == (300, 1)
    np.testing.assert_allclose(Ttr[:, 0], data.dose_sugar_curve(Xtr[:, 0]), rtol=1e-6)
    a = data.noisy_mapping(50, rng=5)
    b = data.noisy_mapping(50, rng=5)
    np.testing.assert_array_equal(a[0], b[0])


def test_load_digits_split_or_clear_import_error():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install scikit-learn"):
            data.load_digits_split()
        return
    Xtr, Xte, Ttr, Tte = data.load_digits_split()
    assert Xtr.shape == (1437, 64) and Xte.shape == (360, 64) and Xtr.max() <= 1.0
