"""RMSNorm, QKNorm, AdaLN and adaLN-Zero, as @normkit/layer defines them."""
import math

import torch
from torch import nn
import torch.nn.functional as F


def _shape(normalized_shape):
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def rms_norm(x, normalized_shape, weight=None, eps=1e-6):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing dims (torch>=2.4's F.rms_norm);
    eps=None is the machine epsilon of x's dtype, like nn.RMSNorm(eps=None)."""
    shape = _shape(normalized_shape)
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    dims = tuple(range(-len(shape), 0))
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
    return y * weight if weight is not None else y


def _mask_rows(y, mask, normalized_dims, op):
    """Zeroes the padded rows of a row-wise normalisation (normkit's row masks): y * mask[..., None, ...]."""
    if mask is None:
        return y
    rows = list(y.shape[: y.dim() - normalized_dims])
    if list(mask.shape) != rows:
        raise ValueError(f"{op}: expected a mask of shape {rows} (one value per row), got {list(mask.shape)}")
    _check_binary(mask, op)
    return y * mask.to(y.dtype).reshape(rows + [1] * normalized_dims)


def _check_binary(mask, op):
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{op}: expected mask values 1 (real) or 0 (padding)")


def element_mask(x, mask, op):
    """An element-wise mask (Flax's `mask`: x's shape, 1 enters its row's statistics, 0 does not), checked, in x's
    dtype; None for a row mask (fewer dims) or no mask."""
    if mask is None or mask.dim() != x.dim():
        return None
    if list(mask.shape) != list(x.shape):
        raise ValueError(f"{op}: expected a mask of shape {list(x.shape)} (an element-wise mask has the input's shape; "
                         f"a row mask drops the normalised dims), got {list(mask.shape)}")
    _check_binary(mask, op)
    return mask.to(x.dtype)


def masked_moments(x, m, dims, center):
    """Mean (0 without `center`) and biased variance over `dims` of the elements where m is 1; a row with no
    element gives 0 and 0 (its outputs are masked to 0 anyway)."""
    count = m.sum(dims, keepdim=True).clamp_min(1)
    mean = (x * m).sum(dims, keepdim=True) / count if center else torch.zeros((), dtype=x.dtype)
    centred = x - mean
    return mean, (centred * centred * m).sum(dims, keepdim=True) / count


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, mask=None, op="layer_norm"):
    """F.layer_norm with normkit's masks: a row mask (x's shape without the normalised dims) zeroes padded rows; an
    element mask (x's shape) takes each row's statistics over its unmasked elements, masked outputs 0."""
    shape = _shape(normalized_shape)
    m = element_mask(x, mask, op)
    if m is None:
        return _mask_rows(F.layer_norm(x, shape, weight, bias, eps), mask, len(shape), op)
    dims = tuple(range(-len(shape), 0))
    mean, var = masked_moments(x, m, dims, True)
    y = (x - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y * m


class LayerNorm(nn.LayerNorm):
    """torch.nn.LayerNorm (keys `weight`, `bias`) with normkit's masks, `forward(x, mask=None)`: a row mask (x's shape
    without the normalised dims, 1 real / 0 padding) makes padded rows 0 with no gradient; an element-wise mask (x's
    shape, Flax's `mask`) takes each row's statistics over its unmasked elements only, masked outputs 0. `bias=False`
    drops the bias (normkit's option; torch's own only from 2.1)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__(normalized_shape, eps=eps, elementwise_affine=elementwise_affine, dtype=dtype)
        if elementwise_affine and not bias:
            self.bias = None

    def reset_parameters(self):
        if self.elementwise_affine:
            nn.init.ones_(self.weight)
            if self.bias is not None:
                nn.init.zeros_(self.bias)

    def forward(self, x, mask=None):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps, mask, type(self).__name__)


class RMSNorm(nn.Module):
    """Root Mean Square LayerNorm (Zhang & Sennrich, 2019): key `weight`. Default eps 1e-6 (normkit's;
    PyTorch's nn.RMSNorm defaults to None = machine epsilon). torch 1.13 has no nn.RMSNorm."""

    def __init__(self, normalized_shape, eps=1e-6, elementwise_affine=True, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, x, mask=None):
        """`mask`: a row mask (x's shape without the normalised dims, 1 real / 0 padding): padded rows give 0 and no
        gradient; or an element-wise mask (x's shape): mean(x^2) over each row's unmasked elements, masked outputs 0."""
        op = type(self).__name__
        m = element_mask(x, mask, op)
        if m is None:
            return _mask_rows(rms_norm(x, self.normalized_shape, self.weight, self.eps), mask, len(self.normalized_shape), op)
        _, mean_square = masked_moments(x, m, tuple(range(-len(self.normalized_shape), 0)), False)
        y = x * torch.rsqrt(mean_square + self.eps) * m
        return y * self.weight if self.weight is not None else y


_QK_EPS = {"layer": 1e-5, "rms": 1e-6, "l2": 1e-6}


class QKNorm(nn.Module):
    """QK-norm over the last dim (head_dim) of queries or keys. kind 'layer' (weight, bias), 'rms'
    (weight) or 'l2': scale * sqrt(head_dim) * x / sqrt(|x|^2 + eps) with a learnable 0-d `scale`
    initialised to sqrt(logit_scale / sqrt(head_dim)) (logit_scale defaults to sqrt(head_dim))."""

    def __init__(self, head_dim, kind="layer", eps=None, elementwise_affine=True, logit_scale=None, dtype=None):
        super().__init__()
        if kind not in _QK_EPS:
            raise ValueError(f"QKNorm: kind must be 'layer', 'rms' or 'l2', got {kind!r}")
        self.head_dim = head_dim
        self.kind = kind
        self.eps = _QK_EPS[kind] if eps is None else eps
        self.weight = nn.Parameter(torch.ones(head_dim, dtype=dtype)) if kind != "l2" and elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(head_dim, dtype=dtype)) if kind == "layer" and elementwise_affine else None
        if kind == "l2":
            g = math.sqrt(head_dim) if logit_scale is None else logit_scale
            self.scale = nn.Parameter(torch.tensor(math.sqrt(g / math.sqrt(head_dim)), dtype=dtype or torch.get_default_dtype()))
        else:
            self.scale = None

    def forward(self, x):
        if self.kind == "layer":
            return F.layer_norm(x, (self.head_dim,), self.weight, self.bias, self.eps)
        if self.kind == "rms":
            return rms_norm(x, self.head_dim, self.weight, self.eps)
        return rms_norm(x, self.head_dim, None, self.eps / self.head_dim) * self.scale


class _AdaptiveLayerNorm(nn.Module):
    chunks = 2

    def __init__(self, normalized_shape, condition_dim, eps=1e-6, zero_init=False, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.condition_dim = condition_dim
        self.eps = eps
        self.features = math.prod(self.normalized_shape)
        linear = nn.Linear(condition_dim, self.chunks * self.features, dtype=dtype)
        if zero_init:
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), linear)

    def modulation(self, condition):
        """The predictor's chunks, each [N, *normalized_shape]: shift, scale (and gate for adaLN-Zero)."""
        n = condition.shape[0]
        predicted = self.adaLN_modulation(condition)
        return [c.reshape((n,) + self.normalized_shape) for c in predicted.split(self.features, dim=1)]

    def normalize_with(self, x, shift, scale, mask=None):
        normalized = _mask_rows(F.layer_norm(x, self.normalized_shape, None, None, self.eps), mask, len(self.normalized_shape), type(self).__name__)
        extra = x.dim() - 1 - len(self.normalized_shape)
        view = lambda t: t.reshape((t.shape[0],) + (1,) * extra + self.normalized_shape)  # noqa: E731
        return normalized * (1 + view(scale)) + view(shift)

    def forward(self, x, condition, mask=None):
        """`mask` (x's shape without the normalised dims): padded rows are normalised to 0, so their output is shift(c), as in normkit."""
        shift, scale = self.modulation(condition)[:2]
        return self.normalize_with(x, shift, scale, mask)


class AdaLN(_AdaptiveLayerNorm):
    """Adaptive LayerNorm (DiT): (shift, scale) = Linear(SiLU(c)); y = LN(x) * (1 + scale) + shift.
    Keys `adaLN_modulation.1.weight` [2 * D, condition_dim] and `.bias`. `forward(x, condition, mask=None)`."""

    def __init__(self, normalized_shape, condition_dim, eps=1e-6, zero_init=False, dtype=None):
        super().__init__(normalized_shape, condition_dim, eps, zero_init, dtype)


class AdaLNZero(_AdaptiveLayerNorm):
    """adaLN-Zero (DiT): (shift, scale, gate) = Linear(SiLU(c)), the Linear initialised to zero; use
    `x + gate * f(norm.normalize_with(x, shift, scale))` for the gated residual."""

    chunks = 3

    def __init__(self, normalized_shape, condition_dim, eps=1e-6, dtype=None):
        super().__init__(normalized_shape, condition_dim, eps, True, dtype)
