"""Spike-train generation, conversion and statistics."""
import numpy as np
import pytest

from neurosim import (PSCFilter, bin_spikes, count_rate, cv, filtered_rate, from_events, isi, isi_rate,
                      poisson_spikes, regular_spikes, to_events, unbin_spikes)


def test_poisson_rate_and_cv_within_statistical_bounds():
    rate, T, n = 20.0, 20.0, 100
    trains = poisson_spikes(rate, n, T=T, rng=123)
    total = sum(len(s) for s in trains)
    expected = rate * T * n
    assert abs(total - expected) < 4 * np.sqrt(expected)  # Poisson count: sd = sqrt(mean)
    cvs = cv(trains)
    # each CV from ~400 intervals has sd ~ 1/sqrt(400) = 0.05; the mean of 100 has sd ~ 0.005
    assert abs(np.mean(cvs) - 1.0) < 0.03
    assert all(np.all(np.diff(s) >= 0) and s.min() >= 0 and s.max() < T for s in trains)


def test_poisson_is_reproducible_and_per_neuron_rates():
    a = poisson_spikes([5.0, 50.0], T=10.0, rng=7)
    b = poisson_spikes([5.0, 50.0], T=10.0, rng=np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    r = count_rate(a, T=10.0)
    assert abs(r[0] - 5) < 4 * np.sqrt(5 / 10) and abs(r[1] - 50) < 4 * np.sqrt(50 / 10)


def test_time_varying_poisson_piecewise_and_callable():
    dt, T = 0.01, 40.0
    steps = int(T / dt)
    rate = np.where(np.arange(steps) * dt < T / 2, 10.0, 40.0)
    (s,) = poisson_spikes(rate, T=T, dt=dt, rng=1)
    first, second = np.sum(s < T / 2), np.sum(s >= T / 2)
    assert abs(first - 200) < 4 * np.sqrt(200) and abs(second - 800) < 4 * np.sqrt(800)
    (c,) = poisson_spikes(lambda t: 30.0 * (t >= T / 2), T=T, rate_max=30.0, rng=2)
    assert np.sum(c < T / 2) == 0 and abs(np.sum(c >= T / 2) - 600) < 4 * np.sqrt(600)
    with pytest.raises(ValueError, match="rate_max"):
        poisson_spikes(lambda t: 0 * t + 1, T=1.0)
    with pytest.raises(ValueError, match="rows"):
        poisson_spikes(rate[:10], T=T, dt=dt)
    with pytest.raises(ValueError, match="rate"):
        poisson_spikes(-1.0, T=1.0)


def test_regular_spikes_exact_times_and_zero_cv():
    (s,) = regular_spikes(10.0, 1.0, phase=0.5)
    np.testing.assert_allclose(s, 0.05 + 0.1 * np.arange(10))
    assert cv([s])[0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(isi([s])[0], 0.1)
    assert isi_rate([s])[0] == pytest.approx(10.0)
    assert count_rate([s], T=1.0)[0] == pytest.approx(10.0)
    assert len(regular_spikes(0.0, 1.0)[0]) == 0


def test_events_and_bins_round_trip():
    trains = [np.array([0.003, 0.010]), np.zeros(0), np.array([0.002, 0.002, 0.009])]
    times, idx = to_events(trains)
    assert np.all(np.diff(times) >= 0)
    back = from_events(times, idx, n_neurons=3)
    assert all(np.array_equal(a, np.sort(b)) for a, b in zip(back, trains))
    binned = bin_spikes(trains, 0.02, 0.001)
    assert binned.shape == (20, 3) and binned[2, 2] == pytest.approx(2000.0)
    assert np.allclose(binned.sum(axis=0) * 0.001, [2, 0, 3])
    again = unbin_spikes(binned, 0.001)
    assert all(np.allclose(a, b) for a, b in zip(again, trains))
    # events given as a tuple are accepted everywhere
    assert np.array_equal(bin_spikes((times, idx), 0.02, 0.001), binned)
    with pytest.raises(ValueError, match="same shape"):
        from_events([0.1, 0.2], [0])


def test_filtered_rate_of_regular_train_averages_to_rate():
    (s,) = regular_spikes(50.0, 5.0)
    t = np.linspace(1.0, 5.0, 4001)
    est = filtered_rate([s], t=t, synapse=PSCFilter(0.1))[:, 0]
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(filtered_rate([s], t, PSCFilter(0.1))[:, 0], est)
    assert np.mean(est) == pytest.approx(50.0, rel=0.01)
    assert filtered_rate([s], 1, t=t).shape == (4001, 1)


def test_cv_nan_for_short_trains():
    assert np.isnan(cv([np.array([0.1, 0.2])])[0])


def test_isi_rate_rejects_bad_events():
    times, idx = np.array([0.1, 0.2, 0.3]), np.array([0, 0, 3])
    assert isi_rate((times, idx), n_neurons=4)[0] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="n_neurons=2"):
        isi_rate((times, idx), n_neurons=2)
    with pytest.raises(ValueError, match="times"):
        isi_rate((np.array([0.1, np.nan, 0.3]), idx))
    with pytest.raises(ValueError, match="same shape"):
        isi_rate((times, idx[:2]))


def test_poisson_spikes_rejects_bad_n():
    import pytest

    from neurosim import poisson_spikes

    for bad in (0, -3):
        with pytest.raises(ValueError, match="n must be"):
            poisson_spikes(10.0, n=bad, T=1.0, rng=0)
    for bad in (2.5, True):  # wrong types are TypeErrors
        with pytest.raises(TypeError, match="n must be"):
            poisson_spikes(10.0, n=bad, T=1.0, rng=0)
    with pytest.raises(ValueError, match="columns"):
        poisson_spikes(np.ones((10, 3)), 2, T=1.0, dt=0.1, rng=0)


# ---- O(spikes) rates, argument order, bad values (issues 12, 13, 15) -----------------------------------
def _reference_isi_rates(times, indices, n, t_start):
    """Per-neuron loop: (k - 1) / (last - first) of the spikes at or after t_start."""
    out = np.zeros(n)
    for i in range(n):
        s = np.sort(times[(indices == i) & (times >= t_start)])
        if s.size >= 2 and s[-1] > s[0]:
            out[i] = (s.size - 1) / (s[-1] - s[0])
    return out


@pytest.mark.parametrize("t_start", [0.0, 0.3])
def test_result_rates_and_isi_rate_match_a_per_neuron_reference(t_start, monkeypatch):
    from neurosim.spikes import SimulationResult, SpikeRecorder, result

    rng = np.random.default_rng(0)
    n, dt = 300, 1e-3
    rec = SpikeRecorder(n, dt)
    for k in range(1000):
        idx = rng.integers(0, n, rng.integers(0, 40), dtype=np.uint32)
        rec.record(k, idx, rng.random(idx.size) * dt)
    res = SimulationResult(rec, 1.0)
    times, indices = res.events()
    expected = _reference_isi_rates(times, indices, n, t_start)
    monkeypatch.setattr(result, "CHUNK", 1000)  # many chunks: exercises the chunk boundaries
    np.testing.assert_allclose(res.rates(t_start), expected, rtol=1e-12)
    perm = rng.permutation(times.size)  # unordered events take the ufunc.at path
    np.testing.assert_allclose(isi_rate((times[perm], indices[perm]), n, t_start=t_start), expected, rtol=1e-12)
    np.testing.assert_allclose(isi_rate(from_events(times, indices, n), t_start=t_start), expected, rtol=1e-12)
    assert np.count_nonzero(expected) > 250


def test_count_rate_and_poisson_spikes_argument_order():
    a = poisson_spikes([5.0, 50.0], 2, T=10.0, rng=7)
    with pytest.warns(DeprecationWarning):
        b = poisson_spikes([5.0, 50.0], 10.0, rng=7)
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.warns(DeprecationWarning):
        c = poisson_spikes(20.0, 10.0, 3, 5)  # old positional (rate, T, n, rng)
    assert len(c) == 3
    np.testing.assert_array_equal(c[0], poisson_spikes(20.0, 3, T=10.0, rng=5)[0])
    r = count_rate(a, T=10.0, t_start=1.0)
    with pytest.warns(DeprecationWarning):
        r_old = count_rate(a, 10.0, 1.0)
    np.testing.assert_array_equal(r, r_old)
    np.testing.assert_allclose(r, [np.count_nonzero(s >= 1.0) / 9.0 for s in a])


def test_bad_spike_inputs_are_refused():
    with pytest.raises(ValueError, match="rate"):
        poisson_spikes(lambda t: np.full(t.shape, np.nan), 1, T=1.0, rate_max=10.0, rng=0)
    with pytest.raises(ValueError, match="rate"):
        poisson_spikes(lambda t: -np.ones(t.shape), 1, T=1.0, rate_max=10.0, rng=0)
    with pytest.raises(ValueError, match="dt"):
        unbin_spikes(np.ones((3, 2)), 0.0)
    with pytest.raises(ValueError, match="indices"):
        isi_rate((np.array([0.1, 0.2]), np.array([0, -1])))
    with pytest.raises(ValueError, match="t_start"):
        isi_rate([np.array([0.1, 0.2])], t_start=float("nan"))
    with pytest.raises(TypeError):
        isi_rate((np.array([0.1, 0.2]), np.array([0.5, 1.0])))
