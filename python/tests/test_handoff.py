"""normkit_torch replays the fixtures normkit writes (tools/torch-handoff/src/produce.ts), run in this session."""
import json
import os
import subprocess

import pytest

import handoff_harness as h
from normkit_torch import safetensors as st

SPEC = h.load_cases()
PARAMS = [(c["name"], d) for c in SPEC["cases"] for d in h.dtypes_of(c)]


@pytest.fixture(scope="session")
def normkit_fixtures(tmp_path_factory):
    """normkit writes the fixtures now (node + tsx against the TypeScript sources): never stale. A
    missing node or a failing script fails the tests; nothing is skipped."""
    out = tmp_path_factory.mktemp("normkit-fixtures")
    tsx = os.path.join(h.ROOT, "node_modules", ".bin", "tsx")
    script = os.path.join(h.ROOT, "tools", "torch-handoff", "src", "produce.ts")
    subprocess.run([tsx, "--conditions=source", script, str(out)], check=True, cwd=h.ROOT, timeout=120,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return out


@pytest.mark.parametrize("name,dtype_name", PARAMS)
def test_normkit_fixture_replays_in_torch(normkit_fixtures, name, dtype_name):
    case = next(c for c in SPEC["cases"] if c["name"] == name)
    with open(os.path.join(normkit_fixtures, h.fixture_name(case, dtype_name)), "rb") as f:
        raw = f.read()
    tensors, metadata = st.parse(raw)
    assert metadata["producer"] == "normkit"
    assert json.loads(metadata["case"]) == case
    # Our writer reproduces normkit's file byte for byte (same layout, order, padding).
    assert st.save(tensors, metadata) == raw
    h.check(case, dtype_name, tensors)


def test_every_case_runs_in_both_dtypes():
    """Every case runs in float64 (tight tolerance) and float32, TransformerBlock included (normkit's `dtype` option)."""
    assert all(h.dtypes_of(c) == list(h.DTYPES) for c in SPEC["cases"])
    assert sum(c["module"] == "TransformerBlock" for c in SPEC["cases"]) >= 5
    assert len(PARAMS) == 2 * len(SPEC["cases"]) >= 2 * 71


@pytest.mark.parametrize("name", ["batch_norm_masked", "batch_norm_cumulative"])
def test_normkit_batch_norm_state_loads_into_torch_batchnorm(normkit_fixtures, name):
    """normkit's BatchNorm state (float64 counter) loads strictly into torch's own nn.BatchNorm, whose
    eval output then equals normkit's eval output without a mask."""
    import torch

    case = next(c for c in SPEC["cases"] if c["name"] == name)
    tensors = st.load_file(os.path.join(normkit_fixtures, h.fixture_name(case, "float64")))
    final = {k[len("final."):]: v for k, v in tensors.items() if k.startswith("final.")}
    bn = torch.nn.BatchNorm1d(case["options"]["numFeatures"], dtype=torch.float64)
    bn.load_state_dict(st.to_module_dtypes(final, bn), strict=True)
    assert bn.num_batches_tracked.dtype == torch.int64 and int(bn.num_batches_tracked) == 2 + 3
    assert torch.equal(bn.running_mean, final["running_mean"])


def test_the_check_is_not_vacuous(normkit_fixtures):
    case = next(c for c in SPEC["cases"] if c["name"] == "rms_norm")
    tensors = st.load_file(os.path.join(normkit_fixtures, h.fixture_name(case, "float64")))
    tensors["train.1.output"] = tensors["train.1.output"] * (1 + 1e-8)
    with pytest.raises(AssertionError, match="train.1.output"):
        h.check(case, "float64", tensors)
