"""normkit-torch: normkit's normalizers as PyTorch modules, with normkit's option semantics and
exactly normkit's state-dict keys, and a pure-Python safetensors reader/writer."""
from . import bundle, models
from .batch import BatchNorm, GhostBatchNorm
from .conditional import SPADE, ConditionalBatchNorm, FiLM
from .group import TLU, FilterResponseNorm, FilterResponseNormTLU, filter_response_norm
from .layer import AdaLN, AdaLNZero, QKNorm, RMSNorm, rms_norm
from .norm_free import (NONLINEARITY_GAMMA, NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, adaptive_grad_clip_,
                        clip_grad_norm_, clip_grad_value_, nf_residual_blocks)
from .switchable import NormalizerMixture, SwitchableNorm, mixture_of
from .sync import convert_sync
from .weight import WeightNorm, WeightStandardization, weight_norm, weight_standardization

__version__ = "0.1.0"
__all__ = [
    "BatchNorm", "GhostBatchNorm", "ConditionalBatchNorm", "FiLM", "SPADE", "TLU", "FilterResponseNorm", "FilterResponseNormTLU",
    "filter_response_norm", "AdaLN", "AdaLNZero", "QKNorm", "RMSNorm", "rms_norm", "NONLINEARITY_GAMMA", "ScaledStdConv2d",
    "ScaledStdLinear", "SkipInit", "adaptive_grad_clip_", "clip_grad_norm_", "clip_grad_value_", "SwitchableNorm",
    "WeightNorm", "weight_norm", "WeightStandardization", "weight_standardization", "convert_sync", "bundle", "models",
    "NFResidualBlock", "nf_residual_blocks", "NormalizerMixture", "mixture_of",
]
