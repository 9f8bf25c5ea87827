"""Checks normkit's model families (playground/lab) against normkit_torch.models, from bundles normkit wrote.

    /usr/bin/python3 python/tests/families_harness.py DIR

DIR holds one sub-directory per case: a bundle (model only, with the architecture) and `io.safetensors`
with `x.train`, `x.eval` and normkit's outputs `y.train` (a training-mode forward, which also moves the
running statistics) and `y.eval` (eval mode afterwards). Prints JSON {case: {"train": .., "eval": ..}}
with the largest |torch - normkit| / (1 + |normkit|) per output (run by tools/torch-handoff/src/families.test.ts).
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


def check(case_dir):
    manifest, _, _ = nb.read_bundle(case_dir)
    model = models.build(manifest["architecture"])
    nb.load_bundle(case_dir, model)  # strict: every key of normkit's family, no other
    io = st.load_file(os.path.join(case_dir, "io.safetensors"))
    out = {}
    model.train()
    with torch.no_grad():
        for mode in ("train", "eval"):
            if mode == "eval":
                model.eval()
            y = model(io[f"x.{mode}"])
            expected = io[f"y.{mode}"]
            if y.shape != expected.shape:
                raise AssertionError(f"{case_dir}: {mode} output shape {list(y.shape)} vs normkit's {list(expected.shape)}")
            out[mode] = float(((y.double() - expected.double()).abs() / (1 + expected.double().abs())).max())
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    root = sys.argv[1]
    print(json.dumps({name: check(os.path.join(root, name)) for name in sorted(os.listdir(root))}))
