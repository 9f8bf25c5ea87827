"""normkit's `importance` probe for the lab runner: what @normkit/experiments' Trainer reads from every module with
an `importance()` method at each evaluation (`EvalEvent.probes.importance`, packages/experiments/src/probes.ts),
here for Switchable Norm (Luo et al., 2019), whose importance is normkit's SwitchableNorm.importance():

    {"mean": {"instance": p_0, "layer": p_1, "batch": p_2}, "variance": {...}},  p = softmax(mean_weight) (resp. var_weight)

(float64; no "batch" entry with using_batch_stats=False), keyed by the module's path, which normkit_torch.models names
as normkit does (`stages.0.norm.switchable-norm`). A model with another module that has an importance (the
normalizer mixture, whose probe normkit shapes differently) gets None: the lab then returns no probes for its runs,
and an analysis that reads them is not replicated.

    >>> importance_probes(model)   # {"stages.0.norm.switchable-norm": {"mean": {...}, "variance": {...}}, ...}
"""
import torch

from .switchable import SwitchableNorm

STATISTICS = ("instance", "layer", "batch")


def _named_softmax(logits):
    p = torch.softmax(logits.detach().to(torch.float64), 0).tolist()
    return dict(zip(STATISTICS, p))


def importance_probes(model):
    """Every SwitchableNorm's importance by module path, or None when another module of `model` has an importance."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, SwitchableNorm):
            out[name] = {"mean": _named_softmax(module.mean_weight), "variance": _named_softmax(module.var_weight)}
        elif callable(getattr(module, "importance", None)):
            return None
    return out
