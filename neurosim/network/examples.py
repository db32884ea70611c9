"""Ready-made networks: the CUBA and COBA benchmarks (Vogels & Abbott 2005; Brette et al. 2007) and Brunel's
(2000) sparse E/I network with delta synapses (:func:`brunel`).

Used by ``neurosim network --example cuba``, ``benchmarks/cuba.py``, the demo
and the tests. The model is written in physical units and converted with
:class:`neurosim.LIFUnits` and :func:`neurosim.synaptic_weight` -- no hand
conversion -- mirroring Brian2's CUBA example::

    dv/dt  = (ge + gi - (v - El)) / taum      (unless refractory)
    dge/dt = -ge / taue,   dgi/dt = -gi / taui
    threshold v > Vt, reset v = Vr, refractory 5 ms; ge += we, gi += wi on spikes
"""
import numpy as np

from .. import validation as check
from .connections import synaptic_weight
from ..neurons.lif import LIFUnits
from .description import Network
from ..synapses import Conductance, PSCFilter

CUBA = dict(tau_m=0.020, tau_e=0.005, tau_i=0.010, V_t=-0.050, V_r=-0.060, E_l=-0.049, tau_ref=0.005,
            w_e=60 * 0.27 / 10 * 1e-3, w_i=-20 * 4.5 / 10 * 1e-3, p=0.02, n=4000, exc_fraction=0.8)


def random_connectivity(n_post, pre_range, p, rng):
    """Each (post, pre) pair connected independently with probability p; pre in ``range(*pre_range)``.

    Exact Bernoulli sampling without building an N x N mask: the gaps between
    successes in the flattened pair sequence are geometric.

    Returns
    -------
    post, pre : ndarray of int64
    """
    lo, hi = pre_range
    total = (hi - lo) * n_post
    expected = total * p
    chunks, pos = [], -1
    while True:
        gaps = rng.geometric(p, size=int(expected + 6 * np.sqrt(expected) + 100))
        flat = pos + np.cumsum(gaps)
        chunks.append(flat[flat < total])
        if flat[-1] >= total:
            break
        pos = flat[-1]
    flat = np.concatenate(chunks)
    return flat % n_post, lo + flat // n_post


def cuba(n=4000, rng=0, dt=1e-4, in_degree=None, backend="auto"):
    """The CUBA network: n LIF neurons (80 % excitatory), random sparse recurrent connections.

    Parameters
    ----------
    n : int
        Number of neurons (4000 in the benchmark).
    rng : int or numpy.random.Generator
        Seeds connectivity and initial voltages.
    dt : float
        Step in seconds.
    in_degree : float, optional
        Mean number of inputs per neuron; default ``0.02 * 4000 = 80`` (the
        benchmark's), so p = in_degree / n keeps it fixed as n grows.
    backend : {"auto", "numpy", "numba"}
        The network's backend (see :class:`neurosim.Network`).

    Returns
    -------
    net : Network
    spikes : Probe
        Spike probe of the whole population.
    """
    import scipy.sparse as sp

    n = check.check_int("n", n, low=2)  # at least one excitatory and one inhibitory neuron
    rng = check.as_rng(rng)
    c = CUBA
    if in_degree is not None:
        in_degree = check.positive("in_degree", in_degree)
    p = (c["p"] * c["n"] if in_degree is None else in_degree) / n
    if not 0 < p <= 1:
        raise ValueError(f"in_degree must give a probability in (0, 1], got p = {p}")
    units = LIFUnits(C=1.0, g_L=1.0 / c["tau_m"], V_L=c["E_l"], V_th=c["V_t"], V_reset=c["V_r"],
                     tau_ref=c["tau_ref"])  # C = 1 F: only tau_m = C/g_L matters for voltage-jump synapses
    net = Network(dt=dt, rng=rng, backend=backend)
    pop = net.add_population(units, n, v0="uniform", name="cuba")
    n_exc = int(round(c["exc_fraction"] * n))
    for (lo, hi), tau, jump in (((0, n_exc), c["tau_e"], c["w_e"]), ((n_exc, n), c["tau_i"], c["w_i"])):
        syn = PSCFilter(tau)
        post, pre = random_connectivity(n, (lo, hi), p, rng)
        w = synaptic_weight(units, syn, voltage=jump)
        W = sp.csr_matrix((np.full(post.size, w), (post, pre)), shape=(n, n))
        net.connect(pop, pop, W, synapse=syn)
    return net, net.probe(pop, "spikes")


#: Brette et al. (2007) benchmark 1, as in the Brian2 COBA benchmark scripts (dv/dt = (ge (Ee - v) + gi (Ei - v)
#: - (v - El) + I) / taum with ge, gi in units of g_L; we = 6 nS / 10 nS, wi = 67 nS / 10 nS, I = 20 mV).
COBA = dict(C=200e-12, g_L=10e-9, tau_e=0.005, tau_i=0.010, V_t=-0.050, V_r=-0.060, E_l=-0.060, E_e=0.0,
            E_i=-0.080, tau_ref=0.005, g_e=6e-9, g_i=67e-9, I=20e-3 * 10e-9, p=0.02, n=4000, exc_fraction=0.8)


def coba(n=4000, rng=0, dt=1e-4, in_degree=None, backend="auto"):
    """The COBA network: n LIF neurons (80 % excitatory) with conductance synapses, sparse random connections.

    Benchmark 1 of Brette et al. (2007), after Vogels & Abbott (2005)::

        C dV/dt = g_L (E_l - V) + g_e (E_e - V) + g_i (E_i - V) + I     (unless refractory)
        tau_e dg_e/dt = -g_e,  tau_i dg_i/dt = -g_i;  g_e += 6 nS, g_i += 67 nS per spike
        C = 200 pF, g_L = 10 nS, E_l = V_r = -60 mV, V_t = -50 mV, E_e = 0, E_i = -80 mV,
        tau_e = 5 ms, tau_i = 10 ms, refractory 5 ms, I = 200 pA (20 mV, as Brian2's COBA scripts)

    Initial voltages are normal(-55 mV, 5 mV) as in those scripts, kept below threshold.

    Parameters
    ----------
    n : int
        Number of neurons (4000 in the benchmark).
    rng : int or numpy.random.Generator
        Seeds connectivity and initial voltages.
    dt : float
        Step in seconds.
    in_degree : float, optional
        Mean number of inputs per neuron; default ``0.02 * 4000 = 80``, so p = in_degree / n.
    backend : {"auto", "numpy", "numba"}
        The network's backend; conductance synapses run on numpy ("auto" picks it, "numba" refuses).

    Returns
    -------
    net : Network
    spikes : Probe
        Spike probe of the whole population.
    """
    import scipy.sparse as sp

    n = check.check_int("n", n, low=2)
    rng = check.as_rng(rng)
    c = COBA
    if in_degree is not None:
        in_degree = check.positive("in_degree", in_degree)
    p = (c["p"] * c["n"] if in_degree is None else in_degree) / n
    if not 0 < p <= 1:
        raise ValueError(f"in_degree must give a probability in (0, 1], got p = {p}")
    units = LIFUnits(C=c["C"], g_L=c["g_L"], V_L=c["E_l"], V_th=c["V_t"], V_reset=c["V_r"], tau_ref=c["tau_ref"])
    net = Network(dt=dt, rng=rng, backend=backend)
    v0 = np.minimum(rng.normal(-0.055, 0.005, n), c["V_t"] - 1e-6)
    pop = net.add_population(units, n, bias=c["I"], v0=v0, name="coba")
    n_exc = int(round(c["exc_fraction"] * n))
    for (lo, hi), tau, E, g in (((0, n_exc), c["tau_e"], c["E_e"], c["g_e"]),
                                ((n_exc, n), c["tau_i"], c["E_i"], c["g_i"])):
        post, pre = random_connectivity(n, (lo, hi), p, rng)
        W = sp.csr_matrix((np.full(post.size, g), (post, pre)), shape=(n, n))
        net.connect(pop, pop, W, synapse=Conductance(tau, E_rev=E))
    return net, net.probe(pop, "spikes")


BRUNEL = dict(tau_m=0.020, theta=0.020, V_reset=0.010, tau_ref=0.002, J=0.1e-3, delay=1.5e-3, epsilon=0.1)


def brunel(order=2500, g=5.0, eta=2.0, rng=0, dt=1e-4, backend="auto", J=None, V_reset=0.0, multapses=True):
    """Brunel's (2000) network of 5 * order LIF neurons with delta synapses, as NEST's ``brunel_delta_nest.py``.

    NE = 4 order excitatory and NI = order inhibitory neurons (one population, the
    excitatory ones first), tau_m = 20 ms, threshold 20 mV, reset 0 mV (the
    potential is measured from rest), tau_ref = 2 ms, all starting at 0 mV. Each
    neuron receives CE = 0.1 NE excitatory inputs of J = 0.1 mV and CI = 0.1 NI
    inhibitory ones of -g J, drawn as NEST's ``fixed_indegree`` does (uniformly with
    replacement: a repeated source is one synapse of twice the weight; self-connections
    allowed), delay 1.5 ms, and its own
    Poisson drive of CE inputs at eta * nu_th each (nu_th = theta / (J CE tau_m)):
    one source with ``independent_per_target=True``, weight J, delay 1.5 ms.

    Parameters
    ----------
    order : int
        Network size (2500 in the published script: 12,500 neurons).
    g : float
        Relative inhibitory strength (5 published; 4.5 with eta = 0.9: slow synchronous irregular).
    eta : float
        External rate relative to the threshold rate.
    rng : int, Generator or SeedSequence
        Seeds connectivity and drive.
    dt : float
        Step in seconds.
    backend : {"auto", "numpy", "numba"}
    J : float, optional
        Excitatory jump in volts (default 0.1 mV).
    V_reset : float
        Reset potential in volts above rest (0 as NEST's script).
    multapses : bool
        True (default): inputs drawn with replacement, as NEST's ``fixed_indegree``;
        False: k distinct inputs (:func:`neurosim.connectors.fixed_in_degree`). The slow
        synchronous-irregular regime is sensitive to the difference (about 10 % in rate).

    Returns
    -------
    net : Network
    spikes : Probe
        Spike probe of all 5 * order neurons (excitatory: indices < 4 order).
    """
    import scipy.sparse as sp

    from ..connectors import fixed_in_degree
    from ..synapses import Delta

    order = check.check_int("order", order, low=1)
    multapses = check.check_bool("multapses", multapses)
    g = check.positive("g", g, allow_zero=True)
    eta = check.positive("eta", eta, allow_zero=True)
    c = BRUNEL
    J = c["J"] if J is None else check.positive("J", J)
    rng = check.as_rng(rng)
    NE, NI = 4 * order, order
    N = NE + NI
    CE, CI = int(c["epsilon"] * NE), int(c["epsilon"] * NI)
    # physical units measured from rest (E_L = 0, as NEST's script): only tau_m = C / g_L matters
    units = LIFUnits(C=1.0, g_L=1.0 / c["tau_m"], V_L=0.0, V_th=c["theta"], V_reset=V_reset, tau_ref=c["tau_ref"])
    net = Network(dt=dt, rng=rng, backend=backend)
    pop = net.add_population(units, N, bias=0.0, v0=np.zeros(N), name="brunel")
    syn = Delta()
    if multapses:  # NEST's fixed_indegree (allow_multapses=True): k draws with replacement, repeats add up
        pre = np.concatenate([rng.integers(0, NE, size=(N, CE), dtype=np.int32),
                              rng.integers(NE, N, size=(N, CI), dtype=np.int32)], axis=1).reshape(-1)
        w = np.concatenate([np.full((N, CE), J), np.full((N, CI), -g * J)], axis=1).reshape(-1)
        W = sp.csr_matrix((w, pre, np.arange(N + 1, dtype=np.int64) * (CE + CI)), shape=(N, N))
        del pre, w
        W.sum_duplicates()
    else:
        W_e, _ = fixed_in_degree(CE, weights=J).build(NE, N, rng=rng)
        W_i, _ = fixed_in_degree(CI, weights=-g * J).build(NI, N, rng=rng)
        W = sp.hstack([W_e, W_i], format="csr")  # (N, NE + NI): the excitatory columns first
        del W_e, W_i
    net.connect(pop, pop, W, synapse=syn, delay=c["delay"])
    del W
    nu_th = c["theta"] / (J * CE * c["tau_m"])
    drive = net.add_poisson(1, eta * nu_th * CE, name="drive", independent_per_target=True)
    net.connect(drive, pop, np.full((N, 1), J), synapse=syn, delay=c["delay"])
    return net, net.probe(pop, "spikes")


EXAMPLES = {"cuba": cuba, "coba": coba, "brunel": brunel}
