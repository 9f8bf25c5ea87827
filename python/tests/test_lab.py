"""normkit_torch.lab, the claims lab's PyTorch runner: the pieces that must follow normkit's Trainer exactly.
The whole path (normkit exports, PyTorch trains, the lab compares) is apps/lab/src/torch-replicate.test.ts."""
import json
import math

import pytest
import torch

from normkit_torch import bundle as nb
from normkit_torch import lab
from normkit_torch import models
from normkit_torch import safetensors as st

ARCHITECTURE = {
    "model": {"name": "mlp", "options": {"width": 4, "depth": 1, "activation": "relu"}},
    "norms": {"hidden": {"name": "batch-norm"}},
    "weights": {},
    "data": {"inputKind": "vector", "sampleShape": [3], "numClasses": 2},
}


def test_accuracy_follows_normkits_first_largest_logit_rule():
    logits = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [float("nan"), 5.0, 1.0], [0.0, float("nan"), -1.0]])
    # Ties go to the first class; a NaN never wins; NaN in class 0 keeps class 0 (every comparison with it is false).
    assert lab.accuracy_of(logits, torch.tensor([0, 1, 0, 0])) == 1.0
    assert lab.accuracy_of(logits, torch.tensor([1, 2, 1, 1])) == 0.0


def test_eval_rows_are_whole_batches_when_there_are_enough():
    assert lab.eval_rows(2000, 1000, 32) == 992
    assert lab.eval_rows(50, 500, 32) == 32
    assert lab.eval_rows(20, 500, 32) == 20


def test_gradient_transforms_are_ported_or_refused_with_the_reason():
    model = models.build(ARCHITECTURE)
    for p in model.parameters():
        p.grad = torch.full_like(p, 10.0)
    lab._transform({"name": "clip-grad-norm", "options": {"maxNorm": 0.5}})(model)
    total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters()))
    assert total == pytest.approx(0.5, rel=1e-5)
    lab._transform({"name": "clip-grad-value", "options": {"value": 0.01}})(model)
    assert max(float(p.grad.abs().max()) for p in model.parameters()) <= 0.01
    # AGC with excludeFinalLayer (normkit's rule: the layer owning the last parameter with a gradient) leaves the head alone.
    for p in model.parameters():
        p.grad = torch.full_like(p, 10.0)
    lab._transform({"name": "adaptive-gradient-clip", "options": {"excludeFinalLayer": True, "clipping": 0.01}})(model)
    assert all(bool((p.grad == 10.0).all()) == name.startswith("head.") for name, p in model.named_parameters()), "only the head is left unclipped"
    assert [n for n, _ in lab._agc_clipped(model, ["layers.0.norm"], False)] == [n for n, _ in model.named_parameters() if not n.startswith("layers.0.norm.")]
    with pytest.raises(ValueError, match="exclude entries .* got 'nowhere'"):
        lab._agc_clipped(model, ["nowhere"], False)
    with pytest.raises(lab.Unsupported, match="'adaptive-gradient-clip' .*myOption.* is not ported"):
        lab._transform({"name": "adaptive-gradient-clip", "options": {"myOption": True}})
    with pytest.raises(lab.Unsupported, match="'my-transform'"):
        lab._transform({"name": "my-transform"})


def _export(tmp_path, architecture, steps=6, batch=4, schedule="constant"):
    """A one-run export as the lab writes it (bundle at step 0, data, batch order)."""
    torch.manual_seed(0)
    model = models.build(ARCHITECTURE)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    nb.save_bundle(tmp_path / "runs" / "r", model, optimizer, architecture=architecture)
    g = torch.Generator().manual_seed(1)
    data = {"train.inputs": torch.randn(12, 3, generator=g), "train.labels": torch.randint(0, 2, (12,), generator=g).double(),
            "test.inputs": torch.randn(8, 3, generator=g), "test.labels": torch.randint(0, 2, (8,), generator=g).double()}
    (tmp_path / "data").mkdir()
    st.save_file(data, tmp_path / "data" / "0.safetensors")
    order = torch.stack([torch.randperm(12, generator=g)[:batch] for _ in range(steps)]).double()
    st.save_file({"indices": order}, tmp_path / "runs" / "r" / "batches.safetensors")
    run = {"key": "p/0/r", "group": "p", "bundle": "runs/r", "data": "data/0.safetensors", "batches": "runs/r/batches.safetensors",
           "task": "classification", "steps": steps, "evalEvery": 3, "evalSamples": 8, "batchSize": batch, "gradientTransforms": [],
           "schedule": {"name": schedule, "options": {}}}
    (tmp_path / lab.RUNS_FILE).write_text(json.dumps({"format": lab.FORMAT, "version": lab.VERSION, "runs": [run]}))
    return model, data, order


def _steps_by_hand(model, data, order):
    """The exported run as a plain torch loop (SGD lr 0.1, momentum 0.9: _export's optimizer): (step, loss) after each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step, index in enumerate(order.long(), start=1):
        loss = torch.nn.functional.cross_entropy(model(data["train.inputs"][index]), data["train.labels"][index].long())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        yield step, float(loss)


def test_a_run_trains_as_a_plain_torch_loop_and_evaluations_change_nothing(tmp_path):
    model, data, order = _export(tmp_path, ARCHITECTURE)
    out = lab.run_all(str(tmp_path))
    assert out["groups"] == {"p": {"status": "trained", "reason": None}}
    run = out["runs"]["p/0/r"]
    assert run["status"] == "done" and run["completedSteps"] == 6 and [e["step"] for e in run["evals"]] == [3, 6]
    # The same steps by hand: evaluations in between (eval mode, then train mode with buffers restored) leave no trace.
    assert run["losses"] == [loss for _, loss in _steps_by_hand(model, data, order)]
    final = run["evals"][-1]
    model.eval()
    with torch.no_grad():
        logits = model(data["test.inputs"])
    assert final["test"]["accuracy"] == lab.accuracy_of(logits, data["test.labels"].long())
    assert final["test"]["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, data["test.labels"].long())), rel=1e-6)


def test_each_run_returns_its_trained_state_dict_in_normkits_keys_and_dtypes(tmp_path):
    """What the lab loads into the same normkit model for analyses that read the trained model: the weights and buffers
    after the last step (not the bundle's step-0 ones), counters as F64 (normkit reads no integer tensors)."""
    model, data, order = _export(tmp_path, ARCHITECTURE)
    initial = {name: t.clone() for name, t in model.state_dict().items()}
    out = lab.run_all(str(tmp_path))
    run = out["runs"]["p/0/r"]
    assert run["trained"] == "runs/r/trained.safetensors"
    trained = st.load_file(tmp_path / run["trained"])
    assert sorted(trained) == sorted(initial)
    assert all(t.is_floating_point() for t in trained.values())
    assert not torch.equal(trained["head.weight"], initial["head.weight"].to(trained["head.weight"].dtype))
    # The same steps by hand end at the same weights.
    for _ in _steps_by_hand(model, data, order):
        pass
    for name, value in model.state_dict().items():
        assert torch.equal(trained[name], value.to(trained[name].dtype)), name


def test_a_trace_without_measures_saves_the_state_dict_after_each_traced_step(tmp_path):
    """RunTrace.read without RunTrace.torch: the lab runs the preset's own read on these state dicts in normkit."""
    model, data, order = _export(tmp_path, ARCHITECTURE)
    spec = json.loads((tmp_path / lab.RUNS_FILE).read_text())
    spec["runs"][0]["trace"] = {"every": 2, "measures": {}, "snapshots": True}
    (tmp_path / lab.RUNS_FILE).write_text(json.dumps(spec))
    run = lab.run_all(str(tmp_path))["runs"]["p/0/r"]
    assert run["trace"] == {}
    assert [step for step, _ in run["snapshots"]] == [2, 4, 6]
    for step, _ in _steps_by_hand(model, data, order):
        if step % 2 == 0:
            saved = st.load_file(tmp_path / dict(run["snapshots"])[step])
            assert sorted(saved) == sorted(model.state_dict())
            for name, value in model.state_dict().items():
                assert torch.equal(saved[name], value.to(saved[name].dtype)), (step, name)
    spec["runs"][0]["trace"] = {"every": 2, "measures": {}, "snapshots": False}
    (tmp_path / lab.RUNS_FILE).write_text(json.dumps(spec))
    assert "snapshots" not in lab.run_all(str(tmp_path))["runs"]["p/0/r"]


GAN = {"model": {"name": "conditional-gan", "options": {"latentDim": 2, "width": 4, "depth": 1, "discriminatorWidth": 4, "discriminatorDepth": 1}},
       "norms": {"generator": {"name": "batch-norm"}}, "weights": {}, "data": {"inputKind": "vector", "sampleShape": [2], "numClasses": 2}}


def _export_gan(tmp_path, steps=4, batch=4, gradient_transforms=()):
    """A one-run conditional-GAN export as the lab writes it: two bundles (one per optimizer), data, batch order, noise."""
    torch.manual_seed(0)
    model = models.build(GAN)
    for net, path in ((model.generator, tmp_path / "runs" / "g"), (model.discriminator, tmp_path / "runs" / "g" / "discriminator")):
        nb.save_bundle(path, model, torch.optim.Adam(net.parameters(), lr=0.01), architecture=GAN)
    g = torch.Generator().manual_seed(1)
    data = {"train.inputs": torch.randn(12, 2, generator=g), "train.labels": torch.randint(0, 2, (12,), generator=g).double(),
            "test.inputs": torch.randn(8, 2, generator=g), "test.labels": torch.randint(0, 2, (8,), generator=g).double()}
    st.save_file(data, tmp_path / "data.safetensors")
    order = torch.stack([torch.randperm(12, generator=g)[:batch] for _ in range(steps)]).double()
    noise = torch.randn(steps, 2, batch, 2, generator=g)
    st.save_file({"indices": order}, tmp_path / "runs" / "g" / "batches.safetensors")
    st.save_file({"noise": noise}, tmp_path / "runs" / "g" / "noise.safetensors")
    run = {"key": "p/0/g", "group": "p", "bundle": "runs/g", "discriminatorBundle": "runs/g/discriminator", "noise": "runs/g/noise.safetensors",
           "data": "data.safetensors", "batches": "runs/g/batches.safetensors", "task": "conditional-generation", "steps": steps, "evalEvery": 2,
           "evalSamples": 8, "batchSize": batch, "gradientTransforms": list(gradient_transforms), "schedule": {"name": "constant", "options": {}}}
    (tmp_path / lab.RUNS_FILE).write_text(json.dumps({"format": lab.FORMAT, "version": lab.VERSION, "runs": [run]}))
    return model, data, order.long(), noise


def test_a_conditional_gan_trains_as_normkits_gan_step_on_the_exported_noise(tmp_path):
    """Trainer.ganStep: the discriminator on real (1) and generated (0, z = noise[step, 0], no gradient into the
    generator), then the generator's -log D(G(z)) with z = noise[step, 1], the discriminator's gradients from it dropped;
    its state dict after every evaluated step is returned for normkit to evaluate."""
    model, data, order, noise = _export_gan(tmp_path)
    out = lab.run_all(str(tmp_path))
    assert out["groups"]["p"] == {"status": "trained", "reason": None}
    run = out["runs"]["p/0/g"]
    assert run["status"] == "done" and run["evals"] == [] and [step for step, _ in run["evalSnapshots"]] == [2, 4]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    g_optimizer, d_optimizer = torch.optim.Adam(model.generator.parameters(), lr=0.01), torch.optim.Adam(model.discriminator.parameters(), lr=0.01)
    model.train()
    expected = []
    for step, index in enumerate(order):
        x, y = data["train.inputs"][index], data["train.labels"][index].long()
        with torch.no_grad():
            fake = model.generate(noise[step, 0], y)
        real_logits, fake_logits = model.discriminate(x, y), model.discriminate(fake, y)
        (bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))).backward()
        d_optimizer.step()
        d_optimizer.zero_grad()
        logits = model.discriminate(model.generate(noise[step, 1], y), y)
        loss = bce(logits, torch.ones_like(logits))
        loss.backward()
        g_optimizer.step()
        g_optimizer.zero_grad()
        d_optimizer.zero_grad()
        expected.append(float(loss))
    assert run["losses"] == expected
    for path in (dict(run["evalSnapshots"])[4], run["trained"]):
        saved = st.load_file(tmp_path / path)
        for name, value in model.state_dict().items():
            assert torch.equal(saved[name], value.to(saved[name].dtype)), (path, name)


def test_a_conditional_gan_with_gradient_transforms_is_refused(tmp_path):
    _export_gan(tmp_path, gradient_transforms=[{"name": "clip-grad-norm", "options": {"maxNorm": 1}}])
    out = lab.run_all(str(tmp_path))
    assert out["runs"] == {} and out["groups"]["p"]["status"] == "unsupported"
    assert "gradient transforms on a conditional-generation run" in out["groups"]["p"]["reason"]


def test_a_group_with_a_part_normkit_torch_lacks_is_reported_and_not_trained(tmp_path):
    _export(tmp_path, {**ARCHITECTURE, "norms": {"hidden": {"name": "my-norm"}}})
    out = lab.run_all(str(tmp_path))
    assert out["runs"] == {}
    assert out["groups"]["p"]["status"] == "unsupported"
    assert "p/0/r: models: normalizer 'my-norm' is not mapped" in out["groups"]["p"]["reason"]


def test_an_option_set_away_from_normkits_default_that_is_not_ported_is_refused():
    run = {"norms": {"hidden": {"name": "group-norm"}}, "nonDefault": {"model": {"width": 8}, "norms": {"hidden": {"numGroups": 2}}}}
    lab.check_options(run, "mlp")
    with pytest.raises(lab.Unsupported, match="option\\(s\\) myOption .* are not ported"):
        lab.check_options({**run, "nonDefault": {"model": {"myOption": 3}}}, "mlp")
    with pytest.raises(lab.Unsupported, match="norms.hidden \\(group-norm\\): option\\(s\\) groupSize"):
        lab.check_options({**run, "nonDefault": {"norms": {"hidden": {"groupSize": 4}}}}, "mlp")


def test_init_from_copies_every_entry_but_the_excepted_through_the_renamed_segments():
    """PresetRun.initFrom (run-preset.ts's initializeFrom): a BatchNorm run's weights and running statistics into a
    FrozenBatchNorm run, the head left fresh; a name the source lacks copies nothing."""
    torch.manual_seed(0)
    source = models.build(ARCHITECTURE)
    with torch.no_grad():
        for b in source.buffers():
            b.add_(torch.rand_like(b.double()).to(b.dtype) + 1)
    target = models.build({**ARCHITECTURE, "norms": {"hidden": {"name": "frozen-batch-norm"}}})
    head = target.head.weight.detach().clone()
    spec = {"key": "p/0/pretrain", "except": ["head"], "rename": {"frozen-batch-norm": "batch-norm"}}
    lab.initialize_from(target, source, spec, "p/0/frozen")
    state, copied = source.state_dict(), target.state_dict()
    for name, value in copied.items():
        if name.startswith("head."):
            continue
        assert torch.equal(value, state[name.replace("frozen-batch-norm", "batch-norm")]), name
    assert torch.equal(target.head.weight, head)
    before = {name: v.clone() for name, v in target.state_dict().items()}
    with pytest.raises(ValueError, match="initFrom of p/0/frozen: .*names it lacks: layers.0.norm.frozen-batch-norm.weight"):
        lab.initialize_from(target, source, {**spec, "rename": {}}, "p/0/frozen")
    assert all(torch.equal(v, before[name]) for name, v in target.state_dict().items())


def test_the_models_post_step_hooks_run_after_every_optimizer_step(tmp_path):
    """normkit's optimizer runs the model's postStepHooks inside step(): nGPT's weights stay on the unit sphere."""
    torch.manual_seed(0)
    model = models.build({"model": {"name": "ngpt", "options": {"dim": 8, "numHeads": 2, "depth": 1}}, "norms": {}, "weights": {},
                          "data": {"inputKind": "tokens", "sampleShape": [4, 3], "numClasses": 2}})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    g = torch.Generator().manual_seed(1)
    data = {"train.inputs": torch.randn(8, 4, 3, generator=g), "train.labels": torch.randint(0, 2, (8,), generator=g).double(),
            "test.inputs": torch.randn(4, 4, 3, generator=g), "test.labels": torch.randint(0, 2, (4,), generator=g).double()}
    st.save_file(data, tmp_path / "data.safetensors")
    st.save_file({"indices": torch.stack([torch.randperm(8, generator=g)[:4] for _ in range(3)]).double()}, tmp_path / "batches.safetensors")
    run = {"key": "p/0/n", "data": "data.safetensors", "batches": "batches.safetensors", "steps": 3, "evalEvery": 3, "evalSamples": 4, "batchSize": 4}
    out = lab.train_run(str(tmp_path), run, (model, optimizer, scheduler, []))
    assert out["status"] == "done" and out["completedSteps"] == 3
    assert torch.allclose(model.head.weight.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(model.embed.weight.norm(dim=0), torch.ones(3), atol=1e-5)
