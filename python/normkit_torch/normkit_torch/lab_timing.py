"""The claims lab's timing of normalizers in PyTorch: normkit's `normTiming` resource (packages/experiments
norm-timing.ts) on PyTorch's own operations, for an analysis of PyTorch's runs (rms-norm-speed's speed criterion).

    /usr/bin/python3 -m normkit_torch.lab_timing REQUEST OUT

REQUEST (JSON) is the analysis's NormTimingRequest:

    {"normalizers": ["layer-norm", "rms-norm"], "shapes": [[1024, 256], [4096, 64]], "pass": "forward+backward",
     "rounds": 150, "calls": 5, "warmup": 20}

OUT gets `{"torch": version, "threads": torch.get_num_threads(), "modules": {normalizer: the class timed},
"timings": [{"shape": [rows, features], "samples": {normalizer: [ms per call, one per round]}} per shape]}`; the lab
takes the medians (normkit's `median`, as timeInterleaved does).

Per shape, a float32 input [rows, features] (requires_grad) and an upstream gradient of the same shape, both from
torch.randn; each normalizer is built with its default options (normkit's eps) and affine parameters. One call, as
normkit's forwardBackward: the input's and the parameters' gradients set to None, forward, backward of the upstream
gradient. Timing, as normkit's timeInterleaved: `warmup` calls of each, then `rounds` rounds, each calling every
normalizer `calls` times in a row on time.perf_counter, the order reversed every other round. `main` runs PyTorch
on one thread (torch.set_num_threads(1)), as the lab's training does.
"""
import argparse
import json
import sys
import time

import torch
from torch import nn

from .layer import RMSNorm

# normkit's plugin name -> PyTorch's module for it. LayerNorm is PyTorch's own (its fused kernel, eps 1e-5 as
# normkit's); torch 1.13 has no nn.RMSNorm, so RMSNorm is normkit_torch's (composite ops, eps 1e-6 as normkit's).
NORMALIZERS = {
    "layer-norm": nn.LayerNorm,
    "rms-norm": RMSNorm,
}
PASSES = ("forward+backward",)


def forward_backward(norm, x, upstream):
    """One call: gradients reset first (no accumulation into old buffers), forward, backward of `upstream`."""
    parameters = list(norm.parameters())

    def call():
        x.grad = None
        for p in parameters:
            p.grad = None
        norm(x).backward(upstream)
    return call


def time_interleaved(tasks, rounds, calls, warmup, clock=time.perf_counter):
    """normkit's timeInterleaved: milliseconds per call, one sample per round, by task."""
    names = list(tasks)
    for name in names:
        for _ in range(warmup):
            tasks[name]()
    samples = {name: [] for name in names}
    for round_ in range(rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            task = tasks[name]
            start = clock()
            for _ in range(calls):
                task()
            samples[name].append((clock() - start) * 1000 / calls)
    return samples


def _count(request, field, least):
    value = request.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"lab_timing: expected {field} an integer >= {least}, got {value!r}")
    return value


def check_request(request):
    """The request's fields, checked: (normalizers, shapes, rounds, calls, warmup)."""
    if request.get("pass") not in PASSES:
        raise ValueError(f"lab_timing: expected pass one of {list(PASSES)}, got {request.get('pass')!r}")
    normalizers = request.get("normalizers")
    if not isinstance(normalizers, list) or not normalizers or any(n not in NORMALIZERS for n in normalizers) or len(set(normalizers)) != len(normalizers):
        raise ValueError(f"lab_timing: expected normalizers a list of distinct names of {sorted(NORMALIZERS)}, got {normalizers!r}")
    shapes = request.get("shapes")
    if not isinstance(shapes, list) or not shapes or any(
            not isinstance(s, list) or len(s) != 2 or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in s) for s in shapes):
        raise ValueError(f"lab_timing: expected shapes a list of [rows, features] of positive integers, got {shapes!r}")
    return normalizers, shapes, _count(request, "rounds", 1), _count(request, "calls", 1), _count(request, "warmup", 0)


def time_normalizers(request, clock=time.perf_counter):
    """Every shape's samples by normalizer: [{"shape", "samples"}], as OUT's `timings`."""
    normalizers, shapes, rounds, calls, warmup = check_request(request)
    timings = []
    for rows, features in shapes:
        generator = torch.Generator().manual_seed(rows * 7919 + features)
        x = torch.randn(rows, features, generator=generator, requires_grad=True)
        upstream = torch.randn(rows, features, generator=generator)
        tasks = {name: forward_backward(NORMALIZERS[name](features), x, upstream) for name in normalizers}
        timings.append({"shape": [rows, features], "samples": time_interleaved(tasks, rounds, calls, warmup, clock)})
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m normkit_torch.lab_timing", description=__doc__.split("\n\n")[0])
    parser.add_argument("request", help="JSON: {normalizers, shapes, pass, rounds, calls, warmup}")
    parser.add_argument("out", help="where to write the samples")
    args = parser.parse_args(argv)
    with open(args.request, "r", encoding="utf-8") as f:
        request = json.load(f)
    torch.set_num_threads(1)
    timings = time_normalizers(request)
    modules = {name: f"{NORMALIZERS[name].__module__}.{NORMALIZERS[name].__qualname__}" for name in request["normalizers"]}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "modules": modules, "timings": timings}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
