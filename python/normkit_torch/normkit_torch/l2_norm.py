"""L2Norm (unit Lp normalization), as @normkit/layer's `L2Norm` / `l2Norm`: no parameters, no state-dict keys."""
import torch
from torch import nn


def l2_norm(x, dims=-1, p=2.0, eps=1e-12, scale=None):
    """y = x / max(||x||_p, eps) over `dims` (an int or a tuple), torch's F.normalize for several dims at once,
    optionally times a one-element gain `scale` (ScaleNorm). Below eps the divisor is the constant eps."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if x.dim() == 0:
        raise ValueError("l2_norm: expected an input of rank 1 or more, got a scalar")
    norm = x.abs().pow(p).sum(dims, keepdim=True).pow(1 / p) if p != 2 else x.pow(2).sum(dims, keepdim=True).sqrt()
    y = x / norm.clamp_min(eps)
    return y if scale is None else y * scale


class L2Norm(nn.Module):
    """Unit (Lp) normalization as a layer (torch's F.normalize, Keras' UnitNormalization): every vector along
    `axes` (default the last dim) scaled to length 1, y = x / max(||x||_p, eps). normkit's `L2Norm`
    (`axes`, `p` 2, `eps` 1e-12).

        unit = L2Norm()
        y = unit(torch.randn(2, 5, 64))   # every token has length 1
    """

    def __init__(self, axes=-1, p=2.0, eps=1e-12):
        super().__init__()
        if not (isinstance(p, (int, float)) and p >= 1):
            raise ValueError(f"L2Norm: expected p to be a number >= 1, got {p!r}")
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"L2Norm: expected eps > 0, got {eps!r}")
        self.axes = axes if isinstance(axes, int) else tuple(axes)
        self.p, self.eps = float(p), eps

    def forward(self, x):
        return l2_norm(x, self.axes, self.p, self.eps)


class ScaleNorm(nn.Module):
    """ScaleNorm (Nguyen & Salazar, 2019), normkit's `ScaleNorm`: y = g * x / max(||x||_2, eps) over the trailing
    `normalized_shape` dims, one learned 0-d parameter `scale` initialised to sqrt(d); eps 1e-5 (the paper's code).

        norm = ScaleNorm(512)   # g = sqrt(512)
    """

    def __init__(self, normalized_shape, eps=1e-5, dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"ScaleNorm: expected eps > 0, got {eps!r}")
        self.eps = eps
        d = 1
        for s in self.normalized_shape:
            d *= s
        self.scale = nn.Parameter(torch.tensor(float(d) ** 0.5, dtype=dtype or torch.get_default_dtype()))

    def forward(self, x):
        k = len(self.normalized_shape)
        if tuple(x.shape[x.dim() - k:]) != self.normalized_shape or x.dim() < k:
            raise ValueError(f"ScaleNorm: expected an input ending with {list(self.normalized_shape)}, got {list(x.shape)}")
        return l2_norm(x, tuple(range(-k, 0)), 2.0, self.eps, self.scale)
