"""EvoNorm-B0, as @normkit/group's `EvoNormB0` (timm's `EvoNorm2dB0`; keys `weight`, `bias`, `v`, buffer `running_var`)."""
import torch
from torch import nn

from ._stats import channel_view


class EvoNormB0(nn.Module):
    """EvoNorm-B0 (Liu, Brock, Simonyan & Le, NeurIPS 2020) on [N, C, *]:

        y = x / max(sqrt(var_c + eps), v_c * x + sqrt(instanceVar_nc(x) + eps)) * weight_c + bias_c

    var_c the biased batch variance over (N, *spatial) in training (gradients flow through it) and `running_var`
    in eval; instanceVar the biased variance over each sample's spatial positions. In training
    `running_var = (1 - momentum) running_var + momentum * var_c * n / (n - 1)`, n = N * spatial; no running mean or
    batch count (timm's). A tie of the max goes to the batch side, as in normkit (torch.maximum would split it).

        evo = EvoNormB0(64)
    """

    def __init__(self, num_features, eps=1e-3, momentum=0.1, dtype=None):
        super().__init__()
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"EvoNormB0: expected eps > 0, got {eps!r}")
        if not (isinstance(momentum, (int, float)) and 0 <= momentum <= 1):
            raise ValueError(f"EvoNormB0: expected momentum in [0, 1], got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        self.v = nn.Parameter(torch.ones(num_features, dtype=dtype))
        self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))

    def forward(self, x):
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"EvoNormB0: expected [N, {self.num_features}, *], got {list(x.shape)}")
        nd = x.dim()
        dims = [0] + list(range(2, nd))
        if self.training:
            count = x.numel() // x.shape[1]
            if count <= 1:
                raise ValueError(f"EvoNormB0: expected more than 1 value per channel in training, got input of shape {list(x.shape)}")
            var = x.var(dims, unbiased=False)
            with torch.no_grad():
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var.detach() * count / (count - 1))
        else:
            var = self.running_var
        left = channel_view(torch.sqrt(var + self.eps), nd)
        spatial = list(range(2, nd))
        instance_var = x.var(spatial, unbiased=False, keepdim=True) if spatial else torch.zeros_like(x)
        right = channel_view(self.v, nd) * x + torch.sqrt(instance_var + self.eps)
        den = torch.where(right > left, right, left)
        return x / den * channel_view(self.weight, nd) + channel_view(self.bias, nd)
