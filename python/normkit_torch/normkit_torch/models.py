"""The model families of normkit's playground and lab (@normkit/experiments), as PyTorch modules with the
same state-dict keys, built from a bundle's architecture description:

    {"model": {"name": "mlp", "options": {"width": 32, "depth": 3, "activation": "relu"}},
     "norms": {"hidden": {"name": "batch-norm", "options": {"momentum": 0.1}}},
     "weights": {}, "data": {"inputKind": "vector", "sampleShape": [6], "numClasses": 3}}

(what `saveBundle({ architecture: { model, norms, weights, data } })` stores from an experiment config).
Families ported: `mlp`, `cnn`, `residual` (plain, NF and SkipInit blocks) on vector and image inputs,
`conditional-gan` (conditional normalizers: conditional-batch-norm, film, ada-ln) and `transformer` (tokens
with a padding mask; any mapped block norm, placements pre, post, peri, output and deepnorm, QK-norm).
Not yet: token inputs for mlp and residual, and weight parametrizations on the families. A normalization slot holds its normalizer as a child
named after the normkit plugin (`layers.0.norm.batch-norm.running_mean`), as normkit's NormSlot does.
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
from .group_norm import GroupNorm
from .l2_norm import L2Norm, ScaleNorm
from .layer import AdaLN, AdaLNZero, LayerNorm, RMSNorm
from .layer_scale import LayerScale
from .local_response_norm import LocalResponseNorm
from .residuals import Residual


def _options(choice):
    return dict(choice.get("options") or {})


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _snake(options):
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in options.items()}


# Conditional normalizers: what their forward takes from the slot's context (normkit's traits).
TAKES = {"conditional-batch-norm": "labels", "film": "condition", "ada-ln": "condition", "ada-ln-zero": "condition"}


def normalizer(choice, features, dtype=None, condition_dim=None, num_classes=None):
    """The normkit_torch (or torch) module of a normkit normalizer plugin choice {"name", "options"} (normkit's
    camelCase options and defaults) over `features` channels; `dtype` unless the options set one. Conditional
    normalizers need the slot's `condition_dim` (film, ada-ln) or `num_classes` (conditional-batch-norm)."""
    name = choice["name"]
    o = _options(choice)
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
    if name == "batch-norm":
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
}

MAPPED = {"batch-norm", "ghost-batch-norm", "layer-norm", "rms-norm", "group-norm", "conditional-batch-norm", "film", "ada-ln",
          "ada-ln-zero", *_SNAKE_CASE}

# Normalizers that normalise the last axis (normkit traits layout 'channels-last'); the others take [N, C, *].
CHANNELS_LAST = {"layer-norm", "rms-norm", "ada-ln", "ada-ln-zero", "l2-norm", "scale-norm", "layer-scale", "dyt"}
# Normalizers that take a padding mask (normkit traits acceptsMask), and those whose statistics span the batch.
ACCEPTS_MASK = {"batch-norm", "ghost-batch-norm", "batch-renorm", "frozen-batch-norm", "group-norm", "layer-norm", "rms-norm", "ada-ln", "ada-ln-zero"}
BATCH_DEPENDENT = {"batch-norm", "ghost-batch-norm", "batch-renorm", "evo-norm-b0"}


class NormSlot(nn.Module):
    """normkit's NormSlot: the normalizer is the child named after its plugin ('none' is the identity). On
    images [N, C, H, W] a channels-last normalizer sees [N, H, W, C] (per-pixel LayerNorm, as in ConvNeXt)."""

    def __init__(self, choice, features, layout="features", condition_dim=None, num_classes=None):
        super().__init__()
        self.plugin = (choice or {"name": "none"})["name"]
        self.layout = layout
        if self.plugin != "none":
            self.add_module(self.plugin, normalizer(choice, features, condition_dim=condition_dim, num_classes=num_classes))

    def forward(self, x, condition=None, labels=None):
        if self.plugin == "none":
            return x
        norm = getattr(self, self.plugin)
        if self.plugin in TAKES:
            return norm(x, condition if TAKES[self.plugin] == "condition" else labels)
        if self.layout == "image" and self.plugin in CHANNELS_LAST:
            return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return norm(x)


_ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}


class DenseLayer(nn.Module):
    """Linear -> normalizer -> activation (keys `linear.*`, `norm.<plugin>.*`)."""

    def __init__(self, in_features, out_features, choice, activation, condition_dim=None, num_classes=None):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = NormSlot(choice, out_features, condition_dim=condition_dim, num_classes=num_classes)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x, condition=None, labels=None):
        return self.activation(self.norm(self.linear(x), condition, labels))


class Mlp(nn.Module):
    """@normkit/experiments' `mlp`: `depth` DenseLayers of `width` units and a Linear `head`; images are flattened."""

    def __init__(self, in_features, out_features, width=32, depth=3, activation="relu", norm=None):
        super().__init__()
        choice = norm or {"name": "none"}
        sizes = [in_features] + [width] * depth
        self.layers = nn.ModuleList(DenseLayer(a, b, choice, activation) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], out_features)

    def forward(self, x):
        h = x.flatten(1)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)


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

    def __init__(self, width, choice, activation):
        super().__init__()
        self.norm1 = NormSlot(choice, width)
        self.linear1 = nn.Linear(width, width)
        self.norm2 = NormSlot(choice, width)
        self.linear2 = nn.Linear(width, width)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return self.linear2(self.activation(self.norm2(self.linear1(self.activation(self.norm1(x))))))


class PlainResidualBlock(nn.Module):
    """y = x + f(x)."""

    def __init__(self, branch):
        super().__init__()
        self.branch = branch

    def forward(self, x):
        return x + self.branch(x)


def _wrap_block(wrapper, branch, index):
    from .norm_free import NFResidualBlock, SkipInit

    name = (wrapper or {}).get("name", "plain")
    options = (wrapper or {}).get("options") or {}
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
    `final_norm`, activation, Linear `head`; images are flattened."""

    def __init__(self, in_features, num_classes, width=32, depth=4, activation="relu", block_norm=None, final_norm=None, block_wrapper=None):
        super().__init__()
        self.stem = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(_wrap_block(block_wrapper, ResidualBranch(width, block_norm, activation), i) for i in range(depth))
        self.final_norm = NormSlot(final_norm, width)
        self.head = nn.Linear(width, num_classes)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        h = self.stem(x.flatten(1))
        for block in self.blocks:
            h = block(h)
        return self.head(self.activation(self.final_norm(h)))


class ConditionalMlp(nn.Module):
    """The GAN's generator and discriminator: the input concatenated with the one-hot class, DenseLayers whose
    conditional normalizers get the one-hot class as condition (film, ada-ln) or the ids (conditional-batch-norm)."""

    def __init__(self, in_features, out_features, width, depth, norm, activation, num_classes):
        super().__init__()
        self.num_classes = num_classes
        sizes = [in_features + num_classes] + [width] * depth
        self.layers = nn.ModuleList(DenseLayer(a, b, norm, activation, condition_dim=num_classes, num_classes=num_classes)
                                    for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], out_features)

    def forward(self, x, labels):
        labels = torch.as_tensor(labels).long()
        condition = F.one_hot(labels, self.num_classes).to(x.dtype)
        h = torch.cat([x, condition], 1)
        for layer in self.layers:
            h = layer(h, condition, labels)
        return self.head(h)


class ConditionalGan(nn.Module):
    """@normkit/experiments' `conditional-gan`: children `generator` and `discriminator` (ConditionalMlp);
    forward(z, labels) generates."""

    def __init__(self, data_dim, num_classes, latent_dim=4, width=64, depth=2, discriminator_width=64, discriminator_depth=2,
                 activation="relu", generator_norm=None, discriminator_norm=None):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = ConditionalMlp(latent_dim, data_dim, width, depth, generator_norm, activation, num_classes)
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
    query row without any real key gets zero weights."""

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
        row_has_key = None
        if mask is not None or causal:
            keep = torch.ones(n, 1, length, length, dtype=torch.bool)
            if mask is not None:
                keep = keep & (mask.reshape(n, 1, 1, length) == 1)
            if causal:
                keep = keep & torch.ones(length, length, dtype=torch.bool).tril()
            has_key = keep.any(-1, keepdim=True)
            logits = logits.masked_fill(~(keep | ~has_key), float("-inf"))
            row_has_key = has_key.to(x.dtype)
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
    Keys `self_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`, `norm1_post`, `norm2_post`, `norm_embed`, `ls1`, `ls2`."""

    def __init__(self, dim, num_heads, norm, placement="pre", feedforward_dim=None, activation="gelu", qk_norm=None,
                 deep_norm=None, layer_scale=None, embedding_norm=False, condition_dim=None):
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
        self.self_attn = MultiHeadAttention(dim, num_heads, qk_norm)
        self.linear1 = nn.Linear(dim, feedforward_dim)
        self.linear2 = nn.Linear(feedforward_dim, dim)
        make = lambda: normalizer(norm, dim, condition_dim=condition_dim)  # noqa: E731
        self.norm1, self.norm2 = make(), make()
        if placement == "peri":
            self.norm1_post, self.norm2_post = make(), make()
        self.norm_embed = make() if embedding_norm else None
        if layer_scale is not None:
            self.ls1, self.ls2 = LayerScale(dim, layer_scale), LayerScale(dim, layer_scale)
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
                 activation="gelu", block_norm=None, qk_norm=None, final_norm=None):
        super().__init__()
        self.embed = nn.Linear(in_features, dim)
        self.position = nn.Parameter(torch.zeros(max_length, dim))
        # DeepNorm: DeepNet's encoder-only alpha and beta for `depth` blocks, as normkit's transformer family.
        deep_norm = {"architecture": "encoder-only", "layers": depth} if placement == "deepnorm" else None
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, block_norm or {"name": "layer-norm"}, placement, feedforward_dim, activation, qk_norm,
                                                     deep_norm=deep_norm)
                                    for _ in range(depth))
        self.final_norm = NormSlot(final_norm, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x, mask=None):
        h = self.embed(x) + self.position
        for block in self.blocks:
            h = block(h, mask)
        # Per-token final norms: padded tokens are left out by the pooling below.
        h = self.final_norm(h)
        if mask is None:
            return self.head(h.mean(1))
        m = mask.to(h.dtype).unsqueeze(2)
        return self.head((h * m).sum(1) / m.sum(1).clamp_min(1))


def _qk_norm_option(choice):
    if not choice or choice["name"] == "none":
        return None
    if choice["name"] != "qk-norm":
        raise ValueError(f"models: norms.qk must be 'none' or 'qk-norm', got {choice['name']!r}")
    o = _options(choice)
    return {"kind": o.get("kind", "layer"), "eps": o.get("eps")}


FAMILIES = ("mlp", "cnn", "residual", "conditional-gan", "transformer")


def build(architecture):
    """The PyTorch model of a bundle's architecture description (see the module docstring)."""
    model = architecture.get("model") or {}
    name = model.get("name")
    data = architecture.get("data") or {}
    norms = architecture.get("norms") or {}
    kind = data.get("inputKind")
    if architecture.get("weights"):
        raise NotImplementedError("models.build: weight parametrizations on the families are not ported yet")
    if name not in FAMILIES:
        raise NotImplementedError(f"models.build: the {name!r} family is not ported yet (ported: {', '.join(FAMILIES)})")
    if name == "conditional-gan":
        o = {"latentDim": 4, "width": 64, "depth": 2, "discriminatorWidth": 64, "discriminatorDepth": 2, "activation": "relu",
             **(model.get("options") or {})}
        return ConditionalGan(data["sampleShape"][0], data["numClasses"], o["latentDim"], o["width"], o["depth"], o["discriminatorWidth"],
                              o["discriminatorDepth"], o["activation"], norms.get("generator"), norms.get("discriminator"))
    if name == "transformer":
        if kind != "tokens":
            raise NotImplementedError(f"models.build: transformer takes 'tokens' inputs, got {kind!r}")
        o = {"dim": 16, "numHeads": 2, "depth": 2, "placement": "pre", "feedforwardMultiplier": 2, "activation": "gelu", **(model.get("options") or {})}
        length, features = data["sampleShape"]
        return TinyTransformer(features, length, data["numClasses"], o["dim"], o["numHeads"], o["depth"], o["placement"],
                               o["feedforwardMultiplier"] * o["dim"], o["activation"], norms.get("block"), _qk_norm_option(norms.get("qk")),
                               norms.get("final"))
    if kind not in ("vector", "image"):
        raise NotImplementedError(f"models.build: {name} on {kind!r} inputs is not ported (vector and image are)")
    shape = data["sampleShape"]
    in_features = 1
    for d in shape:
        in_features *= d
    if name == "mlp":
        o = {"width": 32, "depth": 3, "activation": "relu", "conditionFeatures": 0, **(model.get("options") or {})}
        if o["conditionFeatures"]:
            raise NotImplementedError("models.build: mlp with conditionFeatures (condition inputs for conditional normalizers) is not ported yet")
        return Mlp(in_features, data["numClasses"], o["width"], o["depth"], o["activation"], norms.get("hidden"))
    if name == "cnn":
        o = {"channels": 8, "stages": 2, "activation": "relu", **(model.get("options") or {})}
        return Cnn(shape[0], data["numClasses"], min(shape[1], shape[2]), o["channels"], o["stages"], o["activation"], norms.get("conv"))
    o = {"width": 32, "depth": 4, "activation": "relu", **(model.get("options") or {})}
    return ResidualNet(in_features, data["numClasses"], o["width"], o["depth"], o["activation"], norms.get("block"), norms.get("final"),
                       model.get("blockWrapper"))
