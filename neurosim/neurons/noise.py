"""Membrane noise discretized exactly: the Ornstein-Uhlenbeck step and the
Brownian-bridge threshold-crossing probability.

Convention (Brian2's): ``dv/dt = (J - v)/tau_m + sigma sqrt(2/tau_m) xi(t)``, so
``sigma`` is the stationary standard deviation of the free (sub-threshold)
membrane, whatever dt. Over a step of h seconds the exact solution is

    v <- J + (v - J) e^(-h/tau_m) + sigma sqrt(1 - e^(-2h/tau_m)) N(0, 1)

(Euler-Maruyama's ``sigma sqrt(2h/tau_m)`` overestimates the variance by
1/(1 - h/(2 tau_m)), 2.6 % at h = 1 ms, tau_m = 20 ms).

A path can cross the threshold and come back within one step although both
grid values are below it. Given the two end points, a Brownian bridge with the
diffusion's variance ``2 sigma^2 h / tau_m`` crosses theta with probability
``exp(-2 (theta - v0)(theta - v1) / (2 sigma^2 h / tau_m))``; drawing that
event removes the O(sqrt(dt)) rate bias of checking the grid only
(Giraudo & Sacerdote 1999; Mannella 1999).

Coloured noise (``tau_noise``): the input is ``J + eta`` with eta an OU current,
``tau_noise d eta/dt = -eta + s sqrt(2 tau_noise) xi``. Its std s is chosen so
that the free membrane's stationary std is still ``sigma``:
``s = sigma sqrt((tau_m + tau_noise)/tau_noise)``; as tau_noise -> 0 this becomes
the white noise above. The pair (v, eta) is linear, so its step is exact too
(:func:`coloured_noise_transition`).
"""
import numpy as np

from .. import validation as check
from .rates import siegert_rate  # noqa: F401  (re-exported)


def ou_step(x, mean, decay, sigma, z, out=None):
    """Exact Ornstein-Uhlenbeck step: ``mean + (x - mean) decay + sigma sqrt(1 - decay^2) z``.

    Parameters
    ----------
    x : ndarray
        State at the start of the step.
    mean : float or ndarray
        Value the process relaxes to (J for the membrane).
    decay : float or ndarray
        ``exp(-h / tau)`` for a step of h seconds.
    sigma : float or ndarray
        Stationary standard deviation of the process.
    z : ndarray
        Standard normal draws, the shape of x.
    out : ndarray, optional
        Where to write the result (may be x).

    Returns
    -------
    ndarray
        The state at the end of the step; its variance given x is ``sigma^2 (1 - decay^2)``.
    """
    out = np.subtract(x, mean, out=out)
    out *= decay
    out += mean
    out += (sigma * np.sqrt(-np.expm1(2.0 * np.log(decay)))) * z
    return out


def bridge_crossing_probability(v0, v1, theta, var):
    """Probability that a Brownian bridge from v0 to v1 reaches theta in between.

    ``exp(-2 (theta - v0)(theta - v1) / var)`` where both ends are below theta, 1 otherwise.

    Parameters
    ----------
    v0, v1 : ndarray
        Values at the start and end of the step.
    theta : float
        Threshold.
    var : float or ndarray
        Variance the diffusion accumulates over the step (``2 sigma^2 h / tau_m`` for the membrane).

    Returns
    -------
    ndarray of float in [0, 1]
    """
    a = np.maximum(theta - v0, 0.0)
    b = np.maximum(theta - v1, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.where(var > 0, -2.0 * a * b / var, -np.inf))


def coloured_noise_transition(sigma, tau_m, tau_noise, h):
    """Exact step of (v, eta) for membrane noise from an OU current.

    The free membrane ``tau_m dv/dt = J + eta - v`` with
    ``tau_noise d eta/dt = -eta + s sqrt(2 tau_noise) xi``, ``s = sigma sqrt((tau_m + tau_noise)/tau_noise)``.

    Parameters
    ----------
    sigma : float
        Stationary std of the free membrane (normalized units).
    tau_m, tau_noise : float
        Membrane and noise time constants in seconds.
    h : float
        Step in seconds.

    Returns
    -------
    Phi : ndarray (2, 2)
        ``[v - J, eta] <- Phi @ [v - J, eta] + L @ z`` with z two standard normals.
    L : ndarray (2, 2)
        Lower Cholesky factor of the step's noise covariance (van Loan's method).
    """
    from scipy.linalg import expm

    s = sigma * np.sqrt((tau_m + tau_noise) / tau_noise)
    A = np.array([[-1.0 / tau_m, 1.0 / tau_m], [0.0, -1.0 / tau_noise]])
    BB = np.zeros((2, 2))
    BB[1, 1] = 2.0 * s * s / tau_noise
    M = np.zeros((4, 4))
    M[:2, :2], M[:2, 2:], M[2:, 2:] = -A, BB, A.T
    E = expm(M * h)
    Phi = E[2:, 2:].T
    Q = Phi @ E[:2, 2:]
    Q = 0.5 * (Q + Q.T)
    return Phi, np.linalg.cholesky(Q + 1e-300 * np.eye(2))


def check_noise(sigma, tau_noise):
    """Validate ``noise`` (sigma >= 0) and ``tau_noise`` (None or > 0); return floats (tau_noise may be None)."""
    sigma = check.positive("noise", sigma, allow_zero=True)
    if tau_noise is not None:
        tau_noise = check.positive("tau_noise", tau_noise)
    return sigma, tau_noise


class NoiseDraws:
    """Random draws for N neurons, from one generator or one per trial (trial-major blocks of N/B).

    Each trial's generator draws exactly what a single run of its n neurons would,
    so trial k of a batch equals an unbatched run seeded with trial k's seed.
    :class:`neurosim.LIFState` and :class:`neurosim.neurons.hh.HHState` draw
    through it; the network runtime draws a step's block before the commit
    (``LIFState.draw``) and snapshots ``state()``.

    Parameters
    ----------
    rng : int, Generator, SeedSequence or list of them (one per trial)
    N : int
        Neurons in all (a multiple of the number of generators).
    """

    def __init__(self, rng, N):
        rngs = rng if isinstance(rng, (list, tuple)) else [rng]
        self.gens = [check.as_rng(r) for r in rngs]
        if N % len(self.gens):
            raise ValueError(f"{N} neurons cannot be split evenly over {len(self.gens)} trial generators")
        self.N, self.n = N, N // len(self.gens)

    def block(self, normals, uniforms=0):
        """``(normals (normals, N), uniforms (uniforms, N))`` for one step."""
        parts = [(g.standard_normal((normals, self.n)), g.random((uniforms, self.n))) for g in self.gens]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts], axis=1)

    def steps(self, steps, normals, uniforms, out=None):
        """``(normals (steps, normals, N), uniforms (steps, uniforms, N))``: a block of several steps.

        Each generator draws its normals of all the steps first, then its uniforms; the
        stream therefore depends on ``steps``, which callers fix from the population size
        only (never from the backend or the run length), so every path consumes the same numbers.
        ``out``: two C-contiguous float64 arrays of those shapes to draw into (the same numbers;
        no fresh memory, whose first touch costs more than drawing into it).
        """
        if out is not None:
            want = ((steps, normals, self.N), (steps, uniforms, self.N))
            if any(a.shape != w or a.dtype != np.float64 or not a.flags.c_contiguous for a, w in zip(out, want)):
                # a single generator fills whatever it is given: another shape would draw other numbers
                raise ValueError(f"out must be C-contiguous float64 arrays of shapes {want[0]} and {want[1]}, got "
                                 f"{tuple((a.shape, str(a.dtype)) for a in out)}")
        if out is not None and len(self.gens) == 1:
            g = self.gens[0]
            return g.standard_normal(out=out[0]), g.random(out=out[1])
        parts = [(g.standard_normal((steps, normals, self.n)), g.random((steps, uniforms, self.n)))
                 for g in self.gens]
        if out is not None:
            for k in range(2):
                np.concatenate([p[k] for p in parts], axis=2, out=out[k])
            return out
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts], axis=2), np.concatenate([p[1] for p in parts], axis=2)

    def normals(self, ids):
        """One standard normal for each (flat) neuron index in ``ids`` (sorted), from its trial's generator."""
        return self._for(ids, "standard_normal")

    def uniforms(self, ids):
        """One uniform [0, 1) number for each (flat) neuron index in ``ids`` (sorted)."""
        return self._for(ids, "random")

    def _for(self, ids, method):
        if len(self.gens) == 1:
            return getattr(self.gens[0], method)(ids.size)
        out = np.empty(ids.size)
        trial = ids // self.n
        for b in np.unique(trial):
            sel = trial == b
            out[sel] = getattr(self.gens[b], method)(int(sel.sum()))
        return out

    def state(self):
        """The generators' states (for a snapshot)."""
        return [g.bit_generator.state for g in self.gens]

    def set_state(self, states):
        for g, s in zip(self.gens, states):
            g.bit_generator.state = s
