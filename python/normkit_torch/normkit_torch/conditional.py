"""Conditional BatchNorm and FiLM, as @normkit/conditional defines them."""
import torch
from torch import nn
import torch.nn.functional as F

from .batch import BatchNorm


def _per_sample_channel(t, ndim):
    return t.reshape(tuple(t.shape) + (1,) * (ndim - 2))


class ConditionalBatchNorm(nn.Module):
    """BatchNorm statistics shared by every class, one gamma and beta row per class:
    y = gamma[label] * (x - mean) / sqrt(var + eps) + beta[label]. Keys `bn.running_mean`,
    `bn.running_var`, `bn.num_batches_tracked`, `gamma.weight` (ones), `beta.weight` (zeros)."""

    def __init__(self, num_features, num_classes, eps=1e-5, momentum=0.1, track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.num_classes = num_classes
        self.bn = BatchNorm(num_features, eps=eps, momentum=momentum, affine=False, track_running_stats=track_running_stats, dtype=dtype)
        self.gamma = nn.Embedding(num_classes, num_features, dtype=dtype)
        self.beta = nn.Embedding(num_classes, num_features, dtype=dtype)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x, labels, mask=None):
        labels = torch.as_tensor(labels).long()
        y = self.bn(x, mask)
        return y * _per_sample_channel(self.gamma(labels), x.dim()) + _per_sample_channel(self.beta(labels), x.dim())


class FiLM(nn.Module):
    """Feature-wise linear modulation (Perez et al., 2018): (gamma, beta) = film_generator(c), y =
    gamma * norm(x) + beta. norm 'none' (default), 'batch' (parameter-free BatchNorm, key
    `param_free_norm.*`), 'instance' (parameter-free InstanceNorm over the spatial dims, no state) or
    'layer' (over every dim but the batch). Keys `film_generator.0.*` (and
    `film_generator.2.*` with `hidden`); output rows gamma then beta."""

    def __init__(self, num_features, condition_dim, hidden=None, norm="none", eps=1e-5, momentum=0.1, dtype=None):
        super().__init__()
        if norm not in ("none", "batch", "instance", "layer"):
            raise ValueError(f"FiLM: norm must be 'none', 'batch', 'instance' or 'layer', got {norm!r}")
        self.num_features = num_features
        self.norm = norm
        self.eps = eps
        if norm == "batch":
            self.param_free_norm = BatchNorm(num_features, eps=eps, momentum=momentum, affine=False, dtype=dtype)
        out = 2 * num_features
        if hidden is None:
            self.film_generator = nn.Sequential(nn.Linear(condition_dim, out, dtype=dtype))
        else:
            self.film_generator = nn.Sequential(nn.Linear(condition_dim, hidden, dtype=dtype), nn.ReLU(), nn.Linear(hidden, out, dtype=dtype))

    def forward(self, x, condition):
        if self.norm == "batch":
            x_hat = self.param_free_norm(x)
        elif self.norm == "layer":
            x_hat = F.layer_norm(x, x.shape[1:], None, None, self.eps)
        elif self.norm == "instance":
            if x.dim() < 3:
                raise ValueError(f"FiLM: norm 'instance' expects [N, {self.num_features}, *spatial] with at least one spatial dim, got {list(x.shape)}")
            # InstanceNorm without affine and running statistics (normkit's param-free InstanceNorm): no state.
            x_hat = F.instance_norm(x, eps=self.eps)
        else:
            x_hat = x
        gamma, beta = self.film_generator(condition).split(self.num_features, dim=1)
        return x_hat * _per_sample_channel(gamma, x.dim()) + _per_sample_channel(beta, x.dim())


class SPADE(nn.Module):
    """Spatially-adaptive normalization (Park et al., CVPR 2019, GauGAN): m' = resize_nearest(m, [H, W]);
    a = ReLU(mlp_shared(m')); y = norm(x) * (1 + mlp_gamma(a)) + mlp_beta(a), norm a parameter-free
    BatchNorm (default) or InstanceNorm. Keys GauGAN's: `param_free_norm.*`, `mlp_shared.0.*`,
    `mlp_gamma.*`, `mlp_beta.*`. `forward(x, condition)` with the map [N, label_channels, H', W']."""

    def __init__(self, norm_channels, label_channels, hidden_channels=128, kernel_size=3, param_free_norm="batch",
                 eps=1e-5, momentum=0.1, dtype=None):
        super().__init__()
        if param_free_norm not in ("batch", "instance"):
            raise ValueError(f"SPADE: param_free_norm must be 'batch' or 'instance', got {param_free_norm!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"SPADE: kernel_size must be odd, got {kernel_size}")
        self.norm_channels = norm_channels
        self.kind = param_free_norm
        self.eps = eps
        if param_free_norm == "batch":
            self.param_free_norm = BatchNorm(norm_channels, eps=eps, momentum=momentum, affine=False, dtype=dtype)
        else:
            self.param_free_norm = nn.InstanceNorm2d(norm_channels, eps=eps, momentum=momentum, affine=False, dtype=dtype)
        pad = kernel_size // 2
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden_channels, kernel_size, padding=pad, dtype=dtype), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden_channels, norm_channels, kernel_size, padding=pad, dtype=dtype)
        self.mlp_beta = nn.Conv2d(hidden_channels, norm_channels, kernel_size, padding=pad, dtype=dtype)

    def forward(self, x, condition):
        normalized = self.param_free_norm(x)
        m = condition
        if tuple(m.shape[2:]) != tuple(x.shape[2:]):
            m = F.interpolate(m, size=tuple(x.shape[2:]), mode="nearest")
        hidden = self.mlp_shared(m)
        return normalized * (1 + self.mlp_gamma(hidden)) + self.mlp_beta(hidden)
