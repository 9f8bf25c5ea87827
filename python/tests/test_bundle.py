"""Training bundles on the PyTorch side (normkit_torch.bundle); the cross-framework round trip
(normkit -> PyTorch DDP -> normkit) is tools/torch-handoff/src/round-trip.test.ts."""
import json
import math

import pytest
import torch

from normkit_torch import bundle as nb
from normkit_torch import models

ARCHITECTURE = {
    "model": {"name": "mlp", "options": {"width": 8, "depth": 2, "activation": "tanh"}},
    "norms": {"hidden": {"name": "batch-norm", "options": {"momentum": 0.2}}},
    "weights": {},
    "data": {"inputKind": "vector", "sampleShape": [5], "numClasses": 3},
}
SCHEDULE = {"type": "LinearWarmup", "warmup_steps": 2, "start_factor": 0.1,
            "then": {"type": "CosineAnnealingLR", "t_max": 6, "eta_min": 1e-4}}


def batches(n):
    g = torch.Generator().manual_seed(5)
    return [(torch.randn(6, 5, generator=g), torch.randint(0, 3, (6,), generator=g)) for _ in range(n)]


def start():
    torch.manual_seed(0)
    model = models.build(ARCHITECTURE)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=1e-3)
    return model, optimizer, nb.ClosedFormLR(optimizer, SCHEDULE)


def train(model, optimizer, scheduler, data):
    losses = []
    model.train()
    for x, y in data:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        losses.append(float(loss))
    return losses


def test_continuing_from_a_bundle_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    data = batches(8)
    straight = start()
    expected = train(*straight, data)
    first = start()
    losses = train(*first, data[:4])
    nb.save_bundle(tmp_path / "b", *first, architecture=ARCHITECTURE)
    torch.manual_seed(123)  # other initial weights: everything comes from the bundle
    model = models.build(ARCHITECTURE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    manifest = nb.load_bundle(tmp_path / "b", model, optimizer)
    scheduler = nb.scheduler_from_bundle(optimizer, manifest)
    assert scheduler.last_epoch == 4 and optimizer.param_groups[0]["lr"] == first[1].param_groups[0]["lr"]
    losses += train(model, optimizer, scheduler, data[4:])
    assert losses == expected
    for (name, p), q in zip(model.named_parameters(), straight[0].parameters()):
        assert torch.equal(p, q), name
    assert int(model.layers[0].norm.get_submodule("batch-norm").num_batches_tracked) == 8


def test_manifest_and_files_use_normkit_names(tmp_path):
    model, optimizer, scheduler = start()
    train(model, optimizer, scheduler, batches(3))
    manifest = nb.save_bundle(tmp_path / "b", model, optimizer, scheduler, architecture=ARCHITECTURE)
    on_disk = json.loads((tmp_path / "b" / nb.MANIFEST).read_text())
    assert on_disk == manifest and on_disk["producer"] == "normkit_torch" and on_disk["architecture"] == ARCHITECTURE
    assert on_disk["scheduler"] == {"last_step": 3, "schedule": SCHEDULE}
    group = on_disk["optimizer"]["param_groups"][0]
    assert group["params"][:4] == ["layers.0.linear.weight", "layers.0.linear.bias", "layers.0.norm.batch-norm.weight", "layers.0.norm.batch-norm.bias"]
    assert group["betas"] == [0.9, 0.999] and group["weight_decay"] == 1e-3 and group["initial_lr"] == 0.05
    assert on_disk["optimizer"]["state"]["head.bias"] == {"step": 3}
    _, tensors, moments = nb.read_bundle(tmp_path / "b")
    assert tensors["layers.1.norm.batch-norm.num_batches_tracked"].dtype == torch.int64  # I64, as PyTorch keeps it
    assert set(moments) == {f"{n}.{f}" for n, _ in model.named_parameters() for f in ("exp_avg", "exp_avg_sq")}
    assert moments["head.weight.exp_avg"].dtype == torch.float64


def test_schedules_follow_normkits_closed_forms():
    fn = nb.schedule_fn(SCHEDULE)
    assert fn(0, 0.5) == 0.5 * 0.1
    assert fn(1, 0.5) == 0.5 * (0.1 + 0.9 * 1 / 2)
    assert fn(5, 0.5) == 1e-4 + (0.5 - 1e-4) * (1 + math.cos(math.pi * 3 / 6)) / 2
    seq = nb.schedule_fn({"type": "SequentialLR", "milestones": [3], "schedules": [
        {"type": "StepLR", "step_size": 1, "gamma": 0.5}, {"type": "StepLR", "step_size": 2, "gamma": 0.1}]})
    assert [seq(s, 1.0) for s in range(6)] == [1.0, 0.5, 0.25, 1.0, 1.0, 0.1]
    with pytest.raises(nb.BundleError, match="not a built-in one"):
        nb.schedule_fn(None)


def test_a_bundle_that_does_not_fit_changes_nothing(tmp_path):
    model, optimizer, scheduler = start()
    train(model, optimizer, scheduler, batches(2))
    nb.save_bundle(tmp_path / "b", model, optimizer, scheduler, architecture=ARCHITECTURE)
    torch.manual_seed(9)
    target = models.build(ARCHITECTURE)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    sgd = torch.optim.SGD(target.parameters(), lr=0.3)
    with pytest.raises(nb.BundleError, match="holds Adam state, the optimizer is SGD"):
        nb.load_bundle(tmp_path / "b", target, sgd)
    wider = models.build({**ARCHITECTURE, "model": {"name": "mlp", "options": {"width": 9, "depth": 2}}})
    with pytest.raises(nb.BundleError, match="has shape"):
        nb.load_bundle(tmp_path / "b", wider, torch.optim.Adam(wider.parameters()))
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    assert sgd.param_groups[0]["lr"] == 0.3 and not sgd.state


def test_models_build_refuses_what_is_not_ported():
    with pytest.raises(NotImplementedError, match="'vit' family is not ported"):
        models.build({**ARCHITECTURE, "model": {"name": "vit"}})
    tokens = {"inputKind": "tokens", "sampleShape": [4, 3], "numClasses": 2}
    with pytest.raises(NotImplementedError, match="block norm 'conditional-batch-norm' is not ported"):
        models.build({**ARCHITECTURE, "model": {"name": "transformer"}, "norms": {"block": {"name": "conditional-batch-norm"}}, "data": tokens})
    # DeepNorm is ported: DeepNet's encoder-only constants for the depth, as normkit's transformer family.
    deep = models.build({**ARCHITECTURE, "model": {"name": "transformer", "options": {"placement": "deepnorm", "depth": 3}},
                         "norms": {"block": {"name": "layer-norm"}}, "data": tokens})
    assert deep.blocks[0].deep_norm == {"alpha": 6 ** 0.25, "beta": 24 ** -0.25}
    # Token inputs, conditionFeatures, InstanceNorm and weight parametrizations are ported now (tools/torch-handoff's
    # families test checks them against normkit both ways); what normkit itself refuses is refused here too.
    with pytest.raises(NotImplementedError, match=r"cnn on 'tokens' inputs is not ported \(image are\)"):
        models.build({**ARCHITECTURE, "model": {"name": "cnn"}, "norms": {}, "data": tokens})
    with pytest.raises(ValueError, match="conditionFeatures only on vector inputs and fewer than their 3 features"):
        models.build({**ARCHITECTURE, "model": {"name": "mlp", "options": {"conditionFeatures": 2}}, "data": tokens})
    with pytest.raises(ValueError, match="'conditional-batch-norm' needs class labels"):
        models.build({**ARCHITECTURE, "model": {"name": "mlp", "options": {"conditionFeatures": 2}}, "norms": {"hidden": {"name": "conditional-batch-norm"}}})
    with pytest.raises(NotImplementedError, match="normalizer 'spade' is refused: SPADE needs a segmentation map"):
        models.build({**ARCHITECTURE, "norms": {"hidden": {"name": "spade"}}})
    with pytest.raises(NotImplementedError, match="normalizer 'nope-norm' is not mapped"):
        models.build({**ARCHITECTURE, "norms": {"hidden": {"name": "nope-norm"}}})
    with pytest.raises(NotImplementedError, match="weight parametrization 'orthogonal' is not ported"):
        models.build({**ARCHITECTURE, "weights": {"layers": {"name": "orthogonal"}}})
    with pytest.raises(ValueError, match="norms.block: expected mask left on"):
        models.build({**ARCHITECTURE, "model": {"name": "transformer"}, "norms": {"block": {"name": "layer-norm", "mask": False}}, "data": tokens})


@pytest.mark.parametrize("where,architecture,message", [
    ("model option", {"model": {"name": "transformer", "options": {"layerScales": 0.1}}}, "model 'transformer' options: .* unknown 'layerScales'"),
    ("model field", {"model": {"name": "mlp", "blockWrapper": {"name": "nf-block"}}}, "model 'mlp': .* unknown 'blockWrapper'"),
    ("norm role", {"norms": {"block": {"name": "batch-norm"}}}, r"model 'mlp' norms \(roles\): .* unknown 'block'"),
    ("weight role", {"weights": {"stages": {"name": "weight-norm"}}}, r"model 'mlp' weights \(roles\): .* unknown 'stages'"),
    ("normalizer option", {"norms": {"hidden": {"name": "batch-norm", "options": {"momentun": 0.1}}}}, "normalizer 'batch-norm': .* unknown 'momentun'"),
    ("choice field", {"norms": {"hidden": {"name": "batch-norm", "masks": False}}}, "norm choice 'batch-norm': .* unknown 'masks'"),
    ("'none' option", {"norms": {"hidden": {"name": "none", "options": {"eps": 1}}}}, "norm 'none': .* unknown 'eps'"),
    ("weight option", {"weights": {"layers": {"name": "spectral-norm", "options": {"iterations": 2}}}}, "weight parametrization 'spectral-norm': .* unknown 'iterations'"),
    ("wrapper option", {"model": {"name": "residual", "blockWrapper": {"name": "nf-block", "options": {"beta": 2}}}, "norms": {}},
     "block wrapper 'nf-block': .* unknown 'beta'"),
    ("architecture field", {"optimizer": {"name": "adam"}}, "architecture: .* unknown 'optimizer'"),
    ("data field", {"data": {**ARCHITECTURE["data"], "numClass": 2}}, "data: .* unknown 'numClass'"),
    ("normalizer dtype", {"norms": {"hidden": {"name": "batch-norm", "options": {"dtype": "float16"}}}},
     "normalizer 'batch-norm': expected dtype 'float32' or 'float64', got dtype = 'float16'"),
])
def test_models_build_refuses_every_key_it_does_not_honour(where, architecture, message):
    """Nothing normkit_torch would leave out is ignored: an unknown (or not honoured) key anywhere is a ValueError
    naming it and where it was (tools/torch-handoff's families test checks every key normkit accepts is honoured)."""
    with pytest.raises(ValueError, match=message):
        models.build({**ARCHITECTURE, **architecture})
