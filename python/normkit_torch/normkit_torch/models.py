"""The model families of normkit's playground and lab (@normkit/experiments), as PyTorch modules with the
same state-dict keys, built from a bundle's architecture description:

    {"model": {"name": "mlp", "options": {"width": 32, "depth": 3, "activation": "relu"}},
     "norms": {"hidden": {"name": "batch-norm", "options": {"momentum": 0.1}}},
     "weights": {}, "data": {"inputKind": "vector", "sampleShape": [6], "numClasses": 3}}

(what `saveBundle({ architecture: { model, norms, weights, data } })` stores from an experiment config).
Families ported: `mlp` (vector, image and token inputs, `conditionFeatures` handed to conditional normalizers),
`cnn`, `residual` (plain, NF and SkipInit blocks; vector, image and token inputs), `conditional-gan` (conditional
normalizers: conditional-batch-norm, film, ada-ln; `generatorClassInput`) and `transformer` (tokens with a padding
mask; any mapped block norm, placements pre, post, peri, output and deepnorm, QK-norm, LayerScale), with the weight
parametrizations of `weights` (weight-norm, spectral-norm, weight-standardization, scaled-weight-standardization) on
every Linear and Conv2d of a role, as normkit's `applyWeightParametrization`. A normalization slot holds its
normalizer as a child named after the normkit plugin (`layers.0.norm.batch-norm.running_mean`), as normkit's NormSlot
does. Every option, role and plugin normkit's families accept is either honoured or refused with the reason
(`support()` lists both; a test compares it with normkit's schemas): nothing is silently ignored.
"""
import torch
from torch import nn
import torch.nn.functional as F

import math
import re

from .batch import BatchNorm, GhostBatchNorm
from .batch_renorm import BatchRenorm
from .conditional import FiLM, ConditionalBatchNorm
from .deep_norm import deep_norm_init, resolve_deep_norm
from .dynamic_tanh import DynamicTanh
from .evo_norm_b0 import EvoNormB0
from .evo_norm_s0 import EvoNormS0
from .frozen_batch_norm import FrozenBatchNorm
from .group import FilterResponseNorm, FilterResponseNormTLU
from .group_norm import GroupNorm
from .instance_norm import InstanceNorm
from .l2_norm import L2Norm, ScaleNorm
from .layer import AdaLN, AdaLNZero, LayerNorm, RMSNorm
from .layer_scale import LayerScale
from .local_response_norm import LocalResponseNorm
from .residuals import Residual
from .switchable import SwitchableNorm, mixture_of


def _options(choice):
    return dict(choice.get("options") or {})


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _snake(options):
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in options.items()}


# Conditional normalizers: what their forward takes from the slot's context (normkit's traits).
TAKES = {"conditional-batch-norm": "labels", "film": "condition", "ada-ln": "condition", "ada-ln-zero": "condition"}


# Every option of each mapped normalizer plugin (normkit's schema keys, camelCase): any other key is refused.
_AFFINE_STATS = ("eps", "momentum", "affine", "trackRunningStats", "dtype")
NORMALIZER_OPTIONS = {
    "batch-norm": _AFFINE_STATS, "sync-batch-norm": _AFFINE_STATS, "ghost-batch-norm": _AFFINE_STATS + ("virtualBatchSize",),
    "frozen-batch-norm": ("eps", "dtype"),
    "batch-renorm": ("eps", "momentum", "affine", "rmax", "rmin", "dmax", "warmupSteps", "rmaxRelaxedAt", "dmaxRelaxedAt", "dtype"),
    "conditional-batch-norm": ("eps", "momentum", "trackRunningStats", "dtype"), "film": ("hidden", "norm", "eps", "momentum", "dtype"),
    "group-norm": ("numGroups", "eps", "affine", "dtype"), "instance-norm": _AFFINE_STATS,
    "filter-response-norm": ("eps", "learnableEps", "dtype", "tlu"), "local-response-norm": ("size", "alpha", "beta", "k"),
    "evo-norm-s0": ("groups", "eps", "dtype"), "evo-norm-b0": ("eps", "momentum", "dtype"),
    "layer-norm": ("eps", "elementwiseAffine", "bias", "dtype"), "rms-norm": ("eps", "elementwiseAffine", "dtype"),
    "qk-norm": ("kind", "eps", "dtype"), "ada-ln": ("eps", "zeroInit", "dtype"), "ada-ln-zero": ("eps", "dtype"),
    "l2-norm": ("p", "eps"), "scale-norm": ("eps", "dtype"), "layer-scale": ("initValues", "dtype"),
    "dyt": ("alphaInit", "elementwiseAffine", "dtype"), "dynamic-tanh": ("alphaInit", "elementwiseAffine", "dtype"),
    "switchable-norm": ("eps", "momentum", "usingBatchStats", "usingMovingAverage", "dtype"),
    "normalizer-mixture": ("temperature", "hard", "dtype"),
}
# Registered normalizers no family slot can hold, with the reason (normkit's families refuse them too).
REFUSED_NORMALIZERS = {
    "spade": "SPADE needs a segmentation map (the slot's conditionChannels), which no model family gives; "
             "build normkit_torch.SPADE into your own model instead",
}
# normkit's `normalizer-mixture` plugin: BatchNorm, InstanceNorm (affine) and LayerNorm over (C, *) as GroupNorm(1).
MIXTURE_CANDIDATES = ("batch-norm", {"candidate": "instance-norm", "options": {"affine": True}}, {"candidate": "group-norm", "options": {"numGroups": 1}})


def _check_keys(what, given, accepted):
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise ValueError(f"models: {what}: expected options among {', '.join(accepted) or '(none)'}, got unknown {', '.join(repr(k) for k in unknown)}"
                         " (not honoured by normkit_torch, so refused rather than ignored)")


def normalizer(choice, features, dtype=None, condition_dim=None, num_classes=None):
    """The normkit_torch (or torch) module of a normkit normalizer plugin choice {"name", "options"} (normkit's
    camelCase options and defaults) over `features` channels; `dtype` unless the options set one. Conditional
    normalizers need the slot's `condition_dim` (film, ada-ln) or `num_classes` (conditional-batch-norm).
    Unknown plugins and options are refused (ValueError / NotImplementedError naming them), never ignored."""
    name = choice["name"]
    o = _options(choice)
    if name in REFUSED_NORMALIZERS:
        raise NotImplementedError(f"models: normalizer {name!r} is refused: {REFUSED_NORMALIZERS[name]}")
    if name in NORMALIZER_OPTIONS:
        _check_keys(f"normalizer {name!r}", o, NORMALIZER_OPTIONS[name])
    if "dtype" in o and o["dtype"] not in _DTYPES:
        raise ValueError(f"models: normalizer {name!r}: expected dtype 'float32' or 'float64', got dtype = {o['dtype']!r}")
    dtype = _DTYPES[o.pop("dtype")] if "dtype" in o else dtype
    if name in TAKES and (condition_dim if TAKES[name] == "condition" else num_classes) is None:
        raise ValueError(f"models: {name!r} needs {'a condition' if TAKES[name] == 'condition' else 'class labels'}, which this model does not give")
    if name == "conditional-batch-norm":
        return ConditionalBatchNorm(features, num_classes, dtype=dtype, **_snake(o))
    if name == "film":
        return FiLM(features, condition_dim, dtype=dtype, **_snake(o))
    if name == "ada-ln":
        return AdaLN(features, condition_dim, dtype=dtype, **_snake(o))
    if name == "ada-ln-zero":
        return AdaLNZero(features, condition_dim, dtype=dtype, **_snake(o))
    if name in _SNAKE_CASE:
        return _SNAKE_CASE[name](features, dtype, _snake(o))
    if name in ("batch-norm", "sync-batch-norm"):
        # sync-batch-norm without a process group is BatchNorm (normkit's plugin builds it groupless);
        # under torch.distributed, convert_sync(model) synchronises it.
        return BatchNorm(features, eps=o.get("eps", 1e-5), momentum=o.get("momentum", 0.1), affine=o.get("affine", True),
                         track_running_stats=o.get("trackRunningStats", True), dtype=dtype)
    if name == "ghost-batch-norm":
        return GhostBatchNorm(features, virtual_batch_size=o.get("virtualBatchSize", 128), eps=o.get("eps", 1e-5),
                              momentum=o.get("momentum", 0.1), affine=o.get("affine", True),
                              track_running_stats=o.get("trackRunningStats", True), dtype=dtype)
    if name == "layer-norm":
        return LayerNorm(features, eps=o.get("eps", 1e-5), elementwise_affine=o.get("elementwiseAffine", True), bias=o.get("bias", True), dtype=dtype)
    if name == "rms-norm":
        return RMSNorm(features, eps=o.get("eps", 1e-6), elementwise_affine=o.get("elementwiseAffine", True), dtype=dtype)
    if name == "group-norm":
        return GroupNorm(o.get("numGroups", 32), features, eps=o.get("eps", 1e-5), affine=o.get("affine", True), dtype=dtype)
    if name == "instance-norm":
        return InstanceNorm(features, eps=o.get("eps", 1e-5), momentum=o.get("momentum", 0.1), affine=o.get("affine", False),
                            track_running_stats=o.get("trackRunningStats", False), dtype=dtype)
    if name == "filter-response-norm":
        frn = FilterResponseNormTLU if o.get("tlu", True) else FilterResponseNorm
        return frn(features, eps=o.get("eps", 1e-6), learnable_eps=o.get("learnableEps", False), dtype=dtype)
    if name == "switchable-norm":
        return SwitchableNorm(features, eps=o.get("eps", 1e-5), momentum=o.get("momentum", 0.1), using_batch_stats=o.get("usingBatchStats", True),
                              using_moving_average=o.get("usingMovingAverage", True), dtype=dtype)
    if name == "normalizer-mixture":
        return mixture_of(features, MIXTURE_CANDIDATES, temperature=o.get("temperature", 1.0), hard=o.get("hard", False), dtype=dtype)
    if name == "qk-norm":
        from .layer import QKNorm

        return QKNorm(features, kind=o.get("kind", "layer"), eps=o.get("eps"), dtype=dtype)
    raise NotImplementedError(f"models: normalizer {name!r} is not mapped to a normkit_torch module yet (mapped: {', '.join(sorted(MAPPED))})")


# The newer normalizers: normkit's options (and defaults) are the modules' keyword arguments in snake_case.
_SNAKE_CASE = {
    "batch-renorm": lambda features, dtype, o: BatchRenorm(features, dtype=dtype, **o),
    "frozen-batch-norm": lambda features, dtype, o: FrozenBatchNorm(features, dtype=dtype, **o),
    "local-response-norm": lambda features, dtype, o: LocalResponseNorm(**o),
    "evo-norm-s0": lambda features, dtype, o: EvoNormS0(features, dtype=dtype, **o),
    "evo-norm-b0": lambda features, dtype, o: EvoNormB0(features, dtype=dtype, **o),
    "l2-norm": lambda features, dtype, o: L2Norm(**o),
    "scale-norm": lambda features, dtype, o: ScaleNorm(features, dtype=dtype, **o),
    "layer-scale": lambda features, dtype, o: LayerScale(features, dtype=dtype, **o),
    "dyt": lambda features, dtype, o: DynamicTanh(features, dtype=dtype, **o),
    # The playground's third-party example plugin (examples/plugin-dyt, `normkit-plugin-dyt`): the same DyT, same keys.
    "dynamic-tanh": lambda features, dtype, o: DynamicTanh(features, dtype=dtype, **o),
}

MAPPED = {"batch-norm", "sync-batch-norm", "ghost-batch-norm", "layer-norm", "rms-norm", "group-norm", "instance-norm", "filter-response-norm",
          "switchable-norm", "normalizer-mixture", "qk-norm", "conditional-batch-norm", "film", "ada-ln", "ada-ln-zero", *_SNAKE_CASE}

# Normalizers that normalise the last axis (normkit traits layout 'channels-last'); the others take [N, C, *].
CHANNELS_LAST = {"layer-norm", "rms-norm", "qk-norm", "ada-ln", "ada-ln-zero", "l2-norm", "scale-norm", "layer-scale", "dyt", "dynamic-tanh"}
# Normalizers that take a padding mask (normkit traits acceptsMask), and those whose statistics span the batch.
ACCEPTS_MASK = {"batch-norm", "sync-batch-norm", "ghost-batch-norm", "batch-renorm", "frozen-batch-norm", "group-norm", "layer-norm", "rms-norm",
                "ada-ln", "ada-ln-zero"}
BATCH_DEPENDENT = {"batch-norm", "sync-batch-norm", "ghost-batch-norm", "batch-renorm", "evo-norm-b0"}


class NormSlot(nn.Module):
    """normkit's NormSlot: the normalizer is the child named after its plugin ('none' is the identity). On
    images [N, C, H, W] a channels-last normalizer sees [N, H, W, C] (per-pixel LayerNorm, as in ConvNeXt); on
    tokens [N, L, D] a channels-first one sees [N, D, L]. The [N, L] padding `mask` goes to a normalizer that
    accepts one, unless the choice says `"mask": false` (padding then stays in its statistics)."""

    def __init__(self, choice, features, layout="features", condition_dim=None, num_classes=None):
        super().__init__()
        choice = choice or {"name": "none"}
        _check_keys(f"norm choice {choice.get('name')!r}", [k for k in choice if k != "options"], ("name", "mask"))
        self.plugin = choice["name"]
        self.layout = layout
        self.use_mask = choice.get("mask", True) is not False
        if self.plugin == "none":
            _check_keys("norm 'none'", _options(choice), ())
        else:
            self.add_module(self.plugin, normalizer(choice, features, condition_dim=condition_dim, num_classes=num_classes))

    def forward(self, x, condition=None, labels=None, mask=None):
        if self.plugin == "none":
            return x
        norm = getattr(self, self.plugin)
        context = {}
        if self.plugin in TAKES:
            context["condition" if TAKES[self.plugin] == "condition" else "labels"] = condition if TAKES[self.plugin] == "condition" else labels
        if mask is not None and self.use_mask and self.plugin in ACCEPTS_MASK:
            context["mask"] = mask
        if self.layout == "image" and self.plugin in CHANNELS_LAST:
            return norm(x.permute(0, 2, 3, 1), **context).permute(0, 3, 1, 2)
        if self.layout == "tokens" and self.plugin not in CHANNELS_LAST:
            return norm(x.transpose(1, 2), **context).transpose(1, 2)
        return norm(x, **context)


_ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}


def masked_mean_pool(x, mask):
    """[N, L, D] -> [N, D]: the mean over real tokens, sum_t mask x / max(1, sum_t mask) (normkit's maskedMeanPool)."""
    if mask is None:
        return x.mean(1)
    m = mask.to(x.dtype).unsqueeze(2)
    return (x * m).sum(1) / m.sum(1).clamp_min(1)


class DenseLayer(nn.Module):
    """Linear -> normalizer -> activation (keys `linear.*`, `norm.<plugin>.*`); `tokens`: [N, L, F] token by token."""

    def __init__(self, in_features, out_features, choice, activation, condition_dim=None, num_classes=None, tokens=False):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = NormSlot(choice, out_features, "tokens" if tokens else "features", condition_dim=condition_dim, num_classes=num_classes)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x, condition=None, labels=None, mask=None):
        return self.activation(self.norm(self.linear(x), condition, labels, mask))


class Mlp(nn.Module):
    """@normkit/experiments' `mlp`: `depth` DenseLayers of `width` units and a Linear `head`; images are flattened;
    tokens [N, L, F] go through the layers token by token (normalizers see the padding mask) and are averaged over
    real tokens. `condition_features` k > 0 (vectors only): the last k input features are a condition handed to the
    slots' conditional normalizers (film, ada-ln), and the layers see the features before them."""

    def __init__(self, in_features, out_features, width=32, depth=3, activation="relu", norm=None, input_kind="vector", condition_features=0):
        super().__init__()
        if condition_features and (input_kind != "vector" or condition_features >= in_features):
            raise ValueError(f"mlp: expected conditionFeatures only on vector inputs and fewer than their {in_features} features, "
                             f"got conditionFeatures = {condition_features} on {input_kind} inputs")
        choice = norm or {"name": "none"}
        self.input_kind, self.condition_features = input_kind, condition_features
        sizes = [in_features - condition_features] + [width] * depth
        condition_dim = condition_features if condition_features else None
        self.layers = nn.ModuleList(DenseLayer(a, b, choice, activation, condition_dim=condition_dim, tokens=input_kind == "tokens")
                                    for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], out_features)

    def forward(self, x, mask=None):
        h = x.flatten(1) if self.input_kind == "image" else x
        condition = None
        if self.condition_features:
            data = h.shape[1] - self.condition_features
            h, condition = h[:, :data], h[:, data:]
        for layer in self.layers:
            h = layer(h, condition, None, mask)
        return self.head(masked_mean_pool(h, mask) if self.input_kind == "tokens" else h)


class ConvStage(nn.Module):
    """conv 3x3 ('same') -> normalizer -> activation -> 2x2 max pool (skipped once the map is below 2x2)."""

    def __init__(self, in_channels, out_channels, choice, activation, pool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding="same")
        self.norm = NormSlot(choice, out_channels, "image")
        self.activation = _ACTIVATIONS[activation]
        self.pool = pool

    def forward(self, x):
        y = self.activation(self.norm(self.conv(x)))
        return F.max_pool2d(y, 2) if self.pool else y


class Cnn(nn.Module):
    """@normkit/experiments' `cnn`: `stages` ConvStages (channels doubling), global average pool, Linear `head`."""

    def __init__(self, in_channels, num_classes, image_side, channels=8, stages=2, activation="relu", norm=None):
        super().__init__()
        layers, side = [], image_side
        for i in range(stages):
            out_channels = channels * 2 ** i
            pool = side >= 2
            layers.append(ConvStage(in_channels, out_channels, norm, activation, pool))
            in_channels = out_channels
            side = side // 2 if pool else side
        self.stages = nn.ModuleList(layers)
        self.head = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        return self.head(x.mean((2, 3)))


class ResidualBranch(nn.Module):
    """norm1 -> activation -> linear1 -> norm2 -> activation -> linear2 (pre-activation)."""

    def __init__(self, width, choice, activation, tokens=False):
        super().__init__()
        layout = "tokens" if tokens else "features"
        self.norm1 = NormSlot(choice, width, layout)
        self.linear1 = nn.Linear(width, width)
        self.norm2 = NormSlot(choice, width, layout)
        self.linear2 = nn.Linear(width, width)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x, mask=None):
        h = self.linear1(self.activation(self.norm1(x, mask=mask)))
        return self.linear2(self.activation(self.norm2(h, mask=mask)))


class PlainResidualBlock(nn.Module):
    """y = x + f(x)."""

    def __init__(self, branch):
        super().__init__()
        self.branch = branch

    def forward(self, x, mask=None):
        return x + self.branch(x, mask)


# Every option of each ported block wrapper (normkit's schema keys).
WRAPPER_OPTIONS = {"plain": (), "nf-block": ("alpha", "skipInit"), "skip-init": ()}


def _wrap_block(wrapper, branch, index):
    from .norm_free import NFResidualBlock, SkipInit

    name = (wrapper or {}).get("name", "plain")
    options = (wrapper or {}).get("options") or {}
    if name in WRAPPER_OPTIONS:
        _check_keys(f"block wrapper {name!r}", options, WRAPPER_OPTIONS[name])
    if name == "plain":
        return PlainResidualBlock(branch)
    if name == "nf-block":
        alpha = options.get("alpha", 0.2)
        return NFResidualBlock(branch, alpha=alpha, expected_variance=1 + index * alpha * alpha, skip_init=options.get("skipInit", False))
    if name == "skip-init":
        return SkipInit(branch)
    raise NotImplementedError(f"models: block wrapper {name!r} is not ported (plain, nf-block, skip-init are)")


class ResidualNet(nn.Module):
    """@normkit/experiments' `residual`: Linear `stem`, `depth` residual blocks (plain, NF or SkipInit),
    `final_norm`, activation, Linear `head`; images are flattened; tokens [N, L, F] go token by token (normalizers
    see the padding mask) and are averaged over real tokens before the head."""

    def __init__(self, in_features, num_classes, width=32, depth=4, activation="relu", block_norm=None, final_norm=None, block_wrapper=None,
                 input_kind="vector"):
        super().__init__()
        tokens = input_kind == "tokens"
        self.input_kind = input_kind
        self.stem = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(_wrap_block(block_wrapper, ResidualBranch(width, block_norm, activation, tokens), i) for i in range(depth))
        self.final_norm = NormSlot(final_norm, width, "tokens" if tokens else "features")
        self.head = nn.Linear(width, num_classes)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x, mask=None):
        h = self.stem(x.flatten(1) if self.input_kind == "image" else x)
        for block in self.blocks:
            h = block(h, mask)
        h = self.activation(self.final_norm(h, mask=mask))
        return self.head(masked_mean_pool(h, mask) if self.input_kind == "tokens" else h)


class ConditionalMlp(nn.Module):
    """The GAN's generator and discriminator: the input concatenated with the one-hot class, DenseLayers whose
    conditional normalizers get the one-hot class as condition (film, ada-ln) or the ids (conditional-batch-norm)."""

    def __init__(self, in_features, out_features, width, depth, norm, activation, num_classes, class_input=True):
        super().__init__()
        self.num_classes = num_classes
        self.class_input = class_input
        sizes = [in_features + num_classes if class_input else in_features] + [width] * depth
        self.layers = nn.ModuleList(DenseLayer(a, b, norm, activation, condition_dim=num_classes, num_classes=num_classes)
                                    for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], out_features)

    def forward(self, x, labels):
        labels = torch.as_tensor(labels).long()
        condition = F.one_hot(labels, self.num_classes).to(x.dtype)
        h = torch.cat([x, condition], 1) if self.class_input else x
        for layer in self.layers:
            h = layer(h, condition, labels)
        return self.head(h)


class ConditionalGan(nn.Module):
    """@normkit/experiments' `conditional-gan`: children `generator` and `discriminator` (ConditionalMlp);
    forward(z, labels) generates. `generator_class_input=False`: the generator's layers see the noise alone, the class
    reaching them only through conditional normalizers."""

    def __init__(self, data_dim, num_classes, latent_dim=4, width=64, depth=2, discriminator_width=64, discriminator_depth=2,
                 activation="relu", generator_norm=None, discriminator_norm=None, generator_class_input=True):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = ConditionalMlp(latent_dim, data_dim, width, depth, generator_norm, activation, num_classes, generator_class_input)
        self.discriminator = ConditionalMlp(data_dim, 1, discriminator_width, discriminator_depth, discriminator_norm, activation, num_classes)

    def generate(self, z, labels):
        return self.generator(z, labels)

    def discriminate(self, x, labels):
        return self.discriminator(x, labels)

    def forward(self, z, labels):
        return self.generate(z, labels)


class MultiHeadAttention(nn.Module):
    """normkit's MultiHeadAttention (batch first, keys `q_proj`, `k_proj`, `v_proj`, `out_proj`, and `q_norm`,
    `k_norm` with QK-norm on [N, H, L, head_dim]); `mask` [N, S] is a key padding mask (1 real, 0 padding); a
    query row without any real key gets zero weights. `last_max_logit`: normkit's `lastMaxLogit`, the largest
    |q.k / sqrt(head_dim)| over the allowed pairs of the last forward (NaN before the first)."""

    last_max_logit = math.nan

    def __init__(self, embed_dim, num_heads, qk_norm=None, bias=True, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: num_heads {num_heads} must divide embed_dim {embed_dim}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(embed_dim, embed_dim, bias=bias, dtype=dtype) for _ in range(4))
        if callable(qk_norm):
            # A factory (head_dim, which) -> module, called for 'q' then 'k' (normkit's qkNorm builder).
            self.q_norm, self.k_norm = qk_norm(self.head_dim, "q"), qk_norm(self.head_dim, "k")
        elif qk_norm is not None:
            from .layer import QKNorm

            self.q_norm = QKNorm(self.head_dim, **qk_norm)
            self.k_norm = QKNorm(self.head_dim, **qk_norm)
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x, mask=None, causal=False):
        """`causal`: query i attends to keys j <= i; a query row left without any key gets zero weights."""
        n, length, _ = x.shape
        split = lambda t: t.reshape(n, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        logits = q @ k.transpose(-1, -2) * (1 / math.sqrt(self.head_dim))
        # normkit's lastMaxLogit: the largest |logit| over the allowed pairs (0 when none is; a NaN never wins).
        magnitude = logits.detach().abs()
        magnitude = torch.where(torch.isnan(magnitude), torch.zeros_like(magnitude), magnitude)
        row_has_key = None
        if mask is not None or causal:
            keep = torch.ones(n, 1, length, length, dtype=torch.bool)
            if mask is not None:
                keep = keep & (mask.reshape(n, 1, 1, length) == 1)
            if causal:
                keep = keep & torch.ones(length, length, dtype=torch.bool).tril()
            has_key = keep.any(-1, keepdim=True)
            magnitude = magnitude.masked_fill(~keep, 0.0)
            logits = logits.masked_fill(~(keep | ~has_key), float("-inf"))
            row_has_key = has_key.to(x.dtype)
        self.last_max_logit = float(magnitude.max()) if magnitude.numel() else 0.0
        weights = torch.softmax(logits, -1)
        if row_has_key is not None:
            weights = weights * row_has_key
        return self.out_proj((weights @ v).permute(0, 2, 1, 3).reshape(n, length, self.embed_dim))


class TransformerBlock(nn.Module):
    """@normkit/layer's TransformerBlock: attention then MLP, each in a `Residual` with any mapped normalizer (`norm`, a
    normkit plugin choice {"name", "options"}), and the placements

        pre:      x + f(norm(x))                  post:   norm(x + f(x))
        peri:     x + norm_post(f(norm(x)))       output: x + norm(f(x))
        deepnorm: norm(alpha x + f(x)), MLP, value and output projections Xavier-normal with gain beta (query, key gain 1)

    `deep_norm` (placement 'deepnorm'): normkit's {"architecture": "encoder-only", "layers": N} (or decoder-only,
    encoder-decoder) or {"alpha", "beta"}; `layer_scale`: LayerScale's initial value on both branches (`ls1`, `ls2`);
    `embedding_norm`: normalise the block's input first (`norm_embed`, Peri-LN's embedding norm); `condition_dim` for
    ada-ln / ada-ln-zero (adaLN-Zero gates both residuals). Channels-first normalizers (BatchNorm-style) see [N, D, L];
    the [N, L] mask goes to attention and to normalizers that accept one and whose statistics span tokens.
    Keys `self_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`, `norm1_post`, `norm2_post`, `norm_embed`, `ls1`, `ls2`.
    `dtype` (normkit's `dtype` option, default float32): every parameter and buffer (batch counters stay int64)."""

    def __init__(self, dim, num_heads, norm, placement="pre", feedforward_dim=None, activation="gelu", qk_norm=None,
                 deep_norm=None, layer_scale=None, embedding_norm=False, condition_dim=None, dtype=None):
        super().__init__()
        from .residuals import PLACEMENTS

        name = norm["name"]
        if name not in MAPPED or name in ("conditional-batch-norm", "film"):
            raise NotImplementedError(f"models: transformer block norm {name!r} is not ported (needs labels, or not mapped)")
        if placement not in PLACEMENTS:
            raise ValueError(f"TransformerBlock: expected placement {', '.join(repr(p) for p in PLACEMENTS)}, got {placement!r}")
        if (placement == "deepnorm") != (deep_norm is not None):
            raise ValueError("TransformerBlock: expected deep_norm ({'architecture', 'layers'} or {'alpha', 'beta'}) with placement 'deepnorm'"
                             if placement == "deepnorm" else f"TransformerBlock: expected deep_norm only with placement 'deepnorm', got {placement!r}")
        if name in TAKES and condition_dim is None:
            raise ValueError(f"TransformerBlock: expected condition_dim for norm {name!r}, which needs a condition")
        self.placement, self.norm_name, self.activation_name = placement, name, activation
        self.deep_norm = resolve_deep_norm(deep_norm) if deep_norm is not None else None
        feedforward_dim = feedforward_dim or 4 * dim
        if isinstance(qk_norm, dict) and dtype is not None:
            qk_norm = {**qk_norm, "dtype": dtype}
        self.self_attn = MultiHeadAttention(dim, num_heads, qk_norm, dtype=dtype)
        self.linear1 = nn.Linear(dim, feedforward_dim, dtype=dtype)
        self.linear2 = nn.Linear(feedforward_dim, dim, dtype=dtype)
        make = lambda: normalizer(norm, dim, dtype=dtype, condition_dim=condition_dim)  # noqa: E731
        self.norm1, self.norm2 = make(), make()
        if placement == "peri":
            self.norm1_post, self.norm2_post = make(), make()
        self.norm_embed = make() if embedding_norm else None
        if layer_scale is not None:
            self.ls1, self.ls2 = LayerScale(dim, layer_scale, dtype=dtype), LayerScale(dim, layer_scale, dtype=dtype)
        else:
            self.ls1 = self.ls2 = None
        if self.deep_norm is not None:
            deep_norm_init(self.self_attn, [self.linear1, self.linear2], self.deep_norm["beta"])
        self.activation = _ACTIVATIONS[activation]
        self.layout = "channels-last" if name in CHANNELS_LAST else "channels-first"
        accepts_mask = name in ACCEPTS_MASK and (name in BATCH_DEPENDENT or self.layout == "channels-first")
        self.conditional = name in TAKES
        options = dict(placement=placement, layout=self.layout, accepts_mask=accepts_mask, gate=name == "ada-ln-zero",
                       alpha=self.deep_norm["alpha"] if self.deep_norm else None)
        # Unregistered (a tuple): their norms and sublayers are registered above under PyTorch's names.
        self._residuals = (
            Residual(self._attend, self.norm1,
                     output_norm=getattr(self, "norm1_post", None), layer_scale=self.ls1, **options),
            Residual(self._feedforward_branch, self.norm2, output_norm=getattr(self, "norm2_post", None),
                     layer_scale=self.ls2, **options),
        )
        self._accepts_mask = accepts_mask

    def feedforward(self, x):
        return self.linear2(self.activation(self.linear1(x)))

    def _attend(self, x, mask=None, causal=False):
        return self.self_attn(x, mask, causal)

    def _feedforward_branch(self, x, **_context):
        return self.feedforward(x)

    def forward(self, x, mask=None, causal=False, condition=None):
        from .residuals import apply_norm

        if self.conditional and condition is None:
            raise ValueError(f"TransformerBlock.forward: expected a condition for norm {self.norm_name!r}")
        context = {"causal": causal} if causal else {}
        if self.norm_embed is not None:
            extra = {}
            if mask is not None and self._accepts_mask:
                extra["mask"] = mask
            if self.conditional:
                extra["condition"] = condition
            x = apply_norm(self.norm_embed, x, self.layout, **extra)
        h = self._residuals[0](x, mask=mask, condition=condition, **context)
        return self._residuals[1](h, mask=mask, condition=condition, **context)


class TinyTransformer(nn.Module):
    """@normkit/experiments' `transformer` on token sequences [N, L, F] with a padding mask [N, L]: Linear `embed`
    plus learned `position` [L, dim], TransformerBlocks, `final_norm`, the mean over real tokens, Linear `head`."""

    def __init__(self, in_features, max_length, num_classes, dim=16, num_heads=2, depth=2, placement="pre", feedforward_dim=32,
                 activation="gelu", block_norm=None, qk_norm=None, final_norm=None, layer_scale=None):
        super().__init__()
        self.embed = nn.Linear(in_features, dim)
        self.position = nn.Parameter(torch.zeros(max_length, dim))
        # DeepNorm: DeepNet's encoder-only alpha and beta for `depth` blocks, as normkit's transformer family.
        deep_norm = {"architecture": "encoder-only", "layers": depth} if placement == "deepnorm" else None
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, block_norm or {"name": "layer-norm"}, placement, feedforward_dim, activation, qk_norm,
                                                     deep_norm=deep_norm, layer_scale=layer_scale or None)
                                    for _ in range(depth))
        self.final_norm = NormSlot(final_norm, dim, "tokens")
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x, mask=None):
        h = self.embed(x) + self.position
        for block in self.blocks:
            h = block(h, mask)
        # Channels-first final norms see [N, D, L] and the mask; padded tokens are left out by the pooling.
        return self.head(masked_mean_pool(self.final_norm(h, mask=mask), mask))


class NGPTClassifier(nn.Module):
    """@normkit/experiments' `ngpt` (Loshchilov et al., 2024) on token sequences [N, L, F] with a padding mask:

        h_0 = Norm(E x + p),  h_l = NGPTBlock_l(h_{l-1}),  z = s_z sqrt(dim) * (W_head Norm(mean over real tokens of h_L))

    `embed` (no bias, columns on the unit sphere), `position` [L, dim] (rows unit), NGPTBlocks, `head` (no bias, rows
    unit) and `sz` (stored at 1 / sqrt(dim)). After every optimizer step call each of `post_step_hooks()` (or
    `normalize_marked_weights(model)`; on 2.x register them as step post-hooks), as normkit's engine does."""

    def __init__(self, in_features, max_length, num_classes, dim=16, num_heads=2, depth=2, feedforward_dim=32, alpha_init=0.05):
        super().__init__()
        from .ngpt import NGPTBlock, mark_unit_norm_weight

        if dim % num_heads:
            raise ValueError(f"models.build: ngpt: expected dim divisible by numHeads, got dim = {dim}, numHeads = {num_heads}")
        self.dim = dim
        self.embed = nn.Linear(in_features, dim, bias=False)
        self.position = nn.Parameter(torch.randn(max_length, dim))
        self.blocks = nn.ModuleList(NGPTBlock(dim, num_heads, feedforward_dim, alpha={"init": alpha_init}) for _ in range(depth))
        self.head = nn.Linear(dim, num_classes, bias=False)
        self.sz = nn.Parameter(torch.full((num_classes,), 1 / math.sqrt(dim)))
        mark_unit_norm_weight(self.embed.weight, 0)
        mark_unit_norm_weight(self.position, 1)
        mark_unit_norm_weight(self.head.weight, 1)

    def post_step_hooks(self):
        """normkit's `postStepHooks()`: the functions to call after every optimizer step (nGPT's projection of the
        marked weights back onto the sphere); `hook(optimizer, args, kwargs)`, also usable as a 2.x step post-hook."""
        from .ngpt import ngpt_weight_normalization

        return [ngpt_weight_normalization(self)]

    def forward(self, x, mask=None):
        from .l2_norm import l2_norm

        unit = lambda t: l2_norm(t, -1, 2.0, 1e-12)  # noqa: E731
        h = unit(self.embed(x) + self.position)
        for block in self.blocks:
            h = block(h, mask)
        return self.head(unit(masked_mean_pool(h, mask))) * (self.sz * math.sqrt(self.dim))


def _qk_norm_option(choice):
    if not choice or choice["name"] == "none":
        return None
    if choice["name"] != "qk-norm":
        raise ValueError(f"models: norms.qk must be 'none' or 'qk-norm', got {choice['name']!r}")
    _check_keys("norms.qk choice", [k for k in choice if k != "options"], ("name",))
    o = _options(choice)
    _check_keys("normalizer 'qk-norm'", o, NORMALIZER_OPTIONS["qk-norm"])
    option = {"kind": o.get("kind", "layer"), "eps": o.get("eps")}
    if "dtype" in o:
        option["dtype"] = _DTYPES[o["dtype"]]
    return option


FAMILIES = ("mlp", "cnn", "residual", "conditional-gan", "transformer", "ngpt")

# What each family takes (normkit's model schemas, norm roles, weight roles and input kinds): all honoured.
MODEL_OPTIONS = {
    "mlp": {"width": 32, "depth": 3, "activation": "relu", "conditionFeatures": 0},
    "cnn": {"channels": 8, "stages": 2, "activation": "relu"},
    "residual": {"width": 32, "depth": 4, "activation": "relu"},
    "transformer": {"dim": 16, "numHeads": 2, "depth": 2, "placement": "pre", "layerScale": None, "feedforwardMultiplier": 2, "activation": "gelu"},
    "ngpt": {"dim": 16, "numHeads": 2, "depth": 2, "feedforwardMultiplier": 2, "alphaInit": 0.05},
    "conditional-gan": {"latentDim": 4, "width": 64, "depth": 2, "discriminatorWidth": 64, "discriminatorDepth": 2, "activation": "relu",
                        "generatorClassInput": True},
}
NORM_ROLES = {"mlp": ("hidden",), "cnn": ("conv",), "residual": ("block", "final"), "transformer": ("block", "qk", "final"),
              "conditional-gan": ("generator", "discriminator"), "ngpt": ()}
WEIGHT_ROLES = {"mlp": ("layers",), "cnn": ("layers", "stages"), "residual": ("layers",), "transformer": ("layers",),
                "conditional-gan": ("generator", "discriminator"), "ngpt": ()}
INPUT_KINDS = {"mlp": ("vector", "image", "tokens"), "cnn": ("image",), "residual": ("vector", "image", "tokens"), "transformer": ("tokens",),
               "conditional-gan": ("vector",), "ngpt": ("tokens",)}
# Every option of each ported weight parametrization (normkit's schema keys). spectral-norm's warmUpIterations only
# shapes the initial u and v at registration, which a bundle's `parametrizations.weight.0._u/_v` then replace.
WEIGHT_OPTIONS = {
    "weight-norm": ("dim",),
    "spectral-norm": ("nPowerIterations", "eps", "dim", "warmUpIterations"),
    "weight-standardization": ("eps", "epsMode", "dim", "gain", "scale"),
    "scaled-weight-standardization": ("nonlinearity", "eps", "epsMode", "dim"),
}
ARCHITECTURE_KEYS = ("model", "norms", "weights", "data")


def support():
    """What `build` honours, as normkit names it (JSON-ready): families with their options, norm roles, weight roles
    and input kinds; normalizers, weight parametrizations and block wrappers with their options; and what is
    refused with the reason. Anything normkit accepts that is in neither is a gap (checked by a test)."""
    return {
        "models": {name: {"options": sorted(MODEL_OPTIONS[name]), "norms": list(NORM_ROLES[name]), "weights": list(WEIGHT_ROLES[name]),
                          "inputs": list(INPUT_KINDS[name])} for name in FAMILIES},
        "normalizers": {name: list(keys) for name, keys in NORMALIZER_OPTIONS.items()},
        "weights": {name: list(keys) for name, keys in WEIGHT_OPTIONS.items()},
        "wrappers": {name: list(keys) for name, keys in WRAPPER_OPTIONS.items()},
        "refused": {"normalizers": dict(REFUSED_NORMALIZERS)},
    }


def _snake_name(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def weight_parametrization(layer, choice):
    """Registers normkit's weight-parametrization plugin choice {"name", "options"} on `layer.weight` (normkit's keys:
    `parametrizations.weight.original` and the parametrization's own tensors)."""
    from torch.nn.utils import parametrizations

    from .norm_free import NONLINEARITY_GAMMA
    from .weight import weight_norm, weight_standardization

    name = choice.get("name")
    o = _options(choice)
    if name not in WEIGHT_OPTIONS:
        raise NotImplementedError(f"models: weight parametrization {name!r} is not ported (ported: {', '.join(WEIGHT_OPTIONS)})")
    _check_keys(f"weight parametrization {name!r}", o, WEIGHT_OPTIONS[name])
    if name == "weight-norm":
        return weight_norm(layer, dim=o.get("dim", 0))
    if name == "spectral-norm":
        return parametrizations.spectral_norm(layer, n_power_iterations=o.get("nPowerIterations", 1), eps=o.get("eps", 1e-12), dim=o.get("dim"))
    dim = o.get("dim", 0)
    if name == "weight-standardization":
        return weight_standardization(layer, dim=dim, eps=o.get("eps", 1e-5), eps_mode=o.get("epsMode", "add"), scale=o.get("scale", 1.0),
                                      gain=o.get("gain", False))
    # NFNets' scaled WS: a learned gain and scale = gamma / sqrt(fan_in), fan_in every dim but `dim`.
    gamma = NONLINEARITY_GAMMA[_snake_name(o.get("nonlinearity", "identity"))]
    fan_in = layer.weight.numel() // layer.weight.shape[dim]
    return weight_standardization(layer, dim=dim, eps=o.get("eps", 1e-6), eps_mode=o.get("epsMode", "add"), scale=gamma / math.sqrt(fan_in), gain=True)


def apply_weight_parametrizations(model, weights):
    """normkit's `applyWeightParametrization` for each role of `weights`: every nn.Linear and nn.Conv2d under the role
    ('layers': the whole model) gets the parametrization."""
    for role, choice in weights.items():
        target = model if role == "layers" else model.get_submodule(role)
        for _, layer in [(n, m) for n, m in target.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]:
            weight_parametrization(layer, choice)
    return model


def build(architecture):
    """The PyTorch model of a bundle's architecture description (see the module docstring). Refuses (ValueError or
    NotImplementedError naming it) any family, option, role, input kind or plugin it does not honour."""
    _check_keys("architecture", architecture, ARCHITECTURE_KEYS)
    model = architecture.get("model") or {}
    name = model.get("name")
    data = architecture.get("data") or {}
    norms = architecture.get("norms") or {}
    weights = architecture.get("weights") or {}
    kind = data.get("inputKind")
    if name not in FAMILIES:
        raise NotImplementedError(f"models.build: the {name!r} family is not ported yet (ported: {', '.join(FAMILIES)})")
    _check_keys(f"model {name!r}", [k for k in model if k != "options"], ("name", "blockWrapper") if name == "residual" else ("name",))
    _check_keys(f"model {name!r} options", model.get("options") or {}, tuple(MODEL_OPTIONS[name]))
    _check_keys(f"model {name!r} norms (roles)", norms, NORM_ROLES[name])
    _check_keys(f"model {name!r} weights (roles)", weights, WEIGHT_ROLES[name])
    _check_keys("data", data, ("inputKind", "sampleShape", "numClasses"))
    if kind not in INPUT_KINDS[name]:
        raise NotImplementedError(f"models.build: {name} on {kind!r} inputs is not ported ({', '.join(INPUT_KINDS[name])} are)")
    o = {**MODEL_OPTIONS[name], **(model.get("options") or {})}
    shape = data["sampleShape"]
    if name == "conditional-gan":
        net = ConditionalGan(shape[0], data["numClasses"], o["latentDim"], o["width"], o["depth"], o["discriminatorWidth"],
                             o["discriminatorDepth"], o["activation"], norms.get("generator"), norms.get("discriminator"), o["generatorClassInput"])
    elif name == "ngpt":
        length, features = shape
        net = NGPTClassifier(features, length, data["numClasses"], o["dim"], o["numHeads"], o["depth"], o["feedforwardMultiplier"] * o["dim"],
                             o["alphaInit"])
    elif name == "transformer":
        if o["dim"] % o["numHeads"]:
            raise ValueError(f"models.build: transformer: expected dim divisible by numHeads, got dim = {o['dim']}, numHeads = {o['numHeads']}")
        block = norms.get("block") or {"name": "layer-norm"}
        if block.get("mask", True) is False:
            raise ValueError("models.build: norms.block: expected mask left on (the Transformer block hands the mask to every normalizer that accepts one), got mask: false")
        length, features = shape
        net = TinyTransformer(features, length, data["numClasses"], o["dim"], o["numHeads"], o["depth"], o["placement"],
                              o["feedforwardMultiplier"] * o["dim"], o["activation"], block, _qk_norm_option(norms.get("qk")),
                              norms.get("final"), o["layerScale"])
    else:
        in_features = shape[-1] if kind == "tokens" else math.prod(shape)
        if name == "mlp":
            net = Mlp(in_features, data["numClasses"], o["width"], o["depth"], o["activation"], norms.get("hidden"), kind, o["conditionFeatures"])
        elif name == "cnn":
            net = Cnn(shape[0], data["numClasses"], min(shape[1], shape[2]), o["channels"], o["stages"], o["activation"], norms.get("conv"))
        else:
            net = ResidualNet(in_features, data["numClasses"], o["width"], o["depth"], o["activation"], norms.get("block"), norms.get("final"),
                              model.get("blockWrapper"), kind)
    return apply_weight_parametrizations(net, weights)
