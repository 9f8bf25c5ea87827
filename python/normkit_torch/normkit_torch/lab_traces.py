"""The measures a lab run may trace in PyTorch (PresetRun.trace with `RunTrace.torch`): what the preset's `read`
takes from normkit's live trainer after every `every`-th step, taken from the PyTorch model at the same moment
(after the step, and after its evaluation when it has one: the model's last forward is then the evaluation's last
batch of training rows, in both runners).

    max-attention-logit   the largest |q.k / sqrt(head_dim)| over the allowed (query, key) pairs of the last forward
                          of every MultiHeadAttention (normkit's `lastMaxLogit`, read by `maxAttentionLogit`); NaN
                          when no attention layer has a finite one

    >>> measure("max-attention-logit", model)
"""
import math

from . import models

MEASURES = ("max-attention-logit",)


def check(name):
    """Raises ValueError naming the ported measures when `name` is not one of them."""
    if name not in MEASURES:
        raise ValueError(f"lab_traces: expected a measure among {', '.join(MEASURES)}, got {name!r}")


def measure(name, model):
    check(name)
    largest = math.nan
    for module in model.modules():
        value = getattr(module, "last_max_logit", math.nan) if isinstance(module, models.MultiHeadAttention) else math.nan
        if math.isfinite(value):
            largest = value if math.isnan(largest) else max(largest, value)
    return largest
