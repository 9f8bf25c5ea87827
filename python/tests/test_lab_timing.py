"""normkit_torch.lab_timing, the claims lab's timing of normalizers in PyTorch (normkit's `normTiming` resource):
the protocol of normkit's timeInterleaved on a clock the test controls, the call normkit's forwardBackward makes, and
the entry point's output. The lab's side (rms-norm-speed judged on these timings) is apps/lab/src/torch-replicate.test.ts."""
import json

import pytest
import torch
from torch import nn

from normkit_torch import lab_timing
from normkit_torch.layer import RMSNorm

REQUEST = {"normalizers": ["layer-norm", "rms-norm"], "shapes": [[8, 4], [3, 5]], "pass": "forward+backward", "rounds": 3, "calls": 2, "warmup": 1}


class FakeClock:
    """Seconds that move only when a task runs: each task's call costs what the test says."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_interleaved_alternates_the_order_and_gives_ms_per_call():
    clock, log = FakeClock(), []

    def task(name, seconds):
        def call():
            log.append(name)
            clock.now += seconds
        return call

    samples = lab_timing.time_interleaved({"a": task("a", 0.001), "b": task("b", 0.003)}, rounds=3, calls=2, warmup=1, clock=clock)
    # Warm-up calls of each, then a round a-first, b-first, a-first, each task `calls` times in a row.
    assert log == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    assert samples["a"] == pytest.approx([1.0] * 3)
    assert samples["b"] == pytest.approx([3.0] * 3)


def test_a_call_resets_the_gradients_then_runs_forward_and_backward():
    torch.manual_seed(0)
    x = torch.randn(6, 4, requires_grad=True)
    upstream = torch.randn(6, 4)
    for norm, reference in ((nn.LayerNorm(4), lambda t: torch.nn.functional.layer_norm(t, (4,), eps=1e-5)),
                            (RMSNorm(4), lambda t: t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-6))):
        call = lab_timing.forward_backward(norm, x, upstream)
        call()
        call()
        expected = torch.autograd.grad(reference(x), x, upstream)[0]
        # Twice called, the gradient is one call's (accumulated it would be twice as large).
        assert torch.allclose(x.grad, expected, atol=1e-6)
        assert torch.allclose(norm.weight.grad, (upstream * reference(x).detach()).sum(0), atol=1e-5)


def test_pytorchs_layer_norm_against_normkit_torchs_rms_norm():
    # torch 1.13 has no nn.RMSNorm: the RMSNorm timed is normkit_torch's, LayerNorm PyTorch's own (fused).
    assert lab_timing.NORMALIZERS == {"layer-norm": nn.LayerNorm, "rms-norm": RMSNorm}
    assert nn.LayerNorm(4).eps == 1e-5 and RMSNorm(4).eps == 1e-6


def test_main_writes_every_shapes_samples_on_one_thread(tmp_path):
    request, out = tmp_path / "request.json", tmp_path / "out.json"
    request.write_text(json.dumps(REQUEST))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert lab_timing.main([str(request), str(out)]) == 0
        written = json.loads(out.read_text())
    finally:
        torch.set_num_threads(threads)
    assert written["torch"] == torch.__version__
    assert written["threads"] == 1
    assert written["modules"] == {"layer-norm": "torch.nn.modules.normalization.LayerNorm", "rms-norm": "normkit_torch.layer.RMSNorm"}
    assert [t["shape"] for t in written["timings"]] == REQUEST["shapes"]
    for timing in written["timings"]:
        assert sorted(timing["samples"]) == ["layer-norm", "rms-norm"]
        assert all(len(v) == REQUEST["rounds"] and all(ms > 0 for ms in v) for v in timing["samples"].values())


@pytest.mark.parametrize("change, message", [
    ({"normalizers": ["layer-norm", "batch-norm"]}, "expected normalizers a list of distinct names of"),
    ({"pass": "forward"}, "expected pass one of"),
    ({"shapes": [[8, 0]]}, "expected shapes a list of"),
    ({"rounds": 0}, "expected rounds an integer >= 1"),
])
def test_a_request_it_cannot_honour_is_refused(change, message):
    with pytest.raises(ValueError, match=message):
        lab_timing.time_normalizers({**REQUEST, **change})
