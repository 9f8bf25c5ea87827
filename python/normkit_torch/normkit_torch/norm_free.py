"""The normalizer-free toolkit, as @normkit/norm-free defines it: scaled weight standardization
(ScaledStdConv2d, ScaledStdLinear), SkipInit, adaptive gradient clipping and the gradient clips."""
import math

import torch
from torch import nn
import torch.nn.functional as F

# DeepMind's sampled gammas (nfnets/base.py), as normkit's NONLINEARITY_GAMMA.
NONLINEARITY_GAMMA = {
    "identity": 1.0, "relu": 1.7139588594436646, "gelu": 1.7015043497085571, "silu": 1.7881293296813965,
    "tanh": 1.5939117670059204, "sigmoid": 4.803835391998291, "leaky_relu": 1.70590341091156,
    "elu": 1.2716004848480225, "celu": 1.270926833152771, "selu": 1.0008515119552612,
    "relu6": 1.7131484746932983, "softplus": 1.9203323125839233, "softsign": 2.338853120803833,
    "log_sigmoid": 1.9193484783172607,
}


def _gamma(gamma, nonlinearity):
    if gamma is not None and nonlinearity is not None:
        raise ValueError("give gamma or nonlinearity, not both")
    return NONLINEARITY_GAMMA[nonlinearity] if nonlinearity is not None else (1.0 if gamma is None else gamma)


def scaled_standardize(weight, gain, scale, eps=1e-6, eps_mode="add"):
    """gain * scale * (w - mean) / std over every dim but 0, std = sqrt(var + eps) ('add') or
    sqrt(max(var, eps)) ('max'), var biased."""
    dims = tuple(range(1, weight.dim()))
    mean = weight.mean(dims, keepdim=True)
    var = (weight - mean).pow(2).mean(dims, keepdim=True)
    std = torch.sqrt(var + eps) if eps_mode == "add" else torch.sqrt(torch.clamp(var, min=eps))
    return gain * scale * (weight - mean) / std


class ScaledStdLinear(nn.Linear):
    """Linear with w_hat = gain * gamma * (w - mean) / (std * sqrt(in_features)); keys `weight`,
    `bias`, `gain` [out, 1] (ones)."""

    def __init__(self, in_features, out_features, bias=True, gamma=None, nonlinearity=None, eps=1e-6, eps_mode="add", dtype=None):
        super().__init__(in_features, out_features, bias=bias, dtype=dtype)
        self.gamma = _gamma(gamma, nonlinearity)
        self.scale = self.gamma / math.sqrt(in_features)
        self.eps, self.eps_mode = eps, eps_mode
        self.gain = nn.Parameter(torch.ones(out_features, 1, dtype=dtype))

    def forward(self, x):
        return F.linear(x, scaled_standardize(self.weight, self.gain, self.scale, self.eps, self.eps_mode), self.bias)


class ScaledStdConv2d(nn.Conv2d):
    """Conv2d with w_hat = gain * gamma * (w - mean) / (std * sqrt(fan_in)), fan_in = in/groups*kH*kW;
    keys `weight`, `bias`, `gain` [out, 1, 1, 1] (ones)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 gamma=None, nonlinearity=None, eps=1e-6, eps_mode="add", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype=dtype)
        self.gamma = _gamma(gamma, nonlinearity)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        self.scale = self.gamma / math.sqrt(fan_in)
        self.eps, self.eps_mode = eps, eps_mode
        self.gain = nn.Parameter(torch.ones(out_channels, 1, 1, 1, dtype=dtype))

    def forward(self, x):
        w = scaled_standardize(self.weight, self.gain, self.scale, self.eps, self.eps_mode)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class SkipInit(nn.Module):
    """SkipInit (De & Smith, 2020): out = x + alpha * branch(x), alpha a 0-d parameter starting at 0.
    Keys `alpha` and `branch.*`."""

    def __init__(self, branch, dtype=None):
        super().__init__()
        self.branch = branch
        if dtype is None:
            first = next(branch.parameters(), None)
            dtype = first.dtype if first is not None else torch.float32
        self.alpha = nn.Parameter(torch.zeros((), dtype=dtype))

    def forward(self, x, *rest):
        return x + self.alpha * self.branch(x, *rest)


def _positive(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"NFResidualBlock: {name} must be a finite number > 0, got {value!r}")
    return float(value)


class NFResidualBlock(nn.Module):
    """The residual block of normalizer-free ResNets (Brock et al., 2021; NFNets), normkit's `NFResidualBlock`:

        out = x + alpha * f(x / beta)                    (skip_init: x + alpha * skipGain * f(x / beta))
        out = shortcut(x / beta) + alpha * f(x / beta)   (transition block with a shortcut)

    beta = sqrt(expected_variance) (or given), alpha fixed (0.2). `output_variance` is beta^2 + alpha^2
    (1 + alpha^2 after a transition block). Keys `branch.*`, `shortcut.*` and, with skip_init, normkit's
    `skipGain` (0-d, starts at 0). Extra forward arguments go to the branch."""

    def __init__(self, branch, alpha=0.2, expected_variance=None, beta=None, skip_init=False, shortcut=None, dtype=None):
        super().__init__()
        self.alpha = _positive("alpha", alpha)
        if beta is not None and expected_variance is not None:
            raise ValueError("NFResidualBlock: give either beta (expected std) or expected_variance, not both")
        self.beta = _positive("beta", beta) if beta is not None else math.sqrt(_positive("expected_variance", 1 if expected_variance is None else expected_variance))
        self.branch = branch
        self.shortcut = shortcut
        if dtype is None:
            first = next(branch.parameters(), None)
            dtype = first.dtype if first is not None else torch.float32
        self.skipGain = nn.Parameter(torch.zeros((), dtype=dtype)) if skip_init else None

    @property
    def output_variance(self):
        return (1 if self.shortcut is not None else self.beta * self.beta) + self.alpha * self.alpha

    def forward(self, x, *rest):
        normalized = x if self.beta == 1 else x * (1 / self.beta)
        y = self.branch(normalized, *rest)
        skip = self.shortcut(normalized) if self.shortcut is not None else x
        if skip.shape != y.shape:
            raise ValueError(f"NFResidualBlock: the branch output {list(y.shape)} must match the skip path {list(skip.shape)}")
        # The scalar coefficient first, then one full-size multiply (normkit's order).
        return skip + (y * (self.skipGain * self.alpha) if self.skipGain is not None else y * self.alpha)


def nf_residual_blocks(branches, alpha=0.2, initial_variance=1.0, skip_init=False, dtype=None):
    """NF blocks over `branches` with NF-ResNets' variance bookkeeping: block i expects initial_variance + i * alpha^2."""
    variance = _positive("initial_variance", initial_variance)
    blocks = []
    for branch in branches:
        block = NFResidualBlock(branch, alpha=alpha, expected_variance=variance, skip_init=skip_init, dtype=dtype)
        variance = block.output_variance
        blocks.append(block)
    return blocks


@torch.no_grad()
def adaptive_grad_clip_(parameters, clipping=0.01, eps=1e-3):
    """Adaptive gradient clipping (Brock et al., 2021), in place, between backward and optimizer.step:
    per unit (row / output channel; a whole 0-D or 1-D parameter), G *= clipping * max(|W|, eps) /
    max(|G|, 1e-6) where |G| > clipping * max(|W|, eps). Under DDP the gradients are already averaged
    over processes after backward, so every process clips identically. Returns the units clipped."""
    clipped = 0
    for p in parameters:
        if isinstance(p, tuple):
            p = p[1]
        if p.grad is None:
            continue
        units = 1 if p.dim() <= 1 else p.shape[0]
        w = p.detach().reshape(units, -1).to(torch.float64)
        g = p.grad.reshape(units, -1)
        w_norm = w.norm(dim=1)
        g_norm = g.to(torch.float64).norm(dim=1)
        max_norm = clipping * torch.clamp(w_norm, min=eps)
        factor = torch.where(g_norm > max_norm, max_norm / torch.clamp(g_norm, min=1e-6), torch.ones_like(g_norm))
        clipped += int((g_norm > max_norm).sum())
        g.mul_(factor.to(g.dtype).unsqueeze(1))
    return clipped


clip_grad_norm_ = torch.nn.utils.clip_grad_norm_
clip_grad_value_ = torch.nn.utils.clip_grad_value_
