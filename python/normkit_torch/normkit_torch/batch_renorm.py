"""Batch Renormalization, as @normkit/batch's `BatchRenorm` (Ioffe, NeurIPS 2017, Algorithm 1).

State-dict keys: BatchNorm's (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`);
`running_var` stores the moving sigma as sigma^2 - eps.
"""
import math

import torch

from ._stats import batch_statistics, channel_view
from .batch import BatchNorm

# The paper's schedule (section 4): r = 1, d = 0 for 5k steps, then rmax reaches 3 at 40k and dmax 5 at 25k.
PAPER_RENORM_SCHEDULE = {"rmax": 3.0, "dmax": 5.0, "warmup_steps": 5000, "rmax_relaxed_at": 40000, "dmax_relaxed_at": 25000}


def renorm_clips_at(step, rmax=3.0, rmin=None, dmax=5.0, warmup_steps=0, rmax_relaxed_at=0, dmax_relaxed_at=0):
    """(rmin, rmax, dmax) in force at training step `step` (batches seen before it), normkit's `renormClipsAt`:
    r = 1 and d = 0 before `warmup_steps`, then each clip moves linearly to its value, reached at its
    `..._relaxed_at` step (at once if that step is not after the warm-up)."""
    def progress(end):
        if step < warmup_steps:
            return 0.0
        if end <= warmup_steps:
            return 1.0
        return min(1.0, (step - warmup_steps) / (end - warmup_steps))

    pr = progress(rmax_relaxed_at)
    current_rmax = 1 + pr * (rmax - 1)
    current_rmin = 1 / current_rmax if rmin is None else 1 + pr * (rmin - 1)
    return current_rmin, current_rmax, progress(dmax_relaxed_at) * dmax


def _number(name, value, low, high=None, low_exclusive=False, integer=False, nullable=False):
    if value is None and nullable:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_exclusive else value >= low) and (high is None or value <= high)
    ok = ok and (not integer or float(value).is_integer())
    if not ok:
        bound = f"{'>' if low_exclusive else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"BatchRenorm: expected {name} to be a{'n integer' if integer else ' finite number'} {bound}"
                         f"{' or None' if nullable else ''}, got {value!r}")
    return value


class BatchRenorm(BatchNorm):
    """Batch Renormalization (Ioffe, 2017) for any [N, C, *] input, normkit's `BatchRenorm`:

        sigma_B = sqrt(var_B + eps),  sigma = sqrt(running_var + eps)
        r = stop_gradient(clip(sigma_B / sigma, rmin, rmax)),  d = stop_gradient(clip((mu_B - mu) / sigma, -dmax, dmax))
        y = gamma * ((x - mu_B) / sigma_B * r + d) + beta
        mu += alpha (mu_B - mu),  sigma += alpha (sigma_B - sigma)   (alpha = momentum, or 1 / num_batches_tracked when None)

    and in eval BatchNorm's formula with the running statistics. Gradients flow through mu_B and sigma_B;
    r and d are constants. Warm-up (`warmup_steps`, `rmax_relaxed_at`, `dmax_relaxed_at`) counts training
    batches in `num_batches_tracked`; `PAPER_RENORM_SCHEDULE` holds the paper's values. `forward(x, mask=None)`
    takes BatchNorm's padding mask. It has no synchronised version (`convert_sync` refuses it, as normkit does).

        bn = BatchRenorm(16, **PAPER_RENORM_SCHEDULE)
        y = bn(torch.randn(4, 16, 8, 8))
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.01, affine=True, rmax=3.0, rmin=None, dmax=5.0, warmup_steps=0,
                 rmax_relaxed_at=0, dmax_relaxed_at=0, dtype=None):
        _number("num_features", num_features, 1, integer=True)
        _number("eps", eps, 0, low_exclusive=True)
        _number("momentum", momentum, 0, 1, nullable=True)
        self_rmin = _number("rmin", rmin, 0, 1, low_exclusive=True, nullable=True)
        for name, value in (("rmax", rmax), ("dmax", dmax)):
            _number(name, value, 1 if name == "rmax" else 0)
        for name, value in (("warmup_steps", warmup_steps), ("rmax_relaxed_at", rmax_relaxed_at), ("dmax_relaxed_at", dmax_relaxed_at)):
            _number(name, value, 0, integer=True)
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine, track_running_stats=True, dtype=dtype)
        self.rmax, self.rmin, self.dmax = float(rmax), self_rmin, float(dmax)
        self.warmup_steps, self.rmax_relaxed_at, self.dmax_relaxed_at = int(warmup_steps), int(rmax_relaxed_at), int(dmax_relaxed_at)

    def current_clips(self):
        """(rmin, rmax, dmax) the next training batch uses (they follow `num_batches_tracked`)."""
        return renorm_clips_at(int(self.num_batches_tracked), self.rmax, self.rmin, self.dmax, self.warmup_steps,
                               self.rmax_relaxed_at, self.dmax_relaxed_at)

    def forward(self, x, mask=None):
        if not self.training:
            return super().forward(x, mask)
        if self.all_reduce is not None:
            raise ValueError("BatchRenorm: expected no cross-process reduction (Batch Renormalization has no synchronised version)")
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchRenorm: expected [N, {self.num_features}, *], got {list(x.shape)}")
        if mask is not None and list(mask.shape) != [x.shape[0]] + list(x.shape[2:]):
            raise ValueError(f"BatchRenorm: mask must have shape {[x.shape[0]] + list(x.shape[2:])}, got {list(mask.shape)}")
        count, mean, var = batch_statistics(x, mask)
        if bool((count <= 1).any()):
            raise ValueError("BatchRenorm: expected more than 1 value per channel when training")
        rmin, rmax, dmax = self.current_clips()
        with torch.no_grad():
            sigma = torch.sqrt(self.running_var.to(torch.float64) + self.eps)
            sigma_batch = torch.sqrt(var.detach().to(torch.float64) + self.eps)
            r = torch.clamp(sigma_batch / sigma, rmin, rmax).to(x.dtype)
            d = torch.clamp((mean.detach().to(torch.float64) - self.running_mean.to(torch.float64)) / sigma, -dmax, dmax).to(x.dtype)
        nd = x.dim()
        xhat = (x - channel_view(mean, nd)) * channel_view(torch.rsqrt(var + self.eps), nd)
        if self.weight is not None:
            y = xhat * channel_view(self.weight * r, nd) + channel_view(self.weight * d + self.bias, nd)
        else:
            y = xhat * channel_view(r, nd) + channel_view(d, nd)
        self._update_moving(mean.detach(), var.detach())
        if mask is not None:
            y = y * mask.to(y.dtype).unsqueeze(1)
        return y

    @torch.no_grad()
    def _update_moving(self, mean, var):
        self.num_batches_tracked.add_(1)
        alpha = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        sigma = torch.sqrt(self.running_var.to(torch.float64) + self.eps)
        sigma_batch = torch.sqrt(var.to(torch.float64) + self.eps)
        moved = sigma + alpha * (sigma_batch - sigma)
        running_mean = self.running_mean.to(torch.float64)
        self.running_mean.copy_(running_mean + alpha * (mean.to(torch.float64) - running_mean))
        self.running_var.copy_(torch.clamp(moved * moved - self.eps, min=0))
