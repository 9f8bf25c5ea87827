"""normkit_torch.lab_traces: what a traced lab run (RunTrace.torch) reads from the PyTorch model. The whole path,
against normkit's own trace of qk-norm-logits, is apps/lab/src/torch-replicate.test.ts."""
import math

import pytest
import torch

from normkit_torch import lab
from normkit_torch import lab_traces
from normkit_torch import models


def reference_max_logit(attention, x, mask):
    """normkit's maxAbsLogit, pair by pair: the largest |q.k / sqrt(d)| over the real keys (0 when none; NaN skipped)."""
    n, length, _ = x.shape
    h, d = attention.num_heads, attention.head_dim
    with torch.no_grad():
        q = attention.q_proj(x).reshape(n, length, h, d)
        k = attention.k_proj(x).reshape(n, length, h, d)
    best = 0.0
    for b in range(n):
        for head in range(h):
            for i in range(length):
                for j in range(length):
                    if mask is not None and float(mask[b, j]) == 0:
                        continue
                    value = abs(float((q[b, i, head] * k[b, j, head]).sum()) / math.sqrt(d))
                    if value > best:
                        best = value
    return best


def test_attention_records_the_largest_logit_over_real_keys_of_its_last_forward():
    torch.manual_seed(0)
    attention = models.MultiHeadAttention(8, 2)
    assert math.isnan(attention.last_max_logit)
    x = torch.randn(3, 4, 8) * 2
    # The mask pads out the key of the largest logit (and more), so leaving padded keys in would show.
    with torch.no_grad():
        q = attention.q_proj(x).reshape(3, 4, 2, 4).permute(0, 2, 1, 3)
        k = attention.k_proj(x).reshape(3, 4, 2, 4).permute(0, 2, 1, 3)
        top = int((q @ k.transpose(-1, -2)).abs().reshape(-1).argmax())
    sample, key = top // (2 * 4 * 4), top % 4
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 1]], dtype=torch.float32)
    mask[sample, key] = 0
    mask[sample, (key + 1) % 4] = 1
    attention(x, mask)
    assert attention.last_max_logit == pytest.approx(reference_max_logit(attention, x, mask), rel=1e-5)
    # Padded keys are left out: without the mask the largest logit is another one here.
    assert attention.last_max_logit != pytest.approx(reference_max_logit(attention, x, None), rel=1e-3)
    attention(x[:1])
    assert attention.last_max_logit == pytest.approx(reference_max_logit(attention, x[:1], None), rel=1e-5)


def test_the_max_attention_logit_measure_is_the_largest_over_every_attention_layer():
    torch.manual_seed(0)
    model = models.build({"model": {"name": "transformer", "options": {"dim": 8, "numHeads": 2, "depth": 2}}, "norms": {"block": {"name": "layer-norm"}},
                          "weights": {}, "data": {"inputKind": "tokens", "sampleShape": [4, 3], "numClasses": 2}})
    assert math.isnan(lab_traces.measure("max-attention-logit", model)), "no forward yet: NaN, as normkit's maxAttentionLogit"
    model(torch.randn(2, 4, 3), torch.ones(2, 4))
    values = [block.self_attn.last_max_logit for block in model.blocks]
    assert lab_traces.measure("max-attention-logit", model) == max(values)
    with pytest.raises(ValueError, match="lab_traces: expected a measure among max-attention-logit, got 'grad-norm'"):
        lab_traces.measure("grad-norm", model)


def test_a_run_tracing_a_measure_that_is_not_ported_is_refused_with_the_reason(tmp_path):
    with pytest.raises(lab.Unsupported, match="trace 'gradNorm': lab_traces: expected a measure among max-attention-logit, got 'grad-norm'"):
        lab.prepare(str(tmp_path), {"task": "classification", "gradientTransforms": [], "trace": {"every": 2, "measures": {"gradNorm": "grad-norm"}}})
