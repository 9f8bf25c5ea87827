"""Checks normkit's model families (playground/lab) against normkit_torch.models, from bundles normkit wrote.

    /usr/bin/python3 python/tests/families_harness.py DIR

DIR holds one sub-directory per case: a bundle (model only, with the architecture) and `io.safetensors`
with `x.train`, `x.eval` and normkit's outputs `y.train` (a training-mode forward, which also moves the
running statistics) and `y.eval` (eval mode afterwards); for conditional-gan also `labels.*` and the
discriminator's input and output `xd.*`, `yd.*`. Prints JSON {case: {"train": .., "eval": ..}}
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
            pairs = []
            if f"labels.{mode}" in io:  # conditional-gan: the generator and the discriminator, with class labels
                labels = io[f"labels.{mode}"].long()
                pairs.append((model(io[f"x.{mode}"], labels), io[f"y.{mode}"]))
                pairs.append((model.discriminate(io[f"xd.{mode}"], labels), io[f"yd.{mode}"]))
            elif f"mask.{mode}" in io:  # transformer: tokens with a padding mask
                pairs.append((model(io[f"x.{mode}"], io[f"mask.{mode}"]), io[f"y.{mode}"]))
            else:
                pairs.append((model(io[f"x.{mode}"]), io[f"y.{mode}"]))
            worst = 0.0
            for y, expected in pairs:
                if y.shape != expected.shape:
                    raise AssertionError(f"{case_dir}: {mode} output shape {list(y.shape)} vs normkit's {list(expected.shape)}")
                worst = max(worst, float(((y.double() - expected.double()).abs() / (1 + expected.double().abs())).max()))
            out[mode] = worst
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    root = sys.argv[1]
    print(json.dumps({name: check(os.path.join(root, name)) for name in sorted(os.listdir(root))}))
