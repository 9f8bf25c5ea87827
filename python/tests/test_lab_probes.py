"""normkit_torch.lab_probes: normkit's `importance` probe (switchable-norm-selection reads it) on the PyTorch models.
The whole path, against normkit's own probe, is the lab's `--torch` run of switchable-norm-selection."""
import math

import pytest
import torch

from normkit_torch import lab
from normkit_torch import lab_probes
from normkit_torch import models
from normkit_torch import safetensors as st
from test_lab import _export


def cnn(norm):
    return models.build({"model": {"name": "cnn", "options": {"channels": 2, "stages": 2}}, "norms": {"conv": norm}, "weights": {},
                         "data": {"inputKind": "image", "sampleShape": [1, 8, 8], "numClasses": 3}})


def softmax(values):
    """The reference: exp(v - max) / sum, in float64 (normkit's softmaxOf)."""
    top = max(values)
    e = [math.exp(v - top) for v in values]
    return [x / sum(e) for x in e]


def test_switchable_norm_importance_is_the_softmax_of_its_weights_by_normkits_module_path():
    model = cnn({"name": "switchable-norm"})
    with torch.no_grad():
        model.stages[0].norm.get_submodule("switchable-norm").mean_weight.copy_(torch.tensor([0.5, -1.0, 2.0]))
        model.stages[1].norm.get_submodule("switchable-norm").var_weight.copy_(torch.tensor([3.0, 0.0, -0.25]))
    got = lab_probes.importance_probes(model)
    assert list(got) == ["stages.0.norm.switchable-norm", "stages.1.norm.switchable-norm"]
    for (layer, kind), logits in {("stages.0.norm.switchable-norm", "mean"): [0.5, -1.0, 2.0], ("stages.0.norm.switchable-norm", "variance"): [1.0, 1.0, 1.0],
                                  ("stages.1.norm.switchable-norm", "variance"): [3.0, 0.0, -0.25]}.items():
        want = dict(zip(("instance", "layer", "batch"), softmax(logits)))
        assert got[layer][kind] == pytest.approx(want, rel=1e-12)


def test_a_model_without_importance_has_an_empty_probe_and_an_unported_one_none():
    assert lab_probes.importance_probes(cnn({"name": "batch-norm"})) == {}
    mixture = cnn({"name": "normalizer-mixture"})
    assert lab_probes.importance_probes(mixture) is None


def test_the_runner_reports_the_importance_after_each_evaluations_step(tmp_path):
    _export(tmp_path, {"model": {"name": "mlp", "options": {"width": 4, "depth": 1, "activation": "relu"}}, "norms": {"hidden": {"name": "batch-norm"}},
                       "weights": {}, "data": {"inputKind": "vector", "sampleShape": [3], "numClasses": 2}})
    run = lab.run_all(str(tmp_path))["runs"]["p/0/r"]
    assert [e["probes"]["importance"] for e in run["evals"]] == [{}, {}]


def test_running_stats_are_every_modules_own_running_buffers_by_normkits_module_path():
    model = cnn({"name": "batch-norm"})
    with torch.no_grad():
        model.stages[1].norm.get_submodule("batch-norm").running_mean.copy_(torch.tensor([0.25, -2.0, 1.5, 3.0]))
    got = lab_probes.running_stats(model)
    assert list(got) == ["stages.0.norm.batch-norm", "stages.1.norm.batch-norm"]
    assert got["stages.1.norm.batch-norm"] == {"mean": [0.25, -2.0, 1.5, 3.0], "var": [1.0] * 4}
    assert lab_probes.running_stats(cnn({"name": "group-norm", "options": {"numGroups": 1}})) == {}


def test_the_runner_reports_the_running_stats_after_each_evaluations_step_and_the_last_are_the_trained_buffers(tmp_path):
    """An evaluation's running statistics are the model's after that step (the evaluation itself restores them), so the
    last evaluation's are the trained state dict's."""
    _export(tmp_path, {"model": {"name": "mlp", "options": {"width": 4, "depth": 1, "activation": "relu"}}, "norms": {"hidden": {"name": "batch-norm"}},
                       "weights": {}, "data": {"inputKind": "vector", "sampleShape": [3], "numClasses": 2}})
    run = lab.run_all(str(tmp_path))["runs"]["p/0/r"]
    first, last = (e["probes"]["runningStats"]["layers.0.norm.batch-norm"] for e in run["evals"])
    assert first != last
    trained = st.load_file(tmp_path / run["trained"])
    assert last == {"mean": trained["layers.0.norm.batch-norm.running_mean"].tolist(), "var": trained["layers.0.norm.batch-norm.running_var"].tolist()}
