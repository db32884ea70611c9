"""PyTorch in and out: :func:`to_torch` and :func:`from_torch`.

PyTorch is optional (``pip install '.[torch]'``): it is imported on the first
call, so ``import ratenet`` never needs it.

Layer mapping (both directions)
-------------------------------
==========================  ==========================================================
ratenet                     torch
==========================  ==========================================================
Dense(n_in, n_out)          nn.Linear: ``weight`` is ``W`` (out, in), ``bias`` is ``b``
BatchNorm(n, momentum, eps) nn.BatchNorm1d(n, eps, momentum) after 2-D layers,
                            nn.BatchNorm2d after image layers: gamma/beta are
                            weight/bias; running_mean/running_var copied. Both use
                            momentum as the weight of the new batch and update the
                            running variance with the unbiased batch variance.
Conv2D(in, out, k, s, p)    nn.Conv2d(in, out, k, stride=s, padding=p): ``weight``
                            is ``W`` (out, in, kh, kw), ``bias`` is ``b``
                            (groups=1, dilation=1, zero padding only)
AvgPool2D(k, s, p)          nn.AvgPool2d(k, s, p) (count_include_pad=True,
                            ceil_mode=False, no divisor_override)
MaxPool2D(k, s, p)          nn.MaxPool2d(k, s, p) (dilation=1, ceil_mode=False)
Flatten()                   nn.Flatten() (start_dim=1, end_dim=-1)
Dropout(rate)               nn.Dropout(p=rate) (the random streams differ)
Identity, Sigmoid, Tanh,    nn.Identity, nn.Sigmoid, nn.Tanh, nn.Hardtanh(-1, 1),
HardTanh, Softsign, ReLU,   nn.Softsign, nn.ReLU, nn.LeakyReLU(slope),
LeakyReLU, Softplus,        nn.Softplus(beta=1, threshold=40) (torch's default
Softmax, LogSoftmax         threshold 20 is off by 1e-10 relative), nn.Softmax(dim=-1),
                            nn.LogSoftmax(dim=-1)
Step                        ratenet.torch.Step
LIFRate                     ratenet.torch.LIF
SoftLIFRate                 ratenet.torch.SoftLIF
TuningCurveActivation       ratenet.torch.TuningCurve
==========================  ==========================================================

The LIF modules compute ratenet's formulas with torch operations, so autograd
gives ratenet's ``derivative`` (tested with ``torch.autograd.gradcheck`` and
against ``derivative`` itself) and the modules run on any device.

Examples
--------
>>> import ratenet, torch                                        # doctest: +SKIP
>>> net = ratenet.to_torch(model)          # torch.nn.Sequential, same outputs
>>> model2 = ratenet.from_torch(net)       # back to ratenet.Sequential
"""
import math

import numpy as np

from neurosim.validation import check_number

__all__ = ["to_torch", "from_torch", "LIF", "SoftLIF", "TuningCurve", "Step"]

_PIP = "pip install '.[torch]'"
_MODULES = {}


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised without torch only
        raise ImportError(f"ratenet.to_torch/from_torch need PyTorch: {_PIP}") from exc
    return torch


def __getattr__(name):
    # ratenet.torch.SoftLIF etc. are nn.Module subclasses: built on first access
    if name in ("LIF", "SoftLIF", "TuningCurve", "Step"):
        return _modules()[name]
    raise AttributeError(f"module 'ratenet.torch' has no attribute {name!r}")


def _modules():
    """Define the torch modules once torch is importable."""
    if _MODULES:
        return _MODULES
    torch = _torch()
    nn = torch.nn
    F = nn.functional
    from .spiking.activations import _U_TAIL

    class LIF(nn.Module):
        """ratenet's :class:`~ratenet.LIFRate` as a module: y = amplitude · G(z + 1).

        G(J) = 1 / (tau_ref + tau_m log(1 + 1/(J − 1))) for J > 1, else 0 (Hz);
        the gradient is amplitude · tau_m · G² / (z (z + 1)) for z > 0, else 0.
        """

        def __init__(self, tau_m=0.02, tau_ref=0.002, amplitude=1.0):
            super().__init__()
            self.tau_m = check_number("tau_m", tau_m, low=0, low_open=True)
            self.tau_ref = check_number("tau_ref", tau_ref, low=0)
            self.amplitude = check_number("amplitude", amplitude, low=0, low_open=True)

        def extra_repr(self):
            return f"tau_m={self.tau_m}, tau_ref={self.tau_ref}, amplitude={self.amplitude}"

        def forward(self, z):
            above = z > 0
            x = torch.where(above, z, torch.ones_like(z))   # no inf in the unused branch's gradient
            y = self.amplitude / (self.tau_ref + self.tau_m * torch.log1p(1.0 / x))
            return torch.where(above, y, torch.zeros_like(z))

    class SoftLIF(nn.Module):
        """ratenet's :class:`~ratenet.SoftLIFRate` as a module (Hunsberger & Eliasmith, 2015).

        y = amplitude / (tau_ref + tau_m log(1 + 1/j)), j = sigma · softplus(z/sigma);
        for z/sigma < −20 the same asymptotic expansion as ratenet (strictly
        positive, no underflow).
        """

        def __init__(self, tau_m=0.02, tau_ref=0.002, amplitude=1.0, sigma=0.02):
            super().__init__()
            self.tau_m = check_number("tau_m", tau_m, low=0, low_open=True)
            self.tau_ref = check_number("tau_ref", tau_ref, low=0)
            self.amplitude = check_number("amplitude", amplitude, low=0, low_open=True)
            self.sigma = check_number("sigma", sigma, low=0, low_open=True)

        def extra_repr(self):
            return (f"tau_m={self.tau_m}, tau_ref={self.tau_ref}, amplitude={self.amplitude}, "
                    f"sigma={self.sigma}")

        def forward(self, z):
            s, A = self.sigma, self.amplitude
            edge = _U_TAIL * s
            tail = z < edge
            # each branch sees inputs clamped to its own side: finite values and gradients
            j = s * F.softplus(torch.clamp(z, min=edge) / s, beta=1.0, threshold=40.0)
            y = A / (self.tau_ref + self.tau_m * torch.log1p(1.0 / j))
            zt = torch.clamp(z, max=edge)
            b = self.tau_m / A
            K = s * (self.tau_ref / self.tau_m - math.log(s))
            yt = (s / b) / (K + s * (0.5 + s) * torch.exp(zt / s) - zt)
            return torch.where(tail, yt, y)

    class TuningCurve(nn.Module):
        """ratenet's :class:`~ratenet.TuningCurveActivation` as a module.

        The same monotone cubic (PCHIP) pieces, evaluated with torch ops:
        y = amplitude · f(scale · z + offset), flat below J[0], linear (or flat)
        above J[-1]. Build it with :func:`to_torch` or :meth:`from_activation`.
        """

        def __init__(self, J, rates, amplitude=1.0, offset=0.0, scale=1.0, extrapolate="linear",
                     dtype=None):
            super().__init__()
            from .spiking.activations import TuningCurveActivation
            act = TuningCurveActivation(J, rates, amplitude, offset, scale, extrapolate)
            self.config = act.get_config()
            dtype = dtype or torch.get_default_dtype()
            pp = act._f                                  # scipy PPoly: c (4, m-1), x (m,)
            self.register_buffer("knots", torch.as_tensor(pp.x, dtype=dtype))
            self.register_buffer("coef", torch.as_tensor(np.ascontiguousarray(pp.c.T), dtype=dtype))
            self.lo, self.hi = float(act._lo), float(act._hi)
            self.f_hi, self.slope_hi = float(act._f_hi), float(act._slope_hi)

        @classmethod
        def from_activation(cls, act, dtype=None):
            return cls(**act.get_config(), dtype=dtype)

        def extra_repr(self):
            c = self.config
            return (f"<{len(c['J'])} points in [{self.lo:g}, {self.hi:g}]>, amplitude={c['amplitude']}, "
                    f"offset={c['offset']}, scale={c['scale']}, extrapolate={c['extrapolate']!r}")

        def forward(self, z):
            c = self.config
            cur = c["scale"] * z + c["offset"]
            inside = torch.clamp(cur, self.lo, self.hi)
            k = torch.clamp(torch.searchsorted(self.knots, inside.detach(), right=True) - 1,
                            0, self.knots.numel() - 2)
            dx = inside - self.knots[k]
            p = self.coef[k]                              # (..., 4), highest power first
            y = ((p[..., 0] * dx + p[..., 1]) * dx + p[..., 2]) * dx + p[..., 3]
            y = torch.where(cur > self.hi, self.f_hi + self.slope_hi * (cur - self.hi), y)
            return c["amplitude"] * y

    class Step(nn.Module):
        """Heaviside step y = (z > 0) (prediction only: zero gradient, as ratenet's Step)."""

        def forward(self, z):
            return (z > 0).to(z.dtype)

    _MODULES.update(LIF=LIF, SoftLIF=SoftLIF, TuningCurve=TuningCurve, Step=Step)
    return _MODULES


def _torch_dtype(torch, dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def _model_dtype(model):
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def to_torch(model):
    """A ratenet :class:`~ratenet.Sequential` as a ``torch.nn.Sequential`` with the same outputs.

    Parameters
    ----------
    model : ratenet.Sequential
        Layers from the table in :mod:`ratenet.torch`. Parameters and buffers
        are copied (the two models do not share memory); the torch model has
        the ratenet model's dtype and is left in evaluation mode (``.eval()``).

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    TypeError
        For a layer with no torch counterpart (named in the message).
    """
    from .model import Sequential
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a ratenet.Sequential, got {type(model).__name__}")
    torch = _torch()
    dtype = _torch_dtype(torch, _model_dtype(model))
    shapes = model.layer_shapes()
    mods = [_layer_to_torch(layer, i, torch, dtype, isinstance(shapes[i][0], tuple))
            for i, layer in enumerate(model.layers)]
    return torch.nn.Sequential(*mods).eval()


def _layer_to_torch(layer, i, torch, dtype, images=False):
    from . import activations as A, layers as L
    from .spiking import activations as S
    nn = torch.nn
    M = _modules()
    t = type(layer)

    def tensor(a):
        return torch.as_tensor(np.array(a), dtype=dtype)

    if t is L.Dense:
        lin = nn.Linear(layer.n_in, layer.n_out, bias=layer.bias is not None, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(tensor(layer.W))
            if layer.bias is not None:
                lin.bias.copy_(tensor(layer.b))
        return lin
    if t is L.Conv2D:
        conv = nn.Conv2d(layer.in_ch, layer.out_ch, layer.kernel, stride=layer.stride, padding=layer.padding,
                         bias=layer.bias is not None, dtype=dtype)
        with torch.no_grad():
            conv.weight.copy_(tensor(layer.W))
            if layer.bias is not None:
                conv.bias.copy_(tensor(layer.b))
        return conv
    if t in (L.AvgPool2D, L.MaxPool2D):
        return (nn.AvgPool2d if t is L.AvgPool2D else nn.MaxPool2d)(layer.kernel, layer.stride, layer.padding)
    if t is L.Flatten:
        return nn.Flatten()
    if t is L.BatchNorm:
        cls = nn.BatchNorm2d if images else nn.BatchNorm1d
        bn = cls(layer.n_features, eps=layer.eps, momentum=layer.momentum, dtype=dtype)
        with torch.no_grad():
            bn.weight.copy_(tensor(layer.gamma.data))
            bn.bias.copy_(tensor(layer.beta.data))
            bn.running_mean.copy_(tensor(layer.running_mean))
            bn.running_var.copy_(tensor(layer.running_var))
        return bn
    simple = {L.Dropout: lambda: nn.Dropout(p=layer.rate), A.Identity: nn.Identity,
              A.Sigmoid: nn.Sigmoid, A.Tanh: nn.Tanh, A.HardTanh: lambda: nn.Hardtanh(-1.0, 1.0),
              A.Softsign: nn.Softsign, A.ReLU: nn.ReLU,
              A.LeakyReLU: lambda: nn.LeakyReLU(negative_slope=layer.slope),
              A.Softplus: lambda: nn.Softplus(beta=1.0, threshold=40.0),
              A.Softmax: lambda: nn.Softmax(dim=-1), A.LogSoftmax: lambda: nn.LogSoftmax(dim=-1),
              A.Step: M["Step"],
              S.LIFRate: lambda: M["LIF"](layer.tau_m, layer.tau_ref, layer.amplitude),
              S.SoftLIFRate: lambda: M["SoftLIF"](layer.tau_m, layer.tau_ref, layer.amplitude, layer.sigma),
              S.TuningCurveActivation: lambda: M["TuningCurve"].from_activation(layer, dtype=dtype)}
    if t in simple:
        return simple[t]()
    raise TypeError(f"to_torch: layer {i} ({layer!r}, {t.__name__}) has no torch counterpart; "
                    f"supported: {', '.join(sorted(c.__name__ for c in simple))}, Dense, BatchNorm, Conv2D, "
                    "AvgPool2D, MaxPool2D, Flatten")


def from_torch(module):
    """A ``torch.nn.Sequential`` as a ratenet :class:`~ratenet.Sequential` with the same outputs.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of ``Linear``, ``Conv2d`` (groups=1, dilation=1, zero padding),
        ``AvgPool2d``/``MaxPool2d`` (ceil_mode=False, dilation=1, AvgPool2d with
        count_include_pad=True), ``Flatten()``, ``BatchNorm1d``/``BatchNorm2d``
        (affine, with running statistics and a numeric momentum), ``Dropout``, the activations in the table of
        :mod:`ratenet.torch` and this module's ``LIF``/``SoftLIF``/
        ``TuningCurve``/``Step``; nested ``Sequential``s are flattened.
        Parameters must be float32 or float64 (one dtype for the model).

    Returns
    -------
    ratenet.Sequential
        Parameters and running statistics copied (no shared memory).

    Raises
    ------
    TypeError
        For an unsupported layer (named with its index in the message).
    ValueError
        For a supported layer with settings ratenet cannot express (e.g.
        ``Hardtanh(0, 6)``, ``Softplus(beta=2)``, ``BatchNorm1d(momentum=None)``).
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"module: expected a torch.nn.Sequential, got {type(module).__name__}")
    flat = list(_flatten(module, torch))
    dtypes = {p.dtype for p in module.parameters()}
    if not dtypes <= {torch.float32, torch.float64} or len(dtypes) > 1:
        raise ValueError(f"module: expected float32 or float64 parameters of one dtype, got {sorted(map(str, dtypes))}")
    dtype = np.float64 if dtypes == {torch.float64} else np.float32
    from .model import Sequential
    return Sequential([_layer_from_torch(m, i, torch, dtype) for i, m in enumerate(flat)])


def _flatten(module, torch):
    for m in module:
        if isinstance(m, torch.nn.Sequential):
            yield from _flatten(m, torch)
        else:
            yield m


def _layer_from_torch(m, i, torch, dtype):
    from . import activations as A, layers as L
    from .spiking import activations as S
    nn = torch.nn
    M = _modules()
    where = f"from_torch: layer {i} ({m!r})"

    def array(t):
        return t.detach().cpu().numpy().astype(dtype, copy=True)

    t = type(m)
    if t is nn.Linear:
        d = L.Dense(m.in_features, m.out_features, dtype=dtype, bias=m.bias is not None)
        d.W = array(m.weight)
        if m.bias is not None:
            d.b = array(m.bias)
        return d
    if t is nn.Conv2d:
        padding = (0, 0) if m.padding == "valid" else m.padding
        if m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(padding, str):
            raise ValueError(f"{where}: ratenet's Conv2D needs groups=1, dilation=1, padding_mode='zeros' "
                             "and numeric padding")
        c = L.Conv2D(m.in_channels, m.out_channels, tuple(m.kernel_size), stride=tuple(m.stride),
                     padding=tuple(padding), dtype=dtype, bias=m.bias is not None)
        c.W = array(m.weight)
        if m.bias is not None:
            c.b = array(m.bias)
        return c
    if t is nn.AvgPool2d:
        if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
            raise ValueError(f"{where}: ratenet's AvgPool2D needs ceil_mode=False, count_include_pad=True "
                             "and no divisor_override")
        return L.AvgPool2D(m.kernel_size, m.stride, m.padding)
    if t is nn.MaxPool2d:
        if m.ceil_mode or m.return_indices or m.dilation not in (1, (1, 1)):
            raise ValueError(f"{where}: ratenet's MaxPool2D needs ceil_mode=False, dilation=1 and "
                             "return_indices=False")
        return L.MaxPool2D(m.kernel_size, m.stride, m.padding)
    if t is nn.Flatten:
        if m.start_dim != 1 or m.end_dim != -1:
            raise ValueError(f"{where}: only Flatten(start_dim=1, end_dim=-1) is supported")
        return L.Flatten()
    if t in (nn.BatchNorm1d, nn.BatchNorm2d):
        if not (m.affine and m.track_running_stats) or m.momentum is None:
            raise ValueError(f"{where}: ratenet's BatchNorm needs affine=True, track_running_stats=True "
                             "and a numeric momentum")
        bn = L.BatchNorm(m.num_features, momentum=m.momentum, eps=m.eps, dtype=dtype)
        bn.gamma.data[...] = array(m.weight)
        bn.beta.data[...] = array(m.bias)
        bn.running_mean[...] = array(m.running_mean)
        bn.running_var[...] = array(m.running_var)
        return bn
    if t is nn.Hardtanh and (m.min_val, m.max_val) != (-1.0, 1.0):
        raise ValueError(f"{where}: only Hardtanh(-1, 1) is supported")
    if t is nn.Softplus and (m.beta != 1 or m.threshold < 20):
        raise ValueError(f"{where}: only Softplus(beta=1, threshold >= 20) is supported")
    if t in (nn.Softmax, nn.LogSoftmax) and m.dim not in (1, -1):
        raise ValueError(f"{where}: only dim=1 or -1 (over features) is supported, got dim={m.dim}")
    simple = {nn.Dropout: lambda: L.Dropout(m.p), nn.Identity: A.Identity, nn.Sigmoid: A.Sigmoid,
              nn.Tanh: A.Tanh, nn.Hardtanh: A.HardTanh, nn.Softsign: A.Softsign, nn.ReLU: A.ReLU,
              nn.LeakyReLU: lambda: A.LeakyReLU(m.negative_slope), nn.Softplus: A.Softplus,
              nn.Softmax: A.Softmax, nn.LogSoftmax: A.LogSoftmax, M["Step"]: A.Step,
              M["LIF"]: lambda: S.LIFRate(m.tau_m, m.tau_ref, m.amplitude),
              M["SoftLIF"]: lambda: S.SoftLIFRate(m.tau_m, m.tau_ref, m.amplitude, m.sigma),
              M["TuningCurve"]: lambda: S.TuningCurveActivation(**m.config)}
    if t in simple:
        return simple[t]()
    raise TypeError(f"module: {where} is not supported by from_torch; supported: Linear, Conv2d, AvgPool2d, "
                    f"MaxPool2d, Flatten, BatchNorm1d, BatchNorm2d, "
                    f"{', '.join(sorted(c.__name__ for c in simple))} (ratenet.torch modules for the LIF ones)")
