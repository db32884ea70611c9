"""Subgroups (pop[a:b], index arrays, masks) in connect, probe and add_current_input, against whole-population oracles."""
import numpy as np
import pytest

from neurosim import LIF, Convolution, Network, PSCFilter


def _pair(sim, views):
    """The same network built with subgroups, or with the equivalent whole-population matrices and inputs."""
    net = sim.network(dt=1e-4, rng=3)
    src = net.add_poisson(20, rate=np.linspace(20, 80, 20))
    pop = net.add_population(LIF(0.02, 0.002), 12, bias=0.6)
    rng = np.random.default_rng(0)
    W = rng.uniform(0, 0.05, (4, 8))
    R = rng.uniform(-0.02, 0.0, (3, 5))
    delay = 1e-3
    if views:
        net.connect(src[4:12], pop[[9, 1, 5, 7]], W, delay=delay)
        net.connect(pop[0:5], pop[9:12], R, synapse=PSCFilter(0.003), delay=delay)
        net.add_current_input(pop[2:4], lambda t: np.array([0.8, 1.2]) * (t > 0.05))
        probes = [net.probe(pop[[9, 1, 5, 7]], "spikes"), net.probe(pop[2:4], "v", sample_every=1e-3),
                  net.probe(pop[9:12], "rate", bin=0.02), net.probe(src[4:12], "spikes")]
    else:
        Wf = np.zeros((12, 20))
        Wf[np.ix_([9, 1, 5, 7], np.arange(4, 12))] = W
        Rf = np.zeros((12, 12))
        Rf[np.ix_(np.arange(9, 12), np.arange(5))] = R
        net.connect(src, pop, Wf, delay=delay)
        net.connect(pop, pop, Rf, synapse=PSCFilter(0.003), delay=delay)
        full = np.zeros(12)
        net.add_current_input(pop, lambda t: np.where(np.isin(np.arange(12), [2, 3]),
                                                      np.r_[0, 0, 0.8, 1.2, np.zeros(8)], 0) * (t > 0.05))
        probes = [net.probe(pop, "spikes"), net.probe(pop, "v", sample_every=1e-3),
                  net.probe(pop, "spikes"), net.probe(src, "spikes")]
        del full
    return net, probes


def _select(events, order):
    """Events of neurons ``order`` renumbered 0..len-1 (the oracle of a subgroup's spike probe)."""
    lookup = np.full(1 + max(order), -1)
    lookup[order] = np.arange(len(order))
    idx = np.where(events[1] < lookup.size, lookup[np.minimum(events[1], lookup.size - 1)], -1)
    keep = idx >= 0
    return (events[0][keep], idx[keep]) + tuple(e[keep] for e in events[2:])


def test_subgroups_equal_the_whole_population_matrices(sim):
    a, pa = _pair(sim, True)
    b, pb = _pair(sim, False)
    a.run(0.2)
    b.run(0.2)
    spikes = _select(pb[0].data, [9, 1, 5, 7])
    assert spikes[0].size > 20
    for x, y in zip(pa[0].data, spikes):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pa[1].data, pb[1].data[..., 2:4], rtol=1e-12, atol=1e-12)
    rec = _select(pb[2].data, [9, 10, 11])
    counts = np.bincount(np.floor(rec[0] / 0.02).astype(int), minlength=10)[:10] if sim.batch is None else None
    if counts is not None:  # the subgroup's rate: its own spikes / (its n * bin)
        np.testing.assert_allclose(pa[2].data, counts / (3 * 0.02), rtol=1e-12)
    src_spikes = _select(pb[3].data, list(range(4, 12)))
    for x, y in zip(pa[3].data, src_spikes):
        np.testing.assert_array_equal(x, y)


def test_subgroup_spike_times_and_nesting():
    net = Network(dt=1e-4)
    pop = net.add_population(LIF(0.02, 0.002), 6, bias=np.linspace(1.2, 2.2, 6))
    view = pop[1:5][[0, 2]]  # neurons 1 and 3
    assert view.n == 2 and list(view.indices) == [1, 3] and view.parent is pop
    p = net.probe(view, "spikes")
    net.run(0.3)
    rates = [len(t) / 0.3 for t in p.spike_times]
    np.testing.assert_allclose(rates, LIF(0.02, 0.002).rate(np.linspace(1.2, 2.2, 6)[[1, 3]]), rtol=0.05)


def test_bad_subgroups_are_refused():
    net = Network()
    src = net.add_poisson(5, rate=10.0)
    pop = net.add_population(LIF(), 5)
    with pytest.raises(IndexError, match="out of range"):
        pop[5]
    with pytest.raises(IndexError, match="indices must be in"):
        pop[[0, 9]]
    with pytest.raises(ValueError, match="repeats"):
        pop[[1, 1]]
    with pytest.raises(ValueError, match="selects no neuron"):
        pop[3:3]
    with pytest.raises(ValueError, match="mask"):
        pop[np.ones(3, dtype=bool)]
    with pytest.raises(TypeError, match="slice, an int"):
        pop[1.5]
    with pytest.raises(ValueError, match="whole population"):
        net.add_noise(pop[0:2], 0.1)
    with pytest.raises(ValueError, match="subgroups"):
        net.connect(src[0:4], pop[0:4], Convolution(np.ones((1, 1, 1, 1)), (1, 2, 2)))
    with pytest.raises(ValueError, match="weights of shape"):
        net.connect(src[0:2], pop[0:3], np.ones((2, 2)))
    with pytest.raises(ValueError, match="values"):
        net.add_current_input(pop[0:2], np.ones((10, 3)))
    other = Network().add_population(LIF(), 5)
    with pytest.raises(ValueError, match="of this network"):
        net.connect(src, other[0:2], 0.1)
