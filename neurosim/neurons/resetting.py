"""Two-variable models with a spike-and-reset (AdEx, Izhikevich): RK4 with in-step spike location.

Both models are a membrane variable ``v`` and a recovery variable ``w`` that blow up in finite
time: the spike is the blow-up, cut at ``v_peak``. A grid check of ``v >= v_peak`` would stamp the
spike at the step's end and apply the reset late; a Hermite interpolation of v between grid points
(:mod:`neurosim.neurons.crossings`, used by HH) is poor here, since the slope grows exponentially
within the step. So:

- every neuron takes one RK4 step of dt;
- a neuron whose step ends on the steep upswing (``|d(dv/dt)/dv| dt > 0.5``), past the peak, or is
  refractory, is re-solved alone, in RK4 substeps that shrink as the upswing steepens;
- the crossing time ``h*`` inside the (sub)step that ends past the peak is the root of
  ``v_rk4(h) - v_peak``, one RK4 step of length ``h`` from the substep's start (Illinois regula
  falsi, to 1e-13 s). The reset is applied at ``h*`` and the rest of the step is integrated from
  the reset state, so spike times and resets are not tied to the grid.

Refractoriness (``tau_ref > 0``) holds ``v`` at the reset value and lets ``w`` relax exactly
(linear ODE with v fixed) for ``tau_ref``, also across step boundaries.

One spike per neuron per step: a second crossing within the same step raises
:class:`neurosim.SimulationError` (dt too large), never drops a spike.
"""
import numpy as np

from ..errors import SimulationError
from .base import NeuronModel, _parameter


class ResettingModel(NeuronModel):
    """Base of AdEx and Izhikevich: subclasses give the vector field, the reset and the peak.

    Subclass hooks (arrays broadcast against each other; ``p`` is the dict of
    :meth:`_coefficients`, sliced to the neurons at hand):

    ``_coefficients() -> dict``: derived constants, with keys "v_reset", "v_peak" and, for a
    refractory model, "tau_ref" (computed once per parameter change);
    ``_rhs(v, w, J, p) -> (dv/dt, dw/dt)`` in units per second;
    ``_after_spike(w, p) -> w``;
    ``_refractory_w(w, h, p) -> w`` (refractory models only);
    ``_stiffness(v, p)``: |d(dv/dt)/dv| (1/s), which sets the substeps of the upswing;
    ``_check_dt(dt, v)``: raise SimulationError if dt is beyond the RK4 step's stability limit.

    ``jit = False``: the step is vectorized numpy that calls these hooks (numba cannot compile it
    as written), so it runs as Python without trying numba and without a warning.
    """

    jit = False

    def __init__(self, **params):
        super().__init__(**params)
        self._validate()
        object.__setattr__(self, "_ready", True)

    def _validate(self):
        """Refuse parameters of the wrong type (TypeError) or range (ValueError, in subclasses)."""
        for name, value in self.parameters.items():
            if not isinstance(value, (float, np.ndarray)) or np.asarray(value).dtype == bool:
                raise TypeError(f"{type(self).__name__}: {name} must be a real number or an array of them, "
                                f"got {value!r} ({type(value).__name__})")

    def __setattr__(self, name, value):
        # An assigned parameter is checked like a constructor keyword (and the old value kept if it
        # is refused); the derived constants are recomputed at the next step.
        if getattr(self, "_ready", False) and name in self.parameters:
            old = getattr(self, name)
            object.__setattr__(self, name, _parameter(name, value))
            try:
                self._validate()
            except Exception:
                object.__setattr__(self, name, old)
                raise
        else:
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_coef_cache", None)

    def _params(self, idx=None, n=None):
        """The derived constants, optionally sliced to flat indices ``idx`` of a (..., n) state."""
        p = getattr(self, "_coef_cache", None)
        if p is None:
            p = self._coefficients()
            object.__setattr__(self, "_coef_cache", p)
        if idx is None:
            return p
        return {k: (val[idx % n] if isinstance(val, np.ndarray) and val.ndim else val) for k, val in p.items()}

    def _rk4(self, v, w, J, h, p):
        """One classical RK4 step of length ``h`` (s, scalar or per neuron) from (v, w)."""
        k1v, k1w = self._rhs(v, w, J, p)
        hh = 0.5 * h
        k2v, k2w = self._rhs(v + hh * k1v, w + hh * k1w, J, p)
        k3v, k3w = self._rhs(v + hh * k2v, w + hh * k2w, J, p)
        k4v, k4w = self._rhs(v + h * k3v, w + h * k3w, J, p)
        h6 = h / 6.0
        return (v + h6 * (k1v + 2.0 * (k2v + k3v) + k4v),
                w + h6 * (k1w + 2.0 * (k2w + k3w) + k4w))

    def _crossing(self, v, w, J, h, v_end, p):
        """Root ``h*`` in (0, h] of ``v_rk4(h*) = v_peak`` (Illinois); returns (h*, w at h*)."""
        peak = p["v_peak"]
        lo = np.zeros_like(v)
        hi = np.array(h, dtype=float) * np.ones_like(v)
        glo = v - peak
        ghi = np.where(np.isfinite(v_end), v_end - peak, np.inf)
        at_start = glo >= 0.0  # started at or above the peak (e.g. a v0 there): spike at once
        side = np.zeros(v.shape, dtype=np.int8)
        tol = 1e-12 * np.abs(peak) + 1e-300  # v within rounding of the peak
        x = hi.copy()
        for _ in range(100):
            x = hi - ghi * (hi - lo) / (ghi - glo)
            bad = ~((x > lo) & (x < hi))
            x[bad] = 0.5 * (lo[bad] + hi[bad])
            vx, _ = self._rk4(v, w, J, x, p)
            gx = vx - peak
            up = ~(gx < 0.0)  # non-finite counts as past the peak
            # Illinois: halve the stale end's value when the same end moves twice in a row
            glo = np.where(up & (side == 1), 0.5 * glo, glo)
            ghi = np.where(~up & (side == -1), 0.5 * ghi, ghi)
            hi = np.where(up, x, hi)
            ghi = np.where(up, gx, ghi)
            lo = np.where(up, lo, x)
            glo = np.where(up, glo, gx)
            side = np.where(up, 1, -1).astype(np.int8)
            done = np.abs(gx) <= tol
            if np.all(done | (hi - lo <= 1e-13)):
                break
        # the last iterate where it hit the peak, else the bracket's upper end (within 1e-13 s)
        x = np.where(at_start, 0.0, np.where(done, x, hi))
        _, wx = self._rk4(v, w, J, x, p)
        return x, wx

    def _adaptive(self, v, w, J, h, p):
        """Integrate a subset over ``h`` (per neuron) in substeps of at most ``_STIFF / stiffness``,
        stopping at the first crossing of the peak, located by :meth:`_crossing` inside its substep.

        The spike is the blow-up: the steps across the upswing are the least accurate part of a
        fixed-step run, so they are re-solved with substeps that shrink as the upswing steepens
        (only the neurons there: the cost is per spike, not per step).

        Returns ``(found, h*, w at h*, v, w)``: where ``found`` is False the last two hold the
        state after ``h``.
        """
        v, w = v.copy(), w.copy()
        left = np.array(h, dtype=float) * np.ones_like(v)
        t = np.zeros_like(v)
        found = np.zeros(v.shape, dtype=bool)
        hstar, wx = np.zeros_like(v), np.zeros_like(v)
        for _ in range(_MAX_SUBSTEPS):
            sel = np.flatnonzero(~found & (left > 0.0))
            if not sel.size:
                return found, hstar, wx, v, w
            ps = _take(p, sel)
            hs = np.minimum(left[sel], _STIFF / np.maximum(self._stiffness(v[sel], ps), 1e-300))
            v1, w1 = self._rk4(v[sel], w[sel], J[sel], hs, ps)
            cr = (v1 >= ps["v_peak"]) | ~np.isfinite(v1)
            k = sel[cr]
            if k.size:
                x, wk = self._crossing(v[k], w[k], J[k], hs[cr], v1[cr], _take(ps, cr))
                hstar[k], wx[k] = t[k] + x, wk
                found[k] = True
            m, hm = sel[~cr], hs[~cr]
            v[m], w[m] = v1[~cr], w1[~cr]
            t[m] += hm
            left[m] = np.where(hm >= left[m], 0.0, left[m] - hm)
        raise SimulationError(f"{type(self).__name__}: more than {_MAX_SUBSTEPS} substeps within one step; "
                              f"the state is leaving the model's valid range")

    # ---- the step -----------------------------------------------------------------------------
    def _step(self, dt, J, v, w, ref=None):
        """Advance by ``dt`` seconds; returns ``(spiked, offsets)`` with offsets in [0, dt) s."""
        self._check_dt(dt, v)
        p = self._params()
        v1, w1 = self._rk4(v, w, J, dt, p)
        special = v1 >= p["v_peak"]
        special |= ~np.isfinite(v1)
        special |= self._stiffness(v1, p) * dt > _STIFF  # the upswing: re-solved in substeps
        if ref is not None:
            special |= ref > 0.0
        idx = np.flatnonzero(special)
        spiked = np.zeros(v.shape, dtype=bool)
        offsets = np.zeros(v.shape)
        if idx.size:
            vf, wf, Jf = v.reshape(-1), w.reshape(-1), np.broadcast_to(J, v.shape).reshape(-1)
            rf = ref.reshape(-1) if ref is not None else None
            vs, ws = self._resolve(dt, idx, vf[idx].copy(), wf[idx].copy(), Jf[idx],
                                   None if rf is None else rf[idx].copy(), spiked.reshape(-1),
                                   offsets.reshape(-1), v.shape[-1], rf)
            v1.reshape(-1)[idx] = vs
            w1.reshape(-1)[idx] = ws
        v[...] = v1
        w[...] = w1
        return spiked, offsets

    def _resolve(self, dt, idx, vs, ws, Js, rs, spiked, offsets, n, ref_out):
        """Integrate the neurons ``idx`` that are refractory or cross the peak in this step, piece by piece."""
        p = self._params(idx, n)
        used = np.zeros(idx.size)  # time of the step already integrated (s)
        todo = np.ones(idx.size, dtype=bool)
        for _ in range(4):  # refractory -> free -> spike -> refractory -> free
            if not todo.any():
                break
            if rs is not None:
                busy = todo & (rs > 0.0)
                if busy.any():
                    h = np.minimum(rs[busy], dt - used[busy])
                    pb = _take(p, busy)
                    ws[busy] = self._refractory_w(ws[busy], h, pb)
                    vs[busy] = _bcast(pb["v_reset"], h.shape)
                    rs[busy] -= h
                    used[busy] += h
                    todo &= used < dt
            free = np.flatnonzero(todo)
            if not free.size:
                break
            h = dt - used[free]
            pf = _take(p, free)
            cross, hstar, wx, v_end, w_end = self._adaptive(vs[free], ws[free], Js[free], h, pf)
            stay = free[~cross]
            vs[stay], ws[stay] = v_end[~cross], w_end[~cross]
            todo[stay] = False
            c = free[cross]
            if c.size:
                if spiked[idx[c]].any():
                    raise SimulationError(f"{type(self).__name__}: a neuron spiked twice within one step of "
                                          f"dt={dt:g} s; use a smaller dt")
                pc = _take(pf, cross)
                hstar, wx = hstar[cross], wx[cross]
                spiked[idx[c]] = True
                offsets[idx[c]] = np.minimum(used[c] + hstar, np.nextafter(dt, 0.0))
                used[c] += hstar
                vs[c] = _bcast(pc["v_reset"], c.shape)
                ws[c] = self._after_spike(wx, pc)
                if rs is not None:
                    rs[c] = _bcast(pc["tau_ref"], c.shape)
                todo[c] = used[c] < dt
        if todo.any():
            raise SimulationError(f"{type(self).__name__}: a neuron spiked twice within one step of "
                                  f"dt={dt:g} s; use a smaller dt")
        if rs is not None:
            ref_out[idx] = np.maximum(rs, 0.0)
        return vs, ws


_STIFF = 0.5  # largest |d(dv/dt)/dv| * h of a (sub)step: RK4's local error stays ~1e-4 relative
_MAX_SUBSTEPS = 10000


def check_range(model, name, low=None, high=None, low_open=False, what=None):
    """Refuse a parameter (number or per-neuron array) outside its range: ValueError naming it."""
    value = np.asarray(getattr(model, name))
    ok = np.ones(value.shape, dtype=bool)
    if low is not None:
        ok &= (value > low) if low_open else (value >= low)
    if high is not None:
        ok &= value < high
    if not ok.all():
        bad = value[~ok].flat[0] if value.ndim else float(value)
        allowed = what or ((">" if low_open else ">=") + f" {low:g}")
        raise ValueError(f"{type(model).__name__}: {name} must be {allowed}, got {bad!r}")


def _take(p, sel):
    """Slice per-neuron entries of a parameter dict (already aligned with the subset) by ``sel``."""
    return {k: (val[sel] if isinstance(val, np.ndarray) and val.ndim else val) for k, val in p.items()}


def _bcast(value, shape):
    return np.broadcast_to(value, shape)
