"""Checks normkit's model families (playground/lab) against normkit_torch.models, from bundles normkit wrote.

    /usr/bin/python3 python/tests/families_harness.py DIR

DIR holds one sub-directory per case: a bundle (model only, with the architecture) and `io.safetensors`
with `x.train`, `x.eval` and normkit's outputs `y.train` (a training-mode forward, which also moves the
running statistics) and `y.eval` (eval mode afterwards); for conditional-gan also `labels.*` and the
discriminator's input and output `xd.*`, `yd.*`. Prints JSON {case: {"train": .., "eval": ..}}
with the largest |torch - normkit| / (1 + |normkit|) per output (run by tools/torch-handoff/src/families.test.ts).

The other direction: each case's `from-torch/` gets a bundle of the PyTorch model's state (moved off normkit's by a
seeded perturbation, the running statistics as the forwards above left them) and `io.safetensors` with PyTorch's
outputs of the same two forwards from that state, which the vitest side replays in normkit.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "normkit_torch"))

from normkit_torch import bundle as nb  # noqa: E402
from normkit_torch import models  # noqa: E402
from normkit_torch import safetensors as st  # noqa: E402


def forwards(model, io):
    """A training-mode forward then an eval forward on the inputs of `io`: {"y.train": .., "yd.train": .., ...}."""
    out = {}
    model.train()
    with torch.no_grad():
        for mode in ("train", "eval"):
            if mode == "eval":
                model.eval()
            if f"labels.{mode}" in io:  # conditional-gan: the generator and the discriminator, with class labels
                labels = io[f"labels.{mode}"].long()
                out[f"y.{mode}"] = model(io[f"x.{mode}"], labels)
                out[f"yd.{mode}"] = model.discriminate(io[f"xd.{mode}"], labels)
            elif f"mask.{mode}" in io:  # tokens with a padding mask
                out[f"y.{mode}"] = model(io[f"x.{mode}"], io[f"mask.{mode}"])
            else:
                out[f"y.{mode}"] = model(io[f"x.{mode}"])
    return out


def check(case_dir):
    manifest, _, _ = nb.read_bundle(case_dir)
    model = models.build(manifest["architecture"])
    nb.load_bundle(case_dir, model)  # strict: every key of normkit's family, no other
    io = st.load_file(os.path.join(case_dir, "io.safetensors"))
    out = {"train": 0.0, "eval": 0.0}
    for key, y in forwards(model, io).items():
        expected = io[key]
        if y.shape != expected.shape:
            raise AssertionError(f"{case_dir}: {key} output shape {list(y.shape)} vs normkit's {list(expected.shape)}")
        mode = key.split(".")[1]
        out[mode] = max(out[mode], float(((y.double() - expected.double()).abs() / (1 + expected.double().abs())).max()))
    # Back to normkit: PyTorch's state, moved by a seeded perturbation, and its outputs from there.
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            # Not running_var (kept positive) nor spectral norm's u and v (unit vectors of the power iteration).
            if t.is_floating_point() and not key.endswith(("running_var", "._u", "._v")):
                t.add_(0.1 * torch.randn(t.shape, generator=g, dtype=t.dtype))
    back = os.path.join(case_dir, "from-torch")
    os.makedirs(back, exist_ok=True)
    nb.save_bundle(back, model, architecture=manifest["architecture"])
    inputs = {k: v for k, v in io.items() if not k.startswith("y")}
    st.save_file({**inputs, **{k: v.contiguous() for k, v in forwards(model, io).items()}}, os.path.join(back, "io.safetensors"))
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    root = sys.argv[1]
    print(json.dumps({name: check(os.path.join(root, name)) for name in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, name))}))
