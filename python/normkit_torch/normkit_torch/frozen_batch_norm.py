"""FrozenBatchNorm and the freeze/unfreeze helpers, as @normkit/batch defines them (torchvision's
`FrozenBatchNorm2d` keys: buffers `weight`, `bias`, `running_mean`, `running_var`; no `num_batches_tracked`)."""
import torch
from torch import nn

from ._stats import channel_view
from .batch import BatchNorm


class FrozenBatchNorm(nn.Module):
    """BatchNorm with fixed statistics and affine, normkit's `FrozenBatchNorm` and torchvision's
    `FrozenBatchNorm2d` for any [N, C, *] input:

        scale = weight * rsqrt(running_var + eps),  shift = bias - running_mean * scale,  y = x * scale + shift

    BatchNorm's eval formula, in training too. All four tensors are buffers (an optimizer sees none of them);
    loading a BatchNorm state dict drops `num_batches_tracked`, as torchvision does (also when nested).
    `forward(x, mask=None)`: padded outputs ([N, *spatial] mask, 1 real, 0 padded) are 0, as in normkit.

        frozen = FrozenBatchNorm(64)
        frozen.load_state_dict(pretrained_bn.state_dict())
    """

    def __init__(self, num_features, eps=1e-5, dtype=None):
        super().__init__()
        if not (isinstance(num_features, int) and num_features >= 1):
            raise ValueError(f"FrozenBatchNorm: expected num_features to be an integer >= 1, got {num_features!r}")
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"FrozenBatchNorm: expected eps to be a number > 0, got {eps!r}")
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features, dtype=dtype))
        self.register_buffer("bias", torch.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    @classmethod
    def from_batch_norm(cls, source):
        """A FrozenBatchNorm holding copies of a BatchNorm's (torch's or normkit_torch's) gamma, beta (ones and
        zeros without affine), running statistics, eps and dtype; one without running statistics is refused."""
        if not source.track_running_stats:
            raise ValueError("FrozenBatchNorm.from_batch_norm: expected a BatchNorm with running statistics "
                             "(track_running_stats=True), got track_running_stats=False")
        frozen = cls(source.num_features, eps=source.eps, dtype=source.running_mean.dtype)
        with torch.no_grad():
            if source.weight is not None:
                frozen.weight.copy_(source.weight)
                frozen.bias.copy_(source.bias)
            frozen.running_mean.copy_(source.running_mean)
            frozen.running_var.copy_(source.running_var)
        frozen.train(source.training)
        return frozen

    def to_batch_norm(self, momentum=0.1):
        """A trainable normkit_torch BatchNorm (affine, running statistics, `num_batches_tracked` 0) from copies of
        this module's values; its eval output equals this module's."""
        bn = BatchNorm(self.num_features, eps=self.eps, momentum=momentum, dtype=self.running_mean.dtype)
        with torch.no_grad():
            bn.weight.copy_(self.weight)
            bn.bias.copy_(self.bias)
            bn.running_mean.copy_(self.running_mean)
            bn.running_var.copy_(self.running_var)
        bn.train(self.training)
        return bn

    def forward(self, x, mask=None):
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"FrozenBatchNorm: expected [N, {self.num_features}, *], got {list(x.shape)}")
        if mask is not None and list(mask.shape) != [x.shape[0]] + list(x.shape[2:]):
            raise ValueError(f"FrozenBatchNorm: expected a mask of shape {[x.shape[0]] + list(x.shape[2:])}, got {list(mask.shape)}")
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        y = x * channel_view(scale, x.dim()) + channel_view(shift, x.dim())
        return y if mask is None else y * mask.to(y.dtype).unsqueeze(1)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"


def _is_batch_norm(m):
    return isinstance(m, (nn.modules.batchnorm._BatchNorm, BatchNorm))


def _replace(model, swap):
    replacement = swap(model)
    if replacement is not None:
        return replacement
    for name, child in list(model.named_children()):
        new = _replace(child, swap)
        if new is not child:
            setattr(model, name, new)
    return model


def freeze_batch_norm(model):
    """Swaps every BatchNorm (torch's nn.BatchNorm*d and SyncBatchNorm, normkit_torch's BatchNorm, GhostBatchNorm and
    BatchRenorm) for a FrozenBatchNorm with copies of its values; returns the model (or the replacement when the
    model is itself a BatchNorm). Build the optimizer after freezing. A BatchNorm without running statistics is
    refused before anything changes. normkit's `freezeBatchNorm`."""
    for name, m in model.named_modules():
        if _is_batch_norm(m) and not m.track_running_stats:
            raise ValueError(f"freeze_batch_norm: expected every BatchNorm to have running statistics (track_running_stats=True), "
                             f"got module {name or '(root)'!r} with track_running_stats=False. Nothing was changed.")
    return _replace(model, lambda m: FrozenBatchNorm.from_batch_norm(m) if _is_batch_norm(m) else None)


def unfreeze_batch_norm(model, momentum=0.1):
    """Swaps every FrozenBatchNorm back for a trainable normkit_torch BatchNorm starting from its values (normkit's
    `unfreezeBatchNorm`); returns the model or the replacement of a root FrozenBatchNorm. Build the optimizer after it."""
    return _replace(model, lambda m: m.to_batch_norm(momentum) if isinstance(m, FrozenBatchNorm) else None)
