"""normkit_torch.lab_taps: normkit's activation-tap statistics on the PyTorch models (the placement presets' stream
growth reads them). The whole path, against normkit's own taps, is apps/lab/src/torch-replicate.test.ts."""
import math

import pytest
import torch
import torch.nn.functional as F

from normkit_torch import lab
from normkit_torch import lab_taps
from normkit_torch import models
from test_lab import ARCHITECTURE, _export


def reference_stats(x, mask=None):
    """tap.ts's loop, element by element in float64 (position i // width of the mask)."""
    values = x.detach().double().reshape(-1).tolist()
    width = len(values) // (mask.numel() if mask is not None else 1)
    kept = [v for i, v in enumerate(values) if mask is None or float(mask.reshape(-1)[i // width]) != 0]
    if not kept:
        return {"mean": math.nan, "std": math.nan}
    mean = sum(kept) / len(kept)
    return {"mean": mean, "std": math.sqrt(max(0.0, sum(v * v for v in kept) / len(kept) - mean * mean))}


def tokens_architecture(depth=3, placement="peri"):
    return {
        "model": {"name": "transformer", "options": {"dim": 8, "numHeads": 2, "depth": depth, "placement": placement}},
        "norms": {"block": {"name": "layer-norm"}},
        "weights": {},
        "data": {"inputKind": "tokens", "sampleShape": [5, 3], "numClasses": 2},
    }


def test_activation_stats_leave_padded_positions_out_as_normkits_tap_does():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 4, generator=g) * 3 + 1
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
    for m in (None, mask):
        got, want = lab_taps.activation_stats(x, m), reference_stats(x, m)
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-12)
        assert got["std"] == pytest.approx(want["std"], rel=1e-12)
    # Masking matters here: the padded values change both numbers.
    assert lab_taps.activation_stats(x, mask)["std"] != pytest.approx(lab_taps.activation_stats(x)["std"], rel=1e-3)
    none = lab_taps.activation_stats(x, torch.zeros(3, 5))
    assert math.isnan(none["mean"]) and math.isnan(none["std"])


def test_transformer_taps_are_the_residual_stream_after_each_block_and_record_only_when_asked():
    torch.manual_seed(0)
    model = models.build(tokens_architecture())
    taps = lab_taps.ActivationTaps(model)
    x = torch.randn(4, 5, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.float32)
    model(x, mask)
    assert taps.read() == {}, "nothing is recorded outside recording()"
    with taps.recording(mask):
        model(x, mask)
    model(x[:2], mask[:2])  # a later forward outside recording() changes nothing
    got = taps.read()
    assert list(got) == ["blocks.0", "blocks.1", "blocks.2"]
    with torch.no_grad():
        h = model.embed(x) + model.position
        for i, block in enumerate(model.blocks):
            h = block(h, mask)
            want = reference_stats(h, mask)
            assert got[f"blocks.{i}"]["mean"] == pytest.approx(want["mean"], rel=1e-9, abs=1e-12)
            assert got[f"blocks.{i}"]["std"] == pytest.approx(want["std"], rel=1e-9)


def test_cnn_taps_sit_after_the_activation_before_the_pooling():
    torch.manual_seed(0)
    model = models.build({"model": {"name": "cnn", "options": {"channels": 2, "stages": 2}}, "norms": {"conv": {"name": "batch-norm"}},
                          "weights": {}, "data": {"inputKind": "image", "sampleShape": [1, 8, 8], "numClasses": 3}})
    taps = lab_taps.ActivationTaps(model)
    x = torch.randn(3, 1, 8, 8)
    with taps.recording():
        model(x)
    got = taps.read()
    assert list(got) == ["stages.0", "stages.1"]
    with torch.no_grad():
        h = x
        for i, stage in enumerate(model.stages):
            y = F.relu(stage.norm(stage.conv(h)))
            assert got[f"stages.{i}"]["std"] == pytest.approx(reference_stats(y)["std"], rel=1e-6)
            h = F.max_pool2d(y, 2)


def test_a_family_without_known_taps_is_refused_by_name():
    gan = models.build({"model": {"name": "conditional-gan", "options": {}}, "norms": {}, "weights": {},
                        "data": {"inputKind": "vector", "sampleShape": [2], "numClasses": 8}})
    assert not lab_taps.supported(gan)
    with pytest.raises(ValueError, match="lab_taps: expected a model of a family with normkit's activation taps .* got ConditionalGan"):
        lab_taps.ActivationTaps(gan)


def test_the_runner_reports_the_last_probe_steps_training_forward_with_each_evaluation(tmp_path):
    model, data, order = _export(tmp_path, ARCHITECTURE)
    run = lab.run_all(str(tmp_path))["runs"]["p/0/r"]
    assert [sorted(e["activations"]) for e in run["evals"]] == [["layers.0"], ["layers.0"]]
    # By hand: the same steps; the statistics of the hidden layer's output in the training forward of steps 3 and 6.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    outputs, expected = [], []
    model.layers[0].register_forward_hook(lambda _m, _i, output: outputs.append(output.detach().clone()))
    for step, index in enumerate(order.long(), start=1):
        loss = F.cross_entropy(model(data["train.inputs"][index]), data["train.labels"][index].long())
        if step % 3 == 0:
            expected.append(reference_stats(outputs[-1]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    for event, want in zip(run["evals"], expected):
        assert event["activations"]["layers.0"]["std"] == pytest.approx(want["std"], rel=1e-6)
        assert event["activations"]["layers.0"]["mean"] == pytest.approx(want["mean"], rel=1e-6)
