"""LayerScale, as @normkit/layer's `LayerScale` (timm's; key `gamma`)."""
import torch
from torch import nn


class LayerScale(nn.Module):
    """LayerScale (Touvron et al., "Going deeper with Image Transformers", ICCV 2021), timm's `LayerScale`:
    y = gamma * x with gamma shaped `dim` (the trailing dims), initialised to `init_values` (1e-5). Used on a
    residual branch: x + gamma * f(norm(x)).

        ls = LayerScale(384, init_values=1e-5)
    """

    def __init__(self, dim, init_values=1e-5, dtype=None):
        super().__init__()
        self.dim = (dim,) if isinstance(dim, int) else tuple(dim)
        self.init_values = init_values
        self.gamma = nn.Parameter(torch.full(self.dim, float(init_values), dtype=dtype or torch.get_default_dtype()))

    def forward(self, x):
        k = len(self.dim)
        if x.dim() < k or tuple(x.shape[x.dim() - k:]) != self.dim:
            raise ValueError(f"LayerScale: expected an input ending with {list(self.dim)}, got {list(x.shape)}")
        return x * self.gamma
