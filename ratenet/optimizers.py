"""Gradient-descent optimizers over a list of :class:`ratenet.parameter.Parameter`.

Each optimizer updates ``param.data`` in place from ``param.grad``. State
(momentum, moment estimates) lives in ``optimizer.state[param]``, keyed by the
Parameter object itself, so one optimizer can serve any number of layers.

Every optimizer accepts, besides its own hyper-parameters:

- ``weight_decay`` (L2): adds ``weight_decay * w`` to the gradient, i.e. the
  penalty ``weight_decay / 2 * ||w||^2``;
- ``l1``: adds ``l1 * sign(w)`` to the gradient, the penalty ``l1 * ||w||_1``;
- ``clip_norm``: if the global L2 norm of all raw gradients exceeds it, they are
  scaled by ``clip_norm / norm`` first (as ``torch.nn.utils.clip_grad_norm_``);
- ``schedule``: a callable ``schedule(t) -> lr`` (see :mod:`ratenet.schedules`)
  evaluated with ``t`` = updates taken so far (``schedule_unit="step"``) or epochs
  finished so far (``schedule_unit="epoch"``, counted by :meth:`Optimizer.epoch_end`).

The gradient used by the update is therefore
``g = s * grad + weight_decay * w + l1 * sign(w)`` with ``s`` the clipping scale.
"""
import math

import numpy as np

from neurosim.interrupts import HeldInterrupt
from neurosim.validation import check_number as _number
from .parameter import Parameter

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam"]

# float32 moment estimates below this are flushed to zero: with dead ReLU units the
# gradient is exactly 0, the moments decay geometrically into float32 denormals
# (< 1.2e-38) and every arithmetic pass over them gets ~2x slower. In float32,
# 1e-30 is far below anything that can move a weight with the default eps (the
# update divides by sqrt(v) + eps). float64 state is never flushed: there the
# denormal range starts at 2e-308, and a flush at 1e-30 would corrupt updates
# when eps is tiny (eps=1e-20 with gradients of 1e-16: v ~ 1e-32 matters).
_FLUSH_BELOW = 1e-30


class Optimizer:
    """Base class. Subclasses implement ``_update(p, g, lr, state)``.

    Parameters
    ----------
    params : iterable of Parameter, optional
        The parameters to update; may be given later with :meth:`bind`
        (``fit`` binds ``model.parameters()`` automatically).
    lr : float
        Learning rate, > 0 (ignored when ``schedule`` is given).
    weight_decay, l1 : float
        L2 and L1 penalty coefficients, >= 0.
    clip_norm : float or None
        Maximum global gradient L2 norm, > 0, or None for no clipping.
    schedule : callable or None
        ``schedule(t) -> lr``; overrides ``lr``.
    schedule_unit : {"step", "epoch"}
        What ``t`` counts.
    """

    # Names of state arrays that decay geometrically and must be flushed.
    _decaying = ()

    def __init__(self, params=None, lr=0.01, weight_decay=0, l1=0, clip_norm=None,
                 schedule=None, schedule_unit="step"):
        self.lr = _number("lr", lr, low=0, low_open=True)
        self.weight_decay = _number("weight_decay", weight_decay, low=0)
        self.l1 = _number("l1", l1, low=0)
        self.clip_norm = None if clip_norm is None else _number("clip_norm", clip_norm, low=0, low_open=True)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule must be callable schedule(t) -> lr or None, got {schedule!r}")
        if schedule_unit not in ("step", "epoch"):
            raise ValueError(f"schedule_unit must be 'step' or 'epoch', got {schedule_unit!r}")
        self.schedule, self.schedule_unit = schedule, schedule_unit
        self.params = []
        self.state = {}
        self.iterations = 0   # updates taken
        self.epochs = 0       # epochs finished (advanced by epoch_end)
        self._flush_every = 100
        if params is not None:
            self.bind(params)

    # ---------------------------------------------------------------- binding
    def bind(self, params):
        """Set the parameters to optimize (resets all state).

        Parameters
        ----------
        params : iterable of Parameter
            E.g. ``model.parameters()``. Duplicates are kept once.

        Returns
        -------
        self
        """
        if isinstance(params, Parameter):
            params = [params]
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"params must be an iterable of Parameter, got {type(params).__name__}") from None
        unique = []
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"params must contain ratenet Parameter objects, got {type(p).__name__}")
            if not any(p is q for q in unique):
                unique.append(p)
        if not unique:
            raise ValueError("params is empty: nothing to optimize")
        self.params, self.state = unique, {}
        self.iterations = self.epochs = 0
        return self

    def zero_grad(self):
        """Set the gradient of every bound parameter to zero in place."""
        for p in self.params:
            p.grad.fill(0)

    # ------------------------------------------------------------ the update
    @property
    def current_lr(self):
        """The learning rate the next :meth:`step` will use (float)."""
        if self.schedule is None:
            return self.lr
        t = self.iterations if self.schedule_unit == "step" else self.epochs
        lr = float(self.schedule(t))
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"schedule({t}) returned {lr!r}; a learning rate must be finite and > 0")
        return lr

    def epoch_end(self):
        """Advance the epoch counter used by ``schedule_unit="epoch"``."""
        self.epochs += 1

    def _clip_scale(self):
        if self.clip_norm is None:
            return 1.0
        # One BLAS dot per parameter in its own dtype (no copy); only if a float32
        # sum of squares overflows is it redone on float64 copies.
        total = sum(float(np.dot(g, g)) for g in (p.grad.reshape(-1) for p in self.params))
        if not math.isfinite(total):
            total = sum(float(np.dot(g, g)) for g in (p.grad.reshape(-1).astype(np.float64)
                                                       for p in self.params))
        norm = math.sqrt(total)
        return self.clip_norm / norm if norm > self.clip_norm else 1.0

    def step(self):
        """Apply one update to every bound parameter, in place.

        The step is a transaction: everything that may fail (the schedule, the
        clipping norm) is computed first, and Ctrl-C is held until all parameters
        and the optimizer state are updated (then KeyboardInterrupt is raised), so
        an interrupted step leaves every parameter updated, or none.

        Raises
        ------
        RuntimeError
            If no parameters are bound.
        """
        if not self.params:
            raise RuntimeError("optimizer has no parameters: pass params=... or call bind(model.parameters())")
        lr = self.current_lr
        scale = self._clip_scale()
        for p in self.params:   # allocate state before the commit (it may fail)
            if p not in self.state:
                self.state[p] = self._init_state(p)
        with HeldInterrupt():
            self._commit(lr, scale)

    def _commit(self, lr, scale):
        """Update every parameter and the counters (Ctrl-C held by the caller)."""
        wd, l1 = self.weight_decay, self.l1
        for p in self.params:
            state = self.state[p]
            g = p.grad
            if scale != 1.0 or wd or l1:
                # Effective gradient in a scratch buffer: never alter p.grad.
                buf = state.get("_g")
                if buf is None:
                    buf = state["_g"] = np.empty_like(p.data)
                np.multiply(g, scale, out=buf)
                if wd or l1:
                    tmp = state.get("tmp")   # free until _update overwrites it
                    if tmp is None:
                        tmp = state["tmp"] = np.empty_like(p.data)
                    if wd:
                        np.multiply(p.data, wd, out=tmp)
                        buf += tmp
                    if l1:
                        np.sign(p.data, out=tmp)
                        tmp *= l1
                        buf += tmp
                g = buf
            self._update(p, g, lr, state)
        self.iterations += 1
        if self._decaying and self.iterations % self._flush_every == 0:
            self._flush()

    def _flush(self):
        for state in self.state.values():
            for name in self._decaying:
                a = state[name]
                if a.dtype == np.float32:
                    a[np.abs(a) < _FLUSH_BELOW] = 0

    def _init_state(self, p):
        return {"tmp": np.empty_like(p.data)}

    def _update(self, p, g, lr, state):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr}, n_params={len(self.params)})"


def _flush_interval(decay):
    """Steps between flushes so a value >= _FLUSH_BELOW cannot reach a denormal."""
    if decay <= 0:
        return 100
    # _FLUSH_BELOW * decay**n must stay above ~1e-37 (float32 normals end at 1.2e-38).
    n = int(math.log(1e-7) / math.log(decay)) if decay < 1 else 100
    return max(1, min(100, n))


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Same convention as PyTorch (no dampening)::

        v <- momentum * v + g
        w <- w - lr * (g + momentum * v)   if nesterov
        w <- w - lr * v                    otherwise  (w - lr * g when momentum = 0)

    Parameters
    ----------
    momentum : float
        In [0, 1).
    nesterov : bool
        Nesterov's accelerated gradient; needs momentum > 0.
    Others as in :class:`Optimizer`.
    """

    def __init__(self, params=None, lr=0.01, momentum=0, nesterov=False, weight_decay=0,
                 l1=0, clip_norm=None, schedule=None, schedule_unit="step"):
        self.momentum = _number("momentum", momentum, low=0, high=1, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self._decaying = ("v",) if self.momentum else ()
        super().__init__(params, lr, weight_decay, l1, clip_norm, schedule, schedule_unit)
        self._flush_every = _flush_interval(self.momentum)

    def _init_state(self, p):
        if not self.momentum:
            return {"tmp": np.empty_like(p.data)}
        return {"v": np.zeros_like(p.data), "tmp": np.empty_like(p.data)}

    def _update(self, p, g, lr, state):
        tmp = state["tmp"]
        if not self.momentum:
            np.multiply(g, lr, out=tmp)
            p.data -= tmp
            return
        v = state["v"]
        v *= self.momentum
        v += g
        if self.nesterov:
            np.multiply(v, self.momentum, out=tmp)
            tmp += g
            tmp *= lr
        else:
            np.multiply(v, lr, out=tmp)
        p.data -= tmp


class Adagrad(Optimizer):
    """Adagrad: per-weight rates shrinking with the accumulated squared gradient::

        G <- G + g^2
        w <- w - lr * g / (sqrt(G) + eps)

    Parameters
    ----------
    lr : float
        Default 0.01.
    eps : float
        Added to the denominator, > 0. Default 1e-10.
    """

    def __init__(self, params=None, lr=0.01, eps=1e-10, weight_decay=0, l1=0, clip_norm=None,
                 schedule=None, schedule_unit="step"):
        self.eps = _number("eps", eps, low=0, low_open=True)
        super().__init__(params, lr, weight_decay, l1, clip_norm, schedule, schedule_unit)

    def _init_state(self, p):
        return {"G": np.zeros_like(p.data), "tmp": np.empty_like(p.data)}

    def _update(self, p, g, lr, state):
        G, tmp = state["G"], state["tmp"]
        np.multiply(g, g, out=tmp)
        G += tmp
        _step_by_rms(p, g, G, self.eps, lr, tmp)


class RMSprop(Optimizer):
    """RMSprop: divide by a running RMS of the gradient::

        E <- alpha * E + (1 - alpha) * g^2
        w <- w - lr * g / (sqrt(E) + eps)

    Parameters
    ----------
    lr : float
        Default 0.01.
    alpha : float
        Smoothing constant in [0, 1). Default 0.99 (PyTorch's name and value).
    eps : float
        > 0. Default 1e-8.
    """

    _decaying = ("E",)

    def __init__(self, params=None, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, l1=0,
                 clip_norm=None, schedule=None, schedule_unit="step"):
        self.alpha = _number("alpha", alpha, low=0, high=1, high_open=True)
        self.eps = _number("eps", eps, low=0, low_open=True)
        super().__init__(params, lr, weight_decay, l1, clip_norm, schedule, schedule_unit)
        self._flush_every = _flush_interval(self.alpha)

    def _init_state(self, p):
        return {"E": np.zeros_like(p.data), "tmp": np.empty_like(p.data)}

    def _update(self, p, g, lr, state):
        E, tmp = state["E"], state["tmp"]
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.alpha
        E *= self.alpha
        E += tmp
        _step_by_rms(p, g, E, self.eps, lr, tmp)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012), with PyTorch's ``lr`` factor::

        Eg  <- rho * Eg + (1 - rho) * g^2
        d   =  sqrt(Edx + eps) / sqrt(Eg + eps) * g
        Edx <- rho * Edx + (1 - rho) * d^2
        w   <- w - lr * d

    Parameters
    ----------
    lr : float
        Default 1.0 (the original method has no learning rate).
    rho : float
        Decay in [0, 1). Default 0.9.
    eps : float
        > 0. Default 1e-6.
    """

    _decaying = ("Eg", "Edx")

    def __init__(self, params=None, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, l1=0,
                 clip_norm=None, schedule=None, schedule_unit="step"):
        self.rho = _number("rho", rho, low=0, high=1, high_open=True)
        self.eps = _number("eps", eps, low=0, low_open=True)
        super().__init__(params, lr, weight_decay, l1, clip_norm, schedule, schedule_unit)
        self._flush_every = _flush_interval(self.rho)

    def _init_state(self, p):
        z = np.zeros_like
        return {"Eg": z(p.data), "Edx": z(p.data), "tmp": np.empty_like(p.data), "d": np.empty_like(p.data)}

    def _update(self, p, g, lr, state):
        rho, eps = self.rho, self.eps
        Eg, Edx, tmp, d = state["Eg"], state["Edx"], state["tmp"], state["d"]
        np.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        Eg *= rho
        Eg += tmp
        np.add(Edx, eps, out=d)
        np.add(Eg, eps, out=tmp)
        np.divide(d, tmp, out=d)
        np.sqrt(d, out=d)
        d *= g
        np.multiply(d, d, out=tmp)
        tmp *= 1 - rho
        Edx *= rho
        Edx += tmp
        d *= lr
        p.data -= d


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015)::

        m <- b1 * m + (1 - b1) * g
        v <- b2 * v + (1 - b2) * g^2
        w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    float32 moments below 1e-30 are flushed to zero every few steps so dead units do
    not leave denormals that slow every later update (denormal arithmetic costs
    ~2x; float64 state is never flushed, so tiny ``eps`` values stay exact).

    Parameters
    ----------
    lr : float
        Default 1e-3.
    betas : (float, float)
        Decay rates (b1, b2), each in [0, 1). Default (0.9, 0.999).
    eps : float
        > 0. Default 1e-8.
    """

    _decaying = ("m", "v")

    def __init__(self, params=None, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, l1=0,
                 clip_norm=None, schedule=None, schedule_unit="step"):
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (_number("betas[0]", b1, low=0, high=1, high_open=True),
                      _number("betas[1]", b2, low=0, high=1, high_open=True))
        self.eps = _number("eps", eps, low=0, low_open=True)
        super().__init__(params, lr, weight_decay, l1, clip_norm, schedule, schedule_unit)
        self._flush_every = _flush_interval(min(self.betas))

    def _init_state(self, p):
        return {"m": np.zeros_like(p.data), "v": np.zeros_like(p.data), "tmp": np.empty_like(p.data)}

    def _update(self, p, g, lr, state):
        b1, b2 = self.betas
        t = self.iterations + 1
        step_size = lr / (1 - b1 ** t)
        inv_sqrt_bc2 = 1 / math.sqrt(1 - b2 ** t)
        m, v, tmp = state["m"], state["v"], state["tmp"]
        np.multiply(g, 1 - b1, out=tmp)
        m *= b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v *= b2
        v += tmp
        # denom = sqrt(v_hat) + eps, formed in place
        np.sqrt(v, out=tmp)
        tmp *= inv_sqrt_bc2
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        p.data -= tmp


def _step_by_rms(p, g, accumulator, eps, lr, tmp):
    """w <- w - lr * g / (sqrt(accumulator) + eps), in place through the scratch buffer ``tmp``."""
    np.sqrt(accumulator, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    tmp *= lr
    p.data -= tmp
