"""A pure-Python safetensors reader and writer (no `safetensors` package needed).

Layout (Hugging Face's format, as normkit's `saveSafetensors` writes it):
  [8 bytes]  N, the header length, unsigned 64-bit little-endian
  [N bytes]  UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}},
             padded with spaces so the data starts at a multiple of 8
  [rest]     raw little-endian row-major tensor bytes; offsets count from the start of this buffer

Tensors are laid out like the reference writer (and normkit): larger element size first, then by
name (UTF-8 bytes), `__metadata__` first in the header, so both writers give identical bytes.

Integer buffers: PyTorch keeps counters such as `num_batches_tracked` in int64 (I64); normkit keeps
them in float64 and reads only F32 and F64. `for_normkit` converts integer tensors to float64
(exact below 2**53, refused above) before writing a file for normkit; `to_module_dtypes` casts a
state dict read from normkit back to a module's own dtypes (refusing non-integral counters).
"""
import json
import struct

import torch

_DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
}
_NAMES = {dtype: name for name, (dtype, _) in _DTYPES.items()}
_MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    """A malformed safetensors file, or a tensor this module cannot store."""


def save(tensors, metadata=None):
    """Serialise a dict of tensors to safetensors bytes (little-endian; this platform is assumed LE)."""
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise SafetensorsError(f"save: metadata values must be strings, got {key!r} = {value!r}")
    entries = []
    for name, t in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError('save: "__metadata__" is reserved')
        if not isinstance(t, torch.Tensor):
            raise SafetensorsError(f"save: {name!r} is not a tensor")
        if t.dtype not in _NAMES:
            raise SafetensorsError(f"save: {name!r} has dtype {t.dtype}; supported: float64, float32, int64, int32")
        entries.append((name, t))
    entries.sort(key=lambda e: (-_DTYPES[_NAMES[e[1].dtype]][1], e[0].encode("utf-8")))
    fields, blobs, offset = [], [], 0
    if metadata is not None:
        fields.append('"__metadata__":' + json.dumps(metadata, separators=(",", ":"), ensure_ascii=False))
    for name, t in entries:
        data = _bytes_of(t)
        info = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        fields.append(json.dumps(name, ensure_ascii=False) + ":" + json.dumps(info, separators=(",", ":")))
        blobs.append(data)
        offset += len(data)
    header = ("{" + ",".join(fields) + "}").encode("utf-8")
    padded = -(-len(header) // 8) * 8
    header += b" " * (padded - len(header))
    return struct.pack("<Q", padded) + header + b"".join(blobs)


def _bytes_of(t):
    t = t.detach().contiguous().cpu()
    # Debian's python3-torch depends on numpy, so .numpy() is available.
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def parse(data):
    """Parse safetensors bytes: returns (tensors, metadata or None)."""
    data = memoryview(bytes(data))
    if len(data) < 8:
        raise SafetensorsError("parse: file shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError(f"parse: header length {n} exceeds the file ({len(data)} bytes)")
    header = json.loads(bytes(data[8 : 8 + n]).decode("utf-8"))
    if not isinstance(header, dict):
        raise SafetensorsError("parse: header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    body = data[8 + n :]
    tensors, spans = {}, []
    for name, info in header.items():
        dtype_name = info.get("dtype")
        if dtype_name not in _DTYPES:
            raise SafetensorsError(f"parse: tensor {name!r} has unsupported dtype {dtype_name!r}")
        dtype, width = _DTYPES[dtype_name]
        shape = info["shape"]
        begin, end = info["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if not (0 <= begin <= end <= len(body)) or end - begin != count * width:
            raise SafetensorsError(f"parse: tensor {name!r} has offsets {begin}..{end} that do not fit shape {shape} of {dtype_name}")
        spans.append((begin, end, name))
        raw = bytearray(body[begin:end])
        flat = torch.frombuffer(raw, dtype=dtype) if count else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(shape).clone()
    spans.sort()
    cursor = 0
    for begin, end, name in spans:
        if begin != cursor:
            raise SafetensorsError(f"parse: tensor {name!r} starts at {begin}, expected {cursor} (gap or overlap)")
        cursor = end
    if cursor != len(body):
        raise SafetensorsError(f"parse: {len(body) - cursor} trailing bytes after the last tensor")
    return tensors, metadata


def save_file(tensors, path, metadata=None):
    with open(path, "wb") as f:
        f.write(save(tensors, metadata))


def load_file(path):
    """The tensors of a safetensors file (metadata dropped; use `parse` to get it)."""
    with open(path, "rb") as f:
        return parse(f.read())[0]


_EXACT = 2**53


def for_normkit(state_dict):
    """A copy of a state dict that normkit can read: integer tensors become float64 (exact below 2**53)."""
    out = {}
    for name, t in state_dict.items():
        if not t.is_floating_point():
            if t.numel() and int(t.abs().max()) > _EXACT:
                raise SafetensorsError(f"for_normkit: {name!r} holds integers above 2**53, which float64 cannot keep exactly")
            t = t.to(torch.float64)
        out[name] = t
    return out


def to_module_dtypes(state_dict, module):
    """Casts tensors read from a normkit file to the dtypes `module.state_dict()` holds (float64 counters to int64)."""
    own = module.state_dict()
    out = {}
    for name, t in state_dict.items():
        target = own.get(name)
        if target is not None and not target.is_floating_point() and t.is_floating_point():
            if not torch.equal(t, t.round()) or (t.numel() and float(t.abs().max()) > _EXACT):
                raise SafetensorsError(f"to_module_dtypes: {name!r} must hold integers for the {target.dtype} buffer, got {t.tolist()}")
            t = t.to(target.dtype)
        elif target is not None and t.dtype != target.dtype:
            t = t.to(target.dtype)
        out[name] = t
    return out
