"""The normkit_torch side of the hand-off parity cases (tools/torch-handoff/cases.json).

    /usr/bin/python3 python/tests/handoff_harness.py produce OUT_DIR   # writes <case>.<dtype>.safetensors for normkit to check

`check_file(path)` replays a fixture written by normkit and compares everything (used by pytest).
Tolerance: |ours - theirs| <= atol + rtol * |theirs|; float64 atol 1e-11, rtol 1e-10; float32 atol 1e-5, rtol 1e-5.
"""
import json
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python", "normkit_torch"))

import normkit_torch as nt  # noqa: E402
from normkit_torch import safetensors as st  # noqa: E402

CASES_PATH = os.path.join(ROOT, "tools", "torch-handoff", "cases.json")
DTYPES = {"float64": torch.float64, "float32": torch.float32}
TOLERANCE = {"float64": (1e-11, 1e-10), "float32": (1e-5, 1e-5)}


def load_cases():
    with open(CASES_PATH) as f:
        spec = json.load(f)
    return spec


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def dtypes_of(case):
    """The dtypes a case runs in (default both)."""
    return case.get("dtypes", list(DTYPES))


def _norm_choice(norm):
    return {"name": norm} if isinstance(norm, str) else norm


def build(case, dtype):
    """The normkit_torch module for a case: normkit's camelCase options in snake_case."""
    options = {snake(k): v for k, v in case["options"].items()}
    kind = case["module"]
    if kind in ("LocalResponseNorm", "L2Norm"):
        return getattr(nt, kind)(**options)  # no parameters, no dtype
    if kind == "TransformerBlock":
        o = case["options"]
        # normkit's qkNorm / condition options, in this block's argument names; the block's dtype as normkit's `dtype`.
        qk = o.get("qkNorm")
        qk = {"kind": qk} if isinstance(qk, str) else ({snake(k): v for k, v in qk.items()} if qk else None)
        return nt.TransformerBlock(o["dim"], o["numHeads"], _norm_choice(o["norm"]), o["placement"], o.get("feedforwardDim"),
                                   o.get("activation", "gelu"), qk, deep_norm=o.get("deepNorm"), layer_scale=o.get("layerScale"),
                                   embedding_norm=o.get("embeddingNorm", False), condition_dim=(o.get("condition") or {}).get("dim"), dtype=dtype)
    if kind == "Residual":
        from normkit_torch import models

        features = options["features"]
        make = lambda: models.normalizer(_norm_choice(options["norm"]), features, dtype=dtype)  # noqa: E731
        return nt.Residual(torch.nn.Linear(features, features, dtype=dtype), make(), options["placement"],
                           output_norm=make() if options["placement"] == "peri" else None, alpha=options.get("alpha"),
                           layer_scale=nt.LayerScale(features, options["layer_scale"], dtype=dtype) if "layer_scale" in options else None)
    if kind == "SkipInit":
        return nt.SkipInit(torch.nn.Linear(options["features"], options["features"], dtype=dtype))
    if kind == "WeightNormLinear":
        return nt.weight_norm(torch.nn.Linear(options["in_features"], options["out_features"], dtype=dtype), dim=options["dim"])
    if kind in ("WeightStandardizationLinear", "WeightStandardizationConv2d"):
        ws = {k: v for k, v in options.items() if k not in ("in_features", "out_features", "in_channels", "out_channels", "kernel_size")}
        if kind == "WeightStandardizationLinear":
            layer = torch.nn.Linear(options["in_features"], options["out_features"], dtype=dtype)
        else:
            layer = torch.nn.Conv2d(options["in_channels"], options["out_channels"], options["kernel_size"], dtype=dtype)
        return nt.weight_standardization(layer, **ws)
    if kind == "NormalizerMixture":
        return nt.mixture_of(options["num_features"], case["options"]["candidates"], options.get("temperature", 1.0),
                             options.get("hard", False), dtype=dtype)
    if kind == "NFResidualBlock":
        out = options.get("out_features", options["features"])
        shortcut = torch.nn.Linear(options["features"], out, dtype=dtype) if options.get("shortcut") else None
        block = {k: v for k, v in options.items() if k not in ("features", "out_features", "shortcut")}
        return nt.NFResidualBlock(nt.ScaledStdLinear(options["features"], out, dtype=dtype), shortcut=shortcut, **block)
    if kind in ("SpectralNormLinear", "ScaledWeightStandardizationLinear", "ScaledWeightStandardizationConv2d"):
        # The families' weight parametrizations through models.weight_parametrization, with normkit's plugin options.
        from normkit_torch import models

        o = dict(case["options"])
        layer = (torch.nn.Linear(o.pop("inFeatures"), o.pop("outFeatures"), dtype=dtype) if kind.endswith("Linear")
                 else torch.nn.Conv2d(o.pop("inChannels"), o.pop("outChannels"), o.pop("kernelSize"), dtype=dtype))
        plugin = "spectral-norm" if kind == "SpectralNormLinear" else "scaled-weight-standardization"
        return models.weight_parametrization(layer, {"name": plugin, "options": o})
    if kind == "WeightNormConv2d":
        conv = torch.nn.Conv2d(options["in_channels"], options["out_channels"], options["kernel_size"], dtype=dtype)
        return nt.weight_norm(conv, dim=options["dim"])
    return getattr(nt, kind)(**options, dtype=dtype)


def context(case, tensors, prefix):
    """Extra forward arguments recorded for a step (mask, condition, labels)."""
    kwargs = {}
    if case.get("mask"):
        kwargs["mask"] = tensors[f"{prefix}.mask"]
    if case.get("condition"):
        kwargs["condition"] = tensors[f"{prefix}.condition"]
    if case.get("labels"):
        kwargs["labels"] = tensors[f"{prefix}.labels"].long()
    if case.get("causal"):
        kwargs["causal"] = True
    return kwargs


def sgd_step(module, case, lr):
    if case.get("agc"):
        agc = {snake(k): v for k, v in case["agc"].items()}
        nt.adaptive_grad_clip_(module.named_parameters(), **agc)
    with torch.no_grad():
        for p in module.parameters():
            if p.grad is not None:
                p.sub_(lr * p.grad)
    if case.get("postStep") == "ngpt":
        nt.normalize_marked_weights(module)
    module.zero_grad(set_to_none=True)


class Random:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def randn(self, shape, dtype):
        return torch.randn(shape, generator=self.g, dtype=torch.float64).to(dtype)

    def rand(self, shape, dtype):
        return torch.rand(shape, generator=self.g, dtype=torch.float64).to(dtype)


def make_mask(rng, shape, case):
    """1 real / 0 padded per (sample, position); every sample keeps at least 2 real positions."""
    mask = (rng.rand(shape, torch.float64) > 0.3).to(torch.float64)
    flat = mask.reshape(shape[0], -1)
    flat[:, :2] = 1
    return flat.reshape(shape)


def produce(case, dtype_name, seed):
    """Runs a case in normkit_torch and returns the tensors normkit's checker replays."""
    dtype = DTYPES[dtype_name]
    rng = Random(seed)
    # Module constructors draw their initial weights from torch's global generator: seed it too, so a
    # case's fixture is the same on every run (it was not, and float32 cases passed or failed by draw).
    torch.manual_seed(seed)
    module = build(case, dtype)
    module.train()
    out = {}
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(2)
            elif name.endswith("running_var"):
                t.copy_(0.5 + rng.rand(t.shape, t.dtype))
            else:
                t.add_(0.3 * rng.randn(t.shape, t.dtype))
    for name, t in module.state_dict().items():
        out[f"state.{name}"] = t.clone()
    steps = case.get("steps", 3)
    prefixes = [f"train.{k}" for k in range(steps)] + ["eval"]
    for prefix in prefixes:
        if prefix == "eval":
            module.eval()
        x = rng.randn(case["input"], dtype).requires_grad_(True)
        out[f"{prefix}.input"] = x.detach().clone()
        if case.get("mask"):
            shape = {"rows": case["input"][:-1], "elements": case["input"]}.get(case["mask"], [case["input"][0]] + case["input"][2:])
            out[f"{prefix}.mask"] = make_mask(rng, shape, case).to(dtype)
        if case.get("condition"):
            out[f"{prefix}.condition"] = rng.randn(case["condition"], dtype)
        if case.get("labels"):
            out[f"{prefix}.labels"] = torch.randint(0, case["labels"], (case["input"][0],), generator=rng.g).to(dtype)
        y = module(x, **context(case, out, prefix))
        grad_output = rng.randn(y.shape, dtype)
        y.backward(grad_output)
        out[f"{prefix}.output"] = y.detach().clone()
        out[f"{prefix}.grad_output"] = grad_output
        out[f"{prefix}.grad_input"] = x.grad.clone()
        for name, p in module.named_parameters():
            if p.grad is not None:
                out[f"{prefix}.grad_{name}"] = p.grad.clone()
        if prefix != "eval":
            sgd_step(module, case, load_cases()["lr"])
            if prefix == prefixes[steps - 1]:
                for name, t in module.state_dict().items():
                    out[f"final.{name}"] = t.clone()
        else:
            module.zero_grad(set_to_none=True)
    return out


def close(name, ours, theirs, dtype_name):
    atol, rtol = TOLERANCE[dtype_name]
    ours = ours.detach().to(torch.float64)
    theirs = theirs.to(torch.float64)
    if ours.shape != theirs.shape:
        raise AssertionError(f"{name}: shape {list(ours.shape)} vs normkit's {list(theirs.shape)}")
    # float32: also rtol times the array's largest magnitude (a sum with cancellation carries the rounding
    # of its largest terms); float64 stays elementwise. Same rule as tools/torch-handoff/src/cases.ts.
    scale = float(theirs.abs().max()) if dtype_name == "float32" and theirs.numel() > 0 else 0.0
    excess = (ours - theirs).abs() - (atol + rtol * theirs.abs() + rtol * scale)
    if bool((excess > 0).any()) or not bool(torch.isfinite(ours).all()):
        worst = float((ours - theirs).abs().max())
        raise AssertionError(f"{name}: max |difference| {worst:.3e} beyond atol {atol}, rtol {rtol}")


def check(case, dtype_name, tensors):
    """Replays a fixture produced by normkit in normkit_torch; raises AssertionError on a mismatch."""
    dtype = DTYPES[dtype_name]
    module = build(case, dtype)
    state = {k[len("state."):]: v for k, v in tensors.items() if k.startswith("state.")}
    module.load_state_dict(st.to_module_dtypes(state, module), strict=True)
    module.train()
    steps = case.get("steps", 3)
    for prefix in [f"train.{k}" for k in range(steps)] + ["eval"]:
        if prefix == "eval":
            module.eval()
        x = tensors[f"{prefix}.input"].clone().requires_grad_(True)
        y = module(x, **context(case, tensors, prefix))
        close(f"{prefix}.output", y, tensors[f"{prefix}.output"], dtype_name)
        y.backward(tensors[f"{prefix}.grad_output"])
        close(f"{prefix}.grad_input", x.grad, tensors[f"{prefix}.grad_input"], dtype_name)
        ours = {f"{prefix}.grad_{n}" for n, p in module.named_parameters() if p.grad is not None}
        theirs = {k for k in tensors if k.startswith(f"{prefix}.grad_") and k not in (f"{prefix}.grad_input", f"{prefix}.grad_output")}
        if ours != theirs:
            raise AssertionError(f"{prefix}: parameter gradients {sorted(ours)} vs normkit's {sorted(theirs)}")
        for name, p in module.named_parameters():
            if p.grad is not None:
                close(f"{prefix}.grad_{name}", p.grad, tensors[f"{prefix}.grad_{name}"], dtype_name)
        if prefix != "eval":
            sgd_step(module, case, load_cases()["lr"])
            if prefix == f"train.{steps - 1}":
                final = module.state_dict()
                expected = {k[len("final."):] for k in tensors if k.startswith("final.")}
                if set(final) != expected:
                    raise AssertionError(f"final state keys {sorted(final)} vs normkit's {sorted(expected)}")
                for name, t in final.items():
                    close(f"final.{name}", t, tensors[f"final.{name}"], dtype_name)


def fixture_name(case, dtype_name):
    return f"{case['name']}.{dtype_name}.safetensors"


def write_all(out_dir):
    spec = load_cases()
    os.makedirs(out_dir, exist_ok=True)
    for index, case in enumerate(spec["cases"]):
        for d, dtype_name in enumerate(dtypes_of(case)):
            tensors = st.for_normkit(produce(case, dtype_name, seed=1000 + 10 * index + d))
            metadata = {"producer": "normkit_torch", "torch": torch.__version__, "case": json.dumps(case), "dtype": dtype_name}
            st.save_file(tensors, os.path.join(out_dir, fixture_name(case, dtype_name)), metadata)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) != 3 or sys.argv[1] != "produce":
        sys.exit("usage: handoff_harness.py produce OUT_DIR")
    write_all(sys.argv[2])
