"""GroupNorm with normkit's masks, as @normkit/group's `GroupNorm` (torch's keys `weight`, `bias`)."""
import torch
from torch import nn

from ._stats import channel_view
from .layer import element_mask, masked_moments

class GroupNorm(nn.GroupNorm):
    """torch.nn.GroupNorm plus normkit's masks, `forward(x, mask=None)`: a padding mask with x's shape without the
    channel axis ([N, L] for [N, C, L] sequences) or an element-wise mask of x's shape (Flax's `mask`); each
    (sample, group) is normalised over its unmasked elements, masked outputs are 0 (beta included). Without a mask
    it is torch's GroupNorm. GroupNorm is LayerNorm over (C, *) with one group and InstanceNorm with C groups.

        norm = GroupNorm(4, 32)
        y = norm(torch.randn(2, 32, 10), mask=torch.ones(2, 10))
    """

    def forward(self, x, mask=None):
        if mask is None:
            return super().forward(x)
        op = type(self).__name__
        if x.dim() < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{op}: expected [N, {self.num_channels}, *], got {list(x.shape)}")
        m = element_mask(x, mask, op)
        if m is None:
            padding = [x.shape[0]] + list(x.shape[2:])
            if list(mask.shape) != padding:
                raise ValueError(f"{op}: expected a mask of shape {padding} (the input's shape without the channel axis) "
                                 f"or {list(x.shape)} (element-wise), got {list(mask.shape)}")
            m = element_mask(x, mask.unsqueeze(1).expand_as(x), op)
        n, g = x.shape[0], self.num_groups
        grouped, mg = x.reshape(n, g, -1), m.reshape(n, g, -1)
        mean, var = masked_moments(grouped, mg, (2,), True)
        y = ((grouped - mean) * torch.rsqrt(var + self.eps) * mg).reshape(x.shape)
        if self.affine:
            y = y * channel_view(self.weight, x.dim()) + channel_view(self.bias, x.dim()) * m
        return y
