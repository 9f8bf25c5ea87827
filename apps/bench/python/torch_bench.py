"""Times normkit bench cases in PyTorch on one thread, by the same rules as src/harness.ts.

Reads {"cases": [{"name", "spec", "timing"}]} as JSON on stdin and prints
{"torch", "threads", "results": {name: {"status": "ok", "median", "q1", "q3", "iqr", "runs"} | {"status": "failed", "reason"}}}
on stdout, in milliseconds. Progress goes to stderr.

A spec (TorchSpec in src/harness.ts) names standard-normal inputs, optional setup statements, a forward
expression and whether to time `output.backward(g)` too, with `g` a fixed standard-normal upstream gradient.
"""

import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def quantile(sorted_values, q):
    """Linear interpolation between ranks, as numpy.quantile and the TypeScript harness do."""
    position = (len(sorted_values) - 1) * q
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def summarize(samples):
    ordered = sorted(samples)
    q1, q3 = quantile(ordered, 0.25), quantile(ordered, 0.75)
    return {"status": "ok", "median": quantile(ordered, 0.5), "q1": q1, "q3": q3, "iqr": q3 - q1, "runs": len(ordered)}


def measure(run, timing):
    """Warm up, then time single iterations until the bounds in `timing` are met (same loop as measure() in harness.ts).

    A first warm-up iteration longer than targetMs counts as the first sample, as in harness.ts.
    """
    samples = []
    warmup_start = time.perf_counter()
    done = 0
    while done < timing["warmupRuns"] or (time.perf_counter() - warmup_start) * 1000 < timing["warmupMs"]:
        t0 = time.perf_counter()
        run()
        elapsed = (time.perf_counter() - t0) * 1000
        if done == 0 and elapsed > timing["targetMs"]:
            samples.append(elapsed)
            break
        done += 1
    start = time.perf_counter()
    while len(samples) < timing["maxRuns"] and (
        len(samples) < timing["minRuns"] or (time.perf_counter() - start) * 1000 < timing["targetMs"]
    ):
        t0 = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t0) * 1000)
    return summarize(samples)


def gradient_leaves(scope):
    """Every tensor that collects a gradient: inputs with requires_grad and parameters of modules built in setup."""
    leaves = []
    for value in scope.values():
        if isinstance(value, torch.Tensor) and value.requires_grad and value.is_leaf:
            leaves.append(value)
        elif isinstance(value, nn.Module):
            leaves.extend(p for p in value.parameters() if p.requires_grad)
    return leaves


def build_run(name, spec):
    generator = torch.Generator().manual_seed(0)
    scope = {"torch": torch, "F": F, "nn": nn}
    for input_name, description in spec["inputs"].items():
        tensor = torch.randn(description["shape"], generator=generator, dtype=torch.float32)
        scope[input_name] = tensor.requires_grad_(bool(description.get("requiresGrad", False)))
    if spec.get("setup"):
        exec(compile(spec["setup"], f"<{name} setup>", "exec"), scope)
    forward = compile(spec["forward"], f"<{name} forward>", "eval")
    if not spec.get("backward"):
        return lambda: eval(forward, scope)
    leaves = gradient_leaves(scope)
    if not leaves:
        raise ValueError("backward requested but no input or parameter requires grad")
    with torch.no_grad():
        output_shape = eval(forward, scope).shape
    upstream = torch.randn(output_shape, generator=generator, dtype=torch.float32)

    def forward_backward():
        # Fresh gradients each run, as normkit's run does: no accumulation into old .grad buffers.
        for leaf in leaves:
            leaf.grad = None
        output = eval(forward, scope)
        output.backward(upstream)
        return output

    return forward_backward


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    results = {}
    cases = request["cases"]
    for index, case in enumerate(cases, start=1):
        name = case["name"]
        try:
            outcome = measure(build_run(name, case["spec"]), case["timing"])
            summary = f"{outcome['median']:.3f} ms (IQR {outcome['iqr']:.3f}, {outcome['runs']} runs)"
        except Exception as error:  # a failing case is reported, not fatal
            outcome = {"status": "failed", "reason": f"{type(error).__name__}: {error}".splitlines()[0]}
            summary = outcome["reason"]
        results[name] = outcome
        print(f"  [torch {index}/{len(cases)}] {name}: {summary}", file=sys.stderr, flush=True)
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
