"""The newer normalizers of normkit_torch beyond the hand-off fixtures (those prove parity with normkit): float64
references written out, keys, helpers, schedules and refusals."""
import math

import pytest
import torch

import normkit_torch as nt
from normkit_torch import models


def test_batch_renorm_is_algorithm_1_with_r_and_d_constant_in_backward():
    torch.manual_seed(0)
    bn = nt.BatchRenorm(3, momentum=0.3, rmax=1.2, dmax=0.2, dtype=torch.float64)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -0.4, 0.0], dtype=torch.float64))
        bn.running_var.copy_(torch.tensor([0.3, 2.0, 1.0], dtype=torch.float64))
        bn.weight.copy_(torch.tensor([1.5, 0.5, -1.0], dtype=torch.float64))
    x = torch.randn(6, 3, 4, dtype=torch.float64, requires_grad=True)
    mu, var = x.mean((0, 2)), x.var((0, 2), unbiased=False)
    sigma_b, sigma = torch.sqrt(var + bn.eps), torch.sqrt(bn.running_var + bn.eps)
    r = torch.clamp(sigma_b / sigma, 1 / 1.2, 1.2).detach()
    d = torch.clamp((mu - bn.running_mean) / sigma, -0.2, 0.2).detach()
    assert bool((r == 1.2).any() and (r == 1 / 1.2).any() and (d.abs() == 0.2).any())  # the clips bite
    view = lambda t: t.reshape(1, 3, 1)  # noqa: E731
    reference = view(bn.weight) * ((x - view(mu)) / view(sigma_b) * view(r) + view(d)) + view(bn.bias)
    expected_mean = bn.running_mean + 0.3 * (mu.detach() - bn.running_mean)
    moved_sigma = sigma + 0.3 * (sigma_b.detach() - sigma)
    y = bn(x)
    assert torch.allclose(y, reference, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, g, retain_graph=True)
    (rx,) = torch.autograd.grad(reference, x, g)
    assert torch.allclose(gx, rx, rtol=1e-12, atol=1e-12)
    assert torch.allclose(bn.running_mean, expected_mean, rtol=1e-13)
    assert torch.allclose(bn.running_var, moved_sigma ** 2 - bn.eps, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    assert torch.allclose(bn(x), torch.nn.functional.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps))
    # r and d are constants by design, so the numerical Jacobian differs wherever they move; with rmax 1 and dmax 0
    # they are exactly 1 and 0 (BatchNorm) and gradcheck covers the rest of the backward.
    assert torch.autograd.gradcheck(lambda t: nt.BatchRenorm(3, rmax=1, dmax=0, dtype=torch.float64)(t), (x.detach().requires_grad_(),))


def test_batch_renorm_warm_up_schedule_and_refusals():
    paper = nt.PAPER_RENORM_SCHEDULE
    assert nt.renorm_clips_at(0, **paper) == (1.0, 1.0, 0.0)
    assert nt.renorm_clips_at(4999, **paper) == (1.0, 1.0, 0.0)
    rmin, rmax, dmax = nt.renorm_clips_at(5000 + 17500, **paper)
    assert rmax == pytest.approx(2.0) and rmin == pytest.approx(0.5) and dmax == pytest.approx(5.0 * 17500 / 20000)
    assert nt.renorm_clips_at(40000, **paper) == (pytest.approx(1 / 3), 3.0, 5.0)
    # Relaxed at or before the warm-up's end: the final values at once.
    assert nt.renorm_clips_at(3, rmax=2, rmin=0.7, dmax=1, warmup_steps=3) == (0.7, 2.0, 1.0)
    bn = nt.BatchRenorm(2, warmup_steps=2)
    bn(torch.randn(4, 2))
    assert bn.current_clips() == (1.0, 1.0, 0.0)
    bn(torch.randn(4, 2))
    assert bn.current_clips() == (pytest.approx(1 / 3), 3.0, 5.0)
    for bad in ({"rmax": 0.5}, {"rmin": 1.5}, {"dmax": -1}, {"warmup_steps": 1.5}, {"momentum": 2}, {"eps": 0}):
        with pytest.raises(ValueError, match="BatchRenorm: expected"):
            nt.BatchRenorm(2, **bad)
    # A refused call changes nothing.
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(torch.randn(1, 2))
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())


def test_convert_sync_refuses_batch_renorm_and_changes_nothing():
    model = torch.nn.Sequential(torch.nn.BatchNorm1d(2), nt.BatchRenorm(2))
    with pytest.raises(ValueError, match="BatchRenorm at '1'"):
        nt.convert_sync(model)
    assert type(model[0]) is torch.nn.BatchNorm1d and model[1].all_reduce is None


def test_frozen_batch_norm_keys_freeze_unfreeze_and_torchvision_loading():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3), torch.nn.Sequential(nt.BatchNorm(3)))
    model.train()
    model(torch.randn(4, 2, 3, 3))
    model.eval()
    x = torch.randn(2, 2, 3, 3)
    expected = model(x)
    checkpoint = model.state_dict()
    frozen = nt.freeze_batch_norm(model)
    assert isinstance(frozen[1], nt.FrozenBatchNorm) and isinstance(frozen[2][0], nt.FrozenBatchNorm)
    assert sorted(frozen[1].state_dict()) == ["bias", "running_mean", "running_var", "weight"]
    assert [n for n, _ in frozen.named_parameters()] == ["0.weight", "0.bias"]
    frozen.train()  # training mode changes nothing: the eval formula
    assert torch.allclose(frozen(x), expected, rtol=1e-6, atol=1e-6)
    # A BatchNorm checkpoint loads strictly: num_batches_tracked is dropped, nested too (torchvision's rule).
    frozen.load_state_dict(checkpoint, strict=True)
    back = nt.unfreeze_batch_norm(frozen)
    assert isinstance(back[1], nt.BatchNorm) and int(back[1].num_batches_tracked) == 0
    back.eval()
    assert torch.allclose(back(x), expected, rtol=1e-6, atol=1e-6)
    root = nt.freeze_batch_norm(torch.nn.BatchNorm1d(2))
    assert isinstance(root, nt.FrozenBatchNorm)
    keep = torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2, track_running_stats=False))
    with pytest.raises(ValueError, match="module '1' with track_running_stats=False. Nothing was changed"):
        nt.freeze_batch_norm(keep)
    assert type(keep[0]) is torch.nn.BatchNorm1d
    masked = nt.FrozenBatchNorm(2)(torch.randn(3, 2, 4), mask=torch.tensor([[1, 1, 0, 0]] * 3))
    assert torch.equal(masked[:, :, 2:], torch.zeros(3, 2, 2))


def test_local_response_norm_is_torchs_on_3d_and_takes_2d():
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    ours = nt.LocalResponseNorm(size=4, alpha=0.3, beta=0.6, k=1.5)
    theirs = torch.nn.LocalResponseNorm(4, 0.3, 0.6, 1.5)
    assert torch.equal(ours(x), theirs(x))
    v = torch.randn(3, 7, dtype=torch.float64)
    assert torch.equal(ours(v), theirs(v.unsqueeze(2)).squeeze(2))
    # The formula written out, channels outside [0, C) as zeros: window [c - 2, c + 1] for size 4.
    padded = torch.nn.functional.pad(v * v, (2, 1))
    window = torch.stack([padded[:, c:c + 4].sum(1) for c in range(7)], 1)
    assert torch.allclose(ours(v), v * (1.5 + 0.3 / 4 * window) ** -0.6, rtol=1e-13)
    with pytest.raises(ValueError, match="rank 2 or more"):
        ours(torch.randn(5))


def test_evo_norms_written_out_and_b0_running_variance():
    torch.manual_seed(2)
    x = torch.randn(3, 4, 2, 2, dtype=torch.float64)
    s0 = nt.EvoNormS0(4, groups=2, dtype=torch.float64)
    with torch.no_grad():
        s0.v.copy_(torch.tensor([0.5, 1.0, -1.0, 2.0], dtype=torch.float64))
    groups = x.reshape(3, 2, 8)
    std = torch.sqrt(groups.var(-1, unbiased=False) + 1e-5).repeat_interleave(2, 1).reshape(3, 4, 1, 1)
    assert torch.allclose(s0(x), x * torch.sigmoid(s0.v.reshape(1, 4, 1, 1) * x) / std, rtol=1e-13)
    assert sorted(s0.state_dict()) == ["bias", "v", "weight"]
    with pytest.raises(ValueError, match="groups dividing num_features = 4"):
        nt.EvoNormS0(4, groups=3)
    b0 = nt.EvoNormB0(4, momentum=0.2, dtype=torch.float64)
    assert sorted(b0.state_dict()) == ["bias", "running_var", "v", "weight"]
    y = b0(x)
    batch_std = torch.sqrt(x.var((0, 2, 3), unbiased=False) + 1e-3).reshape(1, 4, 1, 1)
    instance = x + torch.sqrt(x.var((2, 3), unbiased=False, keepdim=True) + 1e-3)
    assert torch.allclose(y, x / torch.maximum(batch_std, instance), rtol=1e-13)
    assert torch.allclose(b0.running_var, 0.8 + 0.2 * x.var((0, 2, 3), unbiased=True), rtol=1e-13)
    b0.eval()
    eval_std = torch.sqrt(b0.running_var + 1e-3).reshape(1, 4, 1, 1)
    assert torch.allclose(b0(x), x / torch.maximum(eval_std, instance), rtol=1e-13)


def test_l2_scale_layer_scale_and_dyt():
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    assert torch.allclose(nt.L2Norm()(x), torch.nn.functional.normalize(x, dim=-1), rtol=1e-14)
    assert torch.allclose(nt.L2Norm(axes=1, p=3)(x), torch.nn.functional.normalize(x, p=3, dim=1), rtol=1e-13)
    both = nt.L2Norm(axes=(-2, -1))(x)
    assert torch.allclose(both.pow(2).sum((-2, -1)), torch.ones(2, dtype=torch.float64))
    assert torch.equal(nt.L2Norm()(torch.zeros(2, 3)), torch.zeros(2, 3))
    scale = nt.ScaleNorm(4, dtype=torch.float64)
    assert list(scale.state_dict()) == ["scale"] and scale.scale.dim() == 0 and float(scale.scale) == 2.0
    assert torch.allclose(scale(x), 2 * torch.nn.functional.normalize(x, dim=-1, eps=1e-5), rtol=1e-14)
    ls = nt.LayerScale(4, init_values=0.1)
    assert list(ls.state_dict()) == ["gamma"] and torch.equal(ls.gamma, torch.full((4,), 0.1))
    dyt = nt.DynamicTanh(4, alpha_init=0.7, dtype=torch.float64)
    assert sorted(dyt.state_dict()) == ["alpha", "bias", "weight"] and list(dyt.alpha.shape) == [1]
    assert torch.allclose(dyt(x), torch.tanh(0.7 * x), rtol=1e-15)
    assert list(nt.DynamicTanh(4, elementwise_affine=False).state_dict()) == ["alpha"]
    for module, bad in ((nt.ScaleNorm(4), torch.randn(2, 5)), (nt.LayerScale(4), torch.randn(4, 3)), (nt.DynamicTanh(4), torch.randn(2, 3))):
        with pytest.raises(ValueError, match=f"{type(module).__name__}: expected an input ending with \\[4\\]"):
            module(bad)


@pytest.mark.parametrize("norm_type", ["layer", "rms", "group"])
def test_element_masks_take_statistics_over_unmasked_elements_only(norm_type):
    torch.manual_seed(3)
    x = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(2, 4, 6) > 0.4).to(torch.float64)
    mask[0, 0] = 0  # a fully masked row stays finite
    if norm_type == "layer":
        norm = nt.LayerNorm(6, dtype=torch.float64)
    elif norm_type == "rms":
        norm = nt.RMSNorm(6, eps=1e-5, dtype=torch.float64)
    else:
        norm = nt.GroupNorm(2, 4, dtype=torch.float64)
    with torch.no_grad():
        for p in norm.parameters():
            p.add_(torch.randn_like(p))
    y = norm(x, mask=mask)
    # Garbage where masked changes nothing, and masked elements get no gradient.
    garbage = x.detach().clone()
    garbage[mask == 0] = 1e6
    assert torch.allclose(norm(garbage, mask=mask), y, rtol=1e-12, atol=1e-12)
    y.backward(torch.randn_like(y))
    assert bool(torch.isfinite(x.grad).all()) and bool((x.grad[mask == 0] == 0).all())
    # All ones is no mask at all.
    ones = torch.ones_like(mask)
    plain = norm(x) if norm_type != "group" else torch.nn.functional.group_norm(x, 2, norm.weight, norm.bias, norm.eps)
    assert torch.allclose(norm(x, mask=ones), plain, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: norm(t, mask=mask), (x.detach().requires_grad_(),))
    with pytest.raises(ValueError, match="expected a mask of shape"):
        norm(x, mask=torch.ones(2, 6, 4))


def test_layer_norm_bias_false_and_row_masks():
    norm = nt.LayerNorm(4, bias=False)
    norm.reset_parameters()
    assert list(norm.state_dict()) == ["weight"]
    x = torch.randn(2, 3, 4)
    y = norm(x, mask=torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    assert torch.equal(y[0, 2], torch.zeros(4)) and torch.allclose(y[0, 0], torch.nn.functional.layer_norm(x[0, 0], (4,), norm.weight))


def test_deep_norm_constants_and_init():
    assert nt.deep_norm_constants("decoder-only", layers=48) == {"alpha": 96 ** 0.25, "beta": 384 ** -0.25}
    enc = nt.deep_norm_constants("encoder-decoder", encoder_layers=6, decoder_layers=6, part="encoder")
    assert enc == {"alpha": pytest.approx(0.81 * (6 ** 5) ** (1 / 16)), "beta": pytest.approx(0.87 * (6 ** 5) ** (-1 / 16))}
    assert nt.deep_norm_constants("encoder-decoder", encoder_layers=6, decoder_layers=6, part="decoder") == {"alpha": 18 ** 0.25, "beta": 72 ** -0.25}
    with pytest.raises(ValueError, match="expected layers to be a positive integer"):
        nt.deep_norm_constants("encoder-only", layers=0)
    torch.manual_seed(4)
    block = nt.TransformerBlock(64, 4, {"name": "layer-norm"}, "deepnorm", 256, deep_norm={"architecture": "encoder-only", "layers": 100})
    beta = 800 ** -0.25
    assert block.deep_norm == {"alpha": 200 ** 0.25, "beta": beta}

    def std(linear):
        return float(linear.weight.std())

    xavier = lambda linear, gain: gain * math.sqrt(2 / sum(linear.weight.shape))  # noqa: E731
    for linear in (block.linear1, block.linear2, block.self_attn.v_proj, block.self_attn.out_proj):
        assert std(linear) == pytest.approx(xavier(linear, beta), rel=0.1)
    for linear in (block.self_attn.q_proj, block.self_attn.k_proj):
        assert std(linear) == pytest.approx(xavier(linear, 1.0), rel=0.1)
    with pytest.raises(ValueError, match="deep_norm only with placement 'deepnorm'"):
        nt.TransformerBlock(8, 2, {"name": "layer-norm"}, "pre", deep_norm={"alpha": 2, "beta": 0.5})


def test_residual_placements_and_refusals():
    torch.manual_seed(5)
    f = torch.nn.Linear(4, 4, dtype=torch.float64)
    norm, post = nt.RMSNorm(4, dtype=torch.float64), nt.RMSNorm(4, dtype=torch.float64)
    with torch.no_grad():
        post.weight.mul_(3)
    ls = nt.LayerScale(4, 0.5, dtype=torch.float64)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    assert torch.equal(nt.Residual(f, norm, "pre")(x), x + f(norm(x)))
    assert torch.equal(nt.Residual(f, norm, "post", layer_scale=ls)(x), norm(x + ls(f(x))))
    assert torch.equal(nt.Residual(f, norm, "peri", output_norm=post)(x), x + post(f(norm(x))))
    assert torch.equal(nt.Residual(f, norm, "output")(x), x + norm(f(x)))
    assert torch.equal(nt.Residual(f, norm, "deepnorm", alpha=2.5)(x), norm(x * 2.5 + f(x)))
    keys = sorted(nt.Residual(f, norm, "peri", output_norm=post, layer_scale=ls).state_dict())
    assert keys == ["layer_scale.gamma", "norm.weight", "output_norm.weight", "sublayer.bias", "sublayer.weight"]
    gated = nt.Residual(f, nt.AdaLNZero(4, 3, dtype=torch.float64), "pre", gate=True)
    assert torch.equal(gated(x, condition=torch.randn(2, 3, dtype=torch.float64)), x)  # adaLN-Zero starts as the identity
    for kwargs, message in (({"placement": "peri"}, "output_norm"), ({"placement": "deepnorm"}, "alpha, a finite number"),
                            ({"placement": "pre", "alpha": 2.0}, "alpha only with placement 'deepnorm'"),
                            ({"placement": "sandwich"}, "expected placement"), ({"placement": "pre", "gate": True}, "gated normalizer")):
        with pytest.raises(ValueError, match=message):
            nt.Residual(f, norm, **kwargs)


def test_ngpt_keeps_marked_weights_on_the_sphere_and_its_keys():
    torch.manual_seed(6)
    block = nt.NGPTBlock(8, 2, 12)
    keys = sorted(block.state_dict())
    assert keys == ["alpha_attn", "alpha_mlp", "mlp_out.weight", "mlp_u.weight", "mlp_v.weight", "self_attn.k_proj.weight",
                    "self_attn.out_proj.weight", "self_attn.q_proj.weight", "self_attn.v_proj.weight", "sqk", "su", "sv"]
    inputs = [block.self_attn.q_proj, block.self_attn.k_proj, block.self_attn.v_proj, block.mlp_u, block.mlp_v]
    outputs = [block.self_attn.out_proj, block.mlp_out]

    def on_sphere():
        return all(torch.allclose(m.weight.norm(dim=1), torch.ones(m.weight.shape[0])) for m in inputs) and all(
            torch.allclose(m.weight.norm(dim=0), torch.ones(m.weight.shape[1])) for m in outputs)

    assert on_sphere()
    h = torch.nn.functional.normalize(torch.randn(2, 5, 8), dim=-1)
    y = block(h, mask=torch.tensor([[1.0, 1, 1, 0, 0], [1, 1, 1, 1, 1]]), causal=True)
    assert torch.allclose(y.norm(dim=-1), torch.ones(2, 5))
    optimizer = torch.optim.SGD(block.parameters(), lr=0.5)
    y.sum().backward()
    optimizer.step()
    assert not on_sphere()
    assert nt.normalize_marked_weights(block) == 7 and on_sphere()
    hook = nt.ngpt_weight_normalization(block)
    with torch.no_grad():
        block.mlp_u.weight.mul_(3)
    hook(optimizer, (), {})
    assert on_sphere()
    with pytest.raises(ValueError, match="expected dim divisible by num_heads"):
        nt.NGPTBlock(8, 3)


def test_models_map_the_newer_normalizers_by_plugin_name():
    built = {name: models.normalizer({"name": name}, 4) for name in
             ("batch-renorm", "frozen-batch-norm", "local-response-norm", "evo-norm-b0", "l2-norm", "scale-norm", "layer-scale", "dyt")}
    assert [type(m).__name__ for m in built.values()] == ["BatchRenorm", "FrozenBatchNorm", "LocalResponseNorm", "EvoNormB0", "L2Norm",
                                                          "ScaleNorm", "LayerScale", "DynamicTanh"]
    # As normkit: EvoNorm-S0's default 32 groups must divide the channels.
    with pytest.raises(ValueError, match="groups dividing num_features = 4"):
        models.normalizer({"name": "evo-norm-s0"}, 4)
    assert models.normalizer({"name": "evo-norm-s0", "options": {"groups": 2}}, 4).groups == 2
    assert built["batch-renorm"].momentum == 0.01 and built["batch-renorm"].rmax == 3.0
    assert built["layer-scale"].init_values == 1e-5 and built["dyt"].alpha_init == 0.5 and built["scale-norm"].eps == 1e-5
    renorm = models.normalizer({"name": "batch-renorm", "options": {"warmupSteps": 5, "rmaxRelaxedAt": 9}}, 4)
    assert (renorm.warmup_steps, renorm.rmax_relaxed_at) == (5, 9)


def test_instance_norm_is_torchs_for_any_spatial_rank_and_refuses_what_normkit_refuses():
    torch.manual_seed(4)
    for shape, reference in (([3, 4, 5], torch.nn.InstanceNorm1d), ([2, 4, 3, 3], torch.nn.InstanceNorm2d), ([2, 4, 2, 2, 3], torch.nn.InstanceNorm3d)):
        for affine, track in ((False, False), (True, True)):
            mine = nt.InstanceNorm(4, momentum=0.3, affine=affine, track_running_stats=track, dtype=torch.float64)
            theirs = reference(4, momentum=0.3, affine=affine, track_running_stats=track, dtype=torch.float64)
            with torch.no_grad():
                for p in mine.parameters():
                    p.uniform_(0.5, 1.5)
            theirs.load_state_dict(mine.state_dict(), strict=True)
            x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
            y = mine(x)
            assert torch.allclose(y, theirs(x), rtol=0, atol=1e-13)
            if track:
                assert torch.allclose(mine.running_var, theirs.running_var, rtol=0, atol=1e-15) and int(mine.num_batches_tracked) == 0
                mine.eval(), theirs.eval()
                assert torch.allclose(mine(x), theirs(x), rtol=0, atol=1e-13)
    assert torch.autograd.gradcheck(nt.InstanceNorm(2, affine=True, dtype=torch.float64), (torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True),))
    with pytest.raises(ValueError, match="expected more than 1 spatial element per channel"):
        nt.InstanceNorm(3)(torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"expected \[N, 3, \*spatial\] with a spatial dim, got \[2, 3\]"):
        nt.InstanceNorm(3)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expected eps > 0"):
        nt.InstanceNorm(3, eps=0)


def test_models_map_the_playgrounds_third_party_dynamic_tanh_plugin_as_dyt():
    """examples/plugin-dyt's `dynamic-tanh` (registered by the playground) is DyT with the same options and keys."""
    torch.manual_seed(2)
    third_party = models.normalizer({"name": "dynamic-tanh", "options": {"alphaInit": 0.8, "dtype": "float64"}}, 4)
    dyt = models.normalizer({"name": "dyt", "options": {"alphaInit": 0.8, "dtype": "float64"}}, 4)
    assert type(third_party) is nt.DynamicTanh and list(third_party.state_dict()) == ["alpha", "weight", "bias"]
    dyt.load_state_dict(third_party.state_dict(), strict=True)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    assert torch.equal(third_party(x), dyt(x)) and float(third_party.alpha) == 0.8
    assert list(models.normalizer({"name": "dynamic-tanh", "options": {"elementwiseAffine": False}}, 4).state_dict()) == ["alpha"]
    slot = models.NormSlot({"name": "dynamic-tanh"}, 3, "image")
    y = slot(torch.randn(2, 3, 2, 2))  # channels-last: over C of [N, H, W, C]
    assert y.shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match="normalizer 'dynamic-tanh': .* unknown 'alpha'"):
        models.normalizer({"name": "dynamic-tanh", "options": {"alpha": 1}}, 4)


def test_ngpt_family_offers_its_post_step_hook_like_normkits_post_step_hooks():
    model = models.build({"model": {"name": "ngpt", "options": {"dim": 4, "numHeads": 2, "depth": 1}}, "norms": {}, "weights": {},
                          "data": {"inputKind": "tokens", "sampleShape": [3, 2], "numClasses": 2}})
    with torch.no_grad():
        model.head.weight.mul_(3)
        model.embed.weight.mul_(2)
    [hook] = model.post_step_hooks()
    hook(None, (), {})
    assert torch.allclose(model.head.weight.norm(dim=1), torch.ones(2)) and torch.allclose(model.embed.weight.norm(dim=0), torch.ones(2))
