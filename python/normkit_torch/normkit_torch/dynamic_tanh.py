"""Dynamic Tanh (DyT), as @normkit/layer's `DynamicTanh` (plugin `dyt`; keys `alpha`, `weight`, `bias`)."""
import torch
from torch import nn


class DynamicTanh(nn.Module):
    """Dynamic Tanh (Zhu, Chen, He, LeCun & Liu, "Transformers without Normalization", CVPR 2025): an element-wise
    LayerNorm replacement, y = weight * tanh(alpha * x) + bias, with one learned `alpha` [1] (init `alpha_init`,
    0.5) and LayerNorm's per-element `weight` and `bias` over the trailing `normalized_shape` dims (with
    `elementwise_affine`). No statistics: independent of the batch and of other tokens.

        dyt = DynamicTanh(768)
    """

    def __init__(self, normalized_shape, alpha_init=0.5, elementwise_affine=True, dtype=None):
        super().__init__()
        if not (isinstance(alpha_init, (int, float)) and alpha_init > 0):
            raise ValueError(f"DynamicTanh: expected alpha_init > 0, got {alpha_init!r}")
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.alpha_init, self.elementwise_affine = alpha_init, elementwise_affine
        dtype = dtype or torch.get_default_dtype()
        self.alpha = nn.Parameter(torch.full((1,), float(alpha_init), dtype=dtype))
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.dim() < k or tuple(x.shape[x.dim() - k:]) != self.normalized_shape:
            raise ValueError(f"DynamicTanh: expected an input ending with {list(self.normalized_shape)}, got {list(x.shape)}")
        y = torch.tanh(self.alpha * x)
        return y * self.weight + self.bias if self.weight is not None else y
