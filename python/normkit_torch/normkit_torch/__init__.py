"""normkit-torch: normkit's normalizers as PyTorch modules, with normkit's option semantics and
exactly normkit's state-dict keys, and a pure-Python safetensors reader/writer."""
from . import bundle, models
from .batch import BatchNorm, GhostBatchNorm
from .batch_renorm import PAPER_RENORM_SCHEDULE, BatchRenorm, renorm_clips_at
from .conditional import SPADE, ConditionalBatchNorm, FiLM
from .deep_norm import deep_norm_constants, deep_norm_init
from .dynamic_tanh import DynamicTanh
from .evo_norm_b0 import EvoNormB0
from .evo_norm_s0 import EvoNormS0, evo_norm_s0
from .frozen_batch_norm import FrozenBatchNorm, freeze_batch_norm, unfreeze_batch_norm
from .group import TLU, FilterResponseNorm, FilterResponseNormTLU, filter_response_norm
from .group_norm import GroupNorm
from .instance_norm import InstanceNorm
from .l2_norm import L2Norm, ScaleNorm, l2_norm
from .layer import AdaLN, AdaLNZero, LayerNorm, QKNorm, RMSNorm, layer_norm, rms_norm
from .layer_scale import LayerScale
from .local_response_norm import LocalResponseNorm
from .models import MultiHeadAttention, NGPTClassifier, TransformerBlock
from .ngpt import NGPTBlock, mark_unit_norm_weight, ngpt_weight_normalization, normalize_marked_weights
from .norm_free import (NONLINEARITY_GAMMA, NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, adaptive_grad_clip_,
                        clip_grad_norm_, clip_grad_value_, nf_residual_blocks)
from .residuals import PLACEMENTS, Residual, residual
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
    "BatchRenorm", "PAPER_RENORM_SCHEDULE", "renorm_clips_at", "FrozenBatchNorm", "freeze_batch_norm", "unfreeze_batch_norm",
    "LocalResponseNorm", "EvoNormB0", "EvoNormS0", "evo_norm_s0", "L2Norm", "l2_norm", "ScaleNorm", "LayerScale", "DynamicTanh",
    "LayerNorm", "layer_norm", "GroupNorm", "deep_norm_constants", "deep_norm_init", "PLACEMENTS", "Residual", "residual",
    "MultiHeadAttention", "TransformerBlock", "NGPTBlock", "mark_unit_norm_weight", "normalize_marked_weights",
    "ngpt_weight_normalization", "InstanceNorm", "NGPTClassifier",
]
