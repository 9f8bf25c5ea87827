"""Behaviour of normkit_torch modules beyond the parity fixtures: keys, bookkeeping and refusals."""
import math

import pytest
import torch

import normkit_torch as nt


def test_normalizer_mixture_refuses_a_mask_some_candidate_cannot_take_and_collapses_to_the_argmax():
    x = torch.randn(4, 3, 5)
    # EvoNorm-S0 takes no mask (normkit's traits: acceptsMask false); GroupNorm does, as normkit's group-norm.
    refusing = nt.mixture_of(3, ["batch-norm", {"candidate": "evo-norm-s0", "options": {"groups": 1}}])
    with pytest.raises(ValueError, match=r"expected no mask \(candidate\(s\) EvoNormS0 accept none\)"):
        refusing(x, mask=torch.ones(4, 5))
    mix = nt.mixture_of(3, ["batch-norm", {"candidate": "group-norm", "options": {"numGroups": 1}}])
    mask = torch.ones(4, 5)
    mask[:, 3:] = 0
    masked = mix(x, mask=mask)
    assert torch.equal(masked[:, :, 3:], torch.zeros(4, 3, 2))
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([0.2, 0.7]))
    assert mix.collapse() is mix.candidates[1]
    mix.hard = True
    assert torch.equal(mix(x), mix.candidates[1](x))
    only_batch = nt.mixture_of(3, ["batch-norm", "batch-norm"])
    assert only_batch(x, mask=torch.ones(4, 5)).shape == x.shape


def test_nf_residual_blocks_track_the_variance_and_use_normkits_skip_gain_key():
    blocks = nt.nf_residual_blocks([torch.nn.Linear(4, 4) for _ in range(3)], alpha=0.2, skip_init=True)
    assert [b.beta for b in blocks] == pytest.approx([1, math.sqrt(1.04), math.sqrt(1.08)])
    assert "skipGain" in blocks[0].state_dict()
    x = torch.randn(2, 4)
    assert torch.equal(blocks[0](x), x)  # skipGain starts at 0: the identity
    with pytest.raises(ValueError, match="either beta"):
        nt.NFResidualBlock(torch.nn.Linear(4, 4), beta=1.0, expected_variance=1.0)


def test_weight_standardization_keys_and_identity_right_inverse():
    conv = nt.weight_standardization(torch.nn.Conv2d(2, 3, 2), gain=True)
    assert sorted(conv.state_dict()) == ["bias", "parametrizations.weight.0.gain", "parametrizations.weight.original"]
    w = conv.weight
    dims = (1, 2, 3)
    assert torch.allclose(w.mean(dims), torch.zeros(3), atol=1e-6)
    with torch.no_grad():
        conv.weight = w.detach().clone()  # assigning stores the value; it reads back standardized again
    assert torch.equal(conv.parametrizations.weight.original, w.detach())
    # w has variance var / (var + eps), not exactly 1, so the second standardization moves it by O(eps / var).
    assert torch.allclose(conv.weight, w, rtol=1e-3)
    with pytest.raises(ValueError, match="eps_mode"):
        nt.weight_standardization(torch.nn.Linear(2, 2), eps_mode="min")


def test_row_masks_are_checked():
    with pytest.raises(ValueError, match=r"RMSNorm: expected a mask of shape \[2, 3\]"):
        nt.RMSNorm(4)(torch.randn(2, 3, 4), mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="mask values 1"):
        nt.RMSNorm(4)(torch.randn(2, 3, 4), mask=torch.full((2, 3), 0.5))
