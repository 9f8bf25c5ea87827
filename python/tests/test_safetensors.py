"""The pure-Python safetensors reader/writer, and how integer buffers cross to normkit (F64) and back."""
import json
import struct

import pytest
import torch

from normkit_torch import safetensors as st


def test_round_trip_every_dtype_scalars_and_empty():
    tensors = {
        "a": torch.randn(2, 3, dtype=torch.float64),
        "b": torch.randn(5, dtype=torch.float32),
        "count": torch.tensor(7, dtype=torch.int64),
        "ids": torch.tensor([1, -2, 3], dtype=torch.int32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        "scalar": torch.tensor(1.5, dtype=torch.float32),
    }
    back, metadata = st.parse(st.save(tensors, {"format": "pt"}))
    assert metadata == {"format": "pt"}
    assert set(back) == set(tensors)
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and back[name].shape == t.shape and torch.equal(back[name], t), name


def test_layout_matches_the_reference_writer():
    raw = st.save({"z": torch.ones(1, dtype=torch.float32), "a": torch.ones(1, dtype=torch.float32), "m": torch.ones(1, dtype=torch.float64)})
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8 + n - 1 : 8 + n] in (b"}", b" ")
    header = json.loads(raw[8 : 8 + n])
    # Larger elements first, then by name; the tensors tile the data without gaps.
    assert list(header) == ["m", "a", "z"]
    assert [header[k]["data_offsets"] for k in header] == [[0, 8], [8, 12], [12, 16]]
    assert len(raw) == 8 + n + 16


@pytest.mark.parametrize("bad", [b"\x00" * 4, struct.pack("<Q", 1000) + b"{}"])
def test_malformed_files_are_refused(bad):
    with pytest.raises(st.SafetensorsError):
        st.parse(bad)


def test_gaps_and_unknown_dtypes_are_refused():
    header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    with pytest.raises(st.SafetensorsError, match="gap"):
        st.parse(struct.pack("<Q", len(header)) + header + b"\x00" * 8)
    header = json.dumps({"x": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    header += b" " * (-len(header) % 8)
    with pytest.raises(st.SafetensorsError, match="BF16"):
        st.parse(struct.pack("<Q", len(header)) + header + b"\x00" * 8)


def test_torch_int64_counter_goes_to_normkit_as_float64_and_comes_back_exact():
    bn = torch.nn.BatchNorm1d(3)
    for _ in range(5):
        bn(torch.randn(4, 3))
    state = bn.state_dict()
    assert state["num_batches_tracked"].dtype == torch.int64
    # PyTorch's own files keep I64 ...
    assert st.parse(st.save(state))[0]["num_batches_tracked"].dtype == torch.int64
    # ... normkit reads only F32/F64: for_normkit converts integers to float64, exactly.
    for_normkit = st.parse(st.save(st.for_normkit(state)))[0]
    assert for_normkit["num_batches_tracked"].dtype == torch.float64
    assert float(for_normkit["num_batches_tracked"]) == 5.0
    fresh = torch.nn.BatchNorm1d(3)
    fresh.load_state_dict(st.to_module_dtypes(for_normkit, fresh), strict=True)
    assert fresh.num_batches_tracked.dtype == torch.int64 and int(fresh.num_batches_tracked) == 5
    assert torch.equal(fresh.running_var, bn.running_var)


def test_non_integral_or_huge_counters_are_refused():
    bn = torch.nn.BatchNorm1d(2)
    state = dict(bn.state_dict())
    state["num_batches_tracked"] = torch.tensor(2.5, dtype=torch.float64)
    with pytest.raises(st.SafetensorsError, match="integers"):
        st.to_module_dtypes(state, bn)
    with pytest.raises(st.SafetensorsError, match="2\\*\\*53"):
        st.for_normkit({"n": torch.tensor(2**60, dtype=torch.int64)})
