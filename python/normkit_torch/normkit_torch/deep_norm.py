"""DeepNorm's constants and initialisation, as @normkit/layer's `deepNormConstants` and `deepNormInit`."""
from torch import nn


def _layers(name, value):
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"deep_norm_constants: expected {name} to be a positive integer (a number of layers), got {name} = {value!r}")
    return value


def deep_norm_constants(architecture, layers=None, encoder_layers=None, decoder_layers=None, part=None):
    """DeepNet's (Wang et al., 2022, Figure 2) skip scale alpha and init gain beta, for N encoder and M decoder layers:

        encoder-only / decoder-only: alpha = (2N)^(1/4),          beta = (8N)^(-1/4)
        encoder-decoder, encoder:    alpha = 0.81 (N^4 M)^(1/16), beta = 0.87 (N^4 M)^(-1/16)
        encoder-decoder, decoder:    alpha = (3M)^(1/4),          beta = (12M)^(-1/4)

    Returns {"alpha", "beta"}. Also accepts normkit's dict: `deep_norm_constants(**{"architecture": ..., ...})`."""
    if architecture in ("encoder-only", "decoder-only"):
        n = _layers("layers", layers)
        return {"alpha": (2 * n) ** 0.25, "beta": (8 * n) ** -0.25}
    if architecture == "encoder-decoder":
        n, m = _layers("encoder_layers", encoder_layers), _layers("decoder_layers", decoder_layers)
        if part == "encoder":
            return {"alpha": 0.81 * (n ** 4 * m) ** (1 / 16), "beta": 0.87 * (n ** 4 * m) ** (-1 / 16)}
        if part == "decoder":
            return {"alpha": (3 * m) ** 0.25, "beta": (12 * m) ** -0.25}
        raise ValueError(f"deep_norm_constants: expected part 'encoder' or 'decoder' for an encoder-decoder model, got part = {part!r}")
    raise ValueError(f"deep_norm_constants: expected architecture 'encoder-only', 'decoder-only' or 'encoder-decoder', got {architecture!r}")


def resolve_deep_norm(spec):
    """{"alpha", "beta"} as given (both finite > 0) or from normkit's architecture dict, with camelCase or snake_case keys
    ({"architecture": "encoder-only", "layers": 12}, {"architecture": "encoder-decoder", "encoderLayers": 6, ...})."""
    if not isinstance(spec, dict):
        raise ValueError(f"deep_norm: expected {{'alpha', 'beta'}} or {{'architecture', ...}}, got {spec!r}")
    if "alpha" in spec:
        for key in ("alpha", "beta"):
            value = spec.get(key)
            if not (isinstance(value, (int, float)) and value > 0 and value != float("inf")):
                raise ValueError(f"deep_norm: expected {key} to be a finite number > 0, got {key} = {value!r}")
        return {"alpha": float(spec["alpha"]), "beta": float(spec["beta"])}
    names = {"encoderLayers": "encoder_layers", "decoderLayers": "decoder_layers"}
    return deep_norm_constants(**{names.get(k, k): v for k, v in spec.items()})


def deep_norm_init(attention, feedforward, beta):
    """DeepNet's `deepnorm_init`: Xavier-normal with gain beta for the feed-forward Linears and the value and output
    projections, gain 1 for the query and key projections; biases unchanged."""
    for linear in list(feedforward) + [attention.v_proj, attention.out_proj]:
        nn.init.xavier_normal_(linear.weight, gain=beta)
    for linear in (attention.q_proj, attention.k_proj):
        nn.init.xavier_normal_(linear.weight, gain=1.0)
