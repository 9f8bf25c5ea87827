"""The claims lab's second implementation: trains in PyTorch the runs that `npm run lab -- --torch` exported,
from the same declared configuration, and returns the raw measured series (per-step training losses and
the evaluations), so the lab computes the quantities and verdicts with the same code it uses for normkit.

    /usr/bin/python3 -m normkit_torch.lab DIR [--only GROUP,...]

DIR (written by apps/lab/src/torch-export.ts) holds `lab-runs.json`:

    {"format": "normkit-lab-runs", "version": 4, "runs": [{
        "key": "batch-norm-small-batch/0/bn-b2",   unique; results are keyed by it
        "group": "batch-norm-small-batch",         a group is replicated whole or not at all
        "bundle": "runs/3",                        a normkit training bundle at step 0: architecture,
                                                   initial weights, optimizer hyperparameters, schedule
        "data": "data/1.safetensors",              the exact samples: train.inputs, train.labels (F64),
                                                   train.masks (token tasks), test.*
        "batches": "runs/3/batches.safetensors",   `indices` [steps, batch] (F64): the samples of each step
        "discriminatorBundle": null, "noise": null, a conditional GAN's (task "conditional-generation"): the bundle
                                                   holding the discriminator's optimizer ("bundle" holds the
                                                   generator's) and `noise` [steps, 2, batch, latent], the z normkit's
                                                   Trainer draws at each step (the discriminator's, the generator's)
        "task": "classification", "steps": 48, "evalEvery": 12, "evalSamples": 50, "batchSize": 2,
        "gradientTransforms": [{"name": "clip-grad-norm", "options": {"maxNorm": 1}}],
        "schedule": {"name": "constant", "options": {}},       the config's schedule (the bundle describes it,
                                                                 except the constant one, which it leaves null)
        "nonDefault": {"model": {"width": 64}, "norms": {"hidden": {"numGroups": 8}}},
                                                   options away from normkit's defaults: one that is not ported
                                                   makes the group unsupported
        "initFrom": {"key": "frozen-batch-norm-fine-tuning/0/pretrain", "except": ["head"],
                     "rename": {"frozen-batch-norm": "batch-norm"}},
                                                   or null: after the step-0 weights, every parameter and buffer
                                                   not under an `except` prefix is copied from that run (same
                                                   group, trained earlier), each name's segments mapped through
                                                   `rename` (PresetRun.initFrom)
        "trace": {"every": 2, "measures": {"maxLogit": "max-attention-logit"}, "snapshots": false}}]}
                                                   or null: after every `every`-th step (and its evaluation) each
                                                   name's measure (lab_traces.py) is taken (PresetRun.trace); with
                                                   "snapshots" the model's state dict is saved there instead, and the
                                                   lab runs the preset's own `read` on it in normkit

and gets `torch-results.json`: {"torch": version, "groups": {group: {"status": "trained" | "unsupported" |
"error", "reason"}}, "runs": {key: {"status": "done" | "diverged", "reason", "completedSteps", "elapsedMs",
"losses": [...], "trace": {name: [[step, value], ...]}, "snapshots": [[step, "runs/3/step-2.safetensors"], ...],
"trained": "runs/3/trained.safetensors", "evalSnapshots": [[step, path], ...] (a GAN's: normkit evaluates them), "evals": [{"step", "train": {"loss", "accuracy"}, "test": {...}, "gap": {...}, "activations": {"blocks.0":
{"mean", "std"}, ...}}]}}} (non-finite numbers as null; `activations`, normkit's per-layer tap statistics of the last
probe step's training forward, only for the families lab_taps knows; `probes`: {"runningStats": {module: {"mean", "var"}},
"importance": {module: ...}}, normkit's probes after the evaluation's step, `importance` only when lab_probes ports every
module that has one; `trained`: the trained model's state dict in normkit's keys, relative to DIR, which the lab loads
into the same normkit model for analyses that read the trained model). A group whose model, normalizer or gradient transform normkit_torch does not
have is reported "unsupported" with the reason and none of its runs is trained.

Each run follows @normkit/experiments' Trainer (packages/experiments/src/train.ts) step for step: a
training-mode forward on the step's batch, mean cross entropy, backward, the gradient transforms, a
non-finite loss or gradient ends the run as diverged, optimizer step and the model's post-step hooks (nGPT's
renormalisation), scheduler step; every `evalEvery`
steps and after the last, eval-mode loss and accuracy on the first rows of each split in batches of the
training batch size, and the train-mode minus eval-mode gap on the same training rows (buffers restored). A
conditional GAN follows Trainer.ganStep (train_gan) and leaves its evaluations (MMD, mixture score) to normkit, which
evaluates the state dict saved after each evaluated step.
"""
import argparse
import contextlib
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from . import bundle as nb
from . import lab_probes
from . import lab_taps
from . import lab_traces
from . import models
from . import safetensors as st
from .norm_free import adaptive_grad_clip_

FORMAT = "normkit-lab-runs"
VERSION = 4
RUNS_FILE, RESULTS_FILE, TRAINED_FILE = "lab-runs.json", "torch-results.json", "trained.safetensors"


class Unsupported(Exception):
    """A run that normkit_torch cannot train as declared (the reason names what is missing)."""


# ----------------------------------------------------------------------------------------------------
# Gradient transforms (normkit's registered plugins, between backward and optimizer.step).

def _transform(choice):
    # The `nonFinite` policy only changes how a non-finite gradient is reported; the run ends as diverged either way.
    name, o = choice["name"], dict(choice.get("options") or {})
    if name == "clip-grad-norm":
        norm_type = o.get("normType", 2.0)
        return lambda model: torch.nn.utils.clip_grad_norm_(model.parameters(), o.get("maxNorm", 1.0), math.inf if norm_type is None else norm_type)
    if name == "clip-grad-value":
        return lambda model: torch.nn.utils.clip_grad_value_(model.parameters(), o.get("value", 1.0))
    if name == "adaptive-gradient-clip" and set(o) <= {"clipping", "eps", "exclude", "excludeFinalLayer", "nonFinite"}:
        return lambda model: adaptive_grad_clip_(
            [p for n, p in _agc_clipped(model, o.get("exclude") or [], o.get("excludeFinalLayer", False))], o.get("clipping", 0.01), o.get("eps", 1e-3))
    raise Unsupported(f"gradient transform {name!r} with options {json.dumps(o, sort_keys=True)} is not ported to the lab runner "
                      "(ported: clip-grad-norm, clip-grad-value, adaptive-gradient-clip)")


def _owning_layer_path(name):
    """normkit's owningLayerPath: `head.bias` -> `head`, `head.parametrizations.weight.original` -> `head`, '' for the root's own."""
    if name.startswith("parametrizations."):
        return ""
    if ".parametrizations." in name:
        return name[:name.index(".parametrizations.")]
    return name.rpartition(".")[0]


def _agc_clipped(model, exclude, exclude_final_layer):
    """The (name, parameter) pairs with a gradient that AGC clips, as normkit's excludedSet leaves them: minus every
    `exclude` name or module path, and with `excludeFinalLayer` minus the layer owning the last such parameter."""
    entries = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    under = lambda n, path: n == path or n.startswith(path + ".")  # noqa: E731
    skipped = set()
    for item in exclude:
        matched = [n for n, _ in entries if under(n, item)]
        if not matched:
            raise ValueError(f"adaptive-gradient-clip: expected exclude entries that name a parameter or a module path among the parameters with a gradient, got {item!r}")
        skipped.update(matched)
    if exclude_final_layer and entries:
        last = entries[-1][0]
        path = _owning_layer_path(last)
        skipped.update([last] if path == "" else [n for n, _ in entries if under(n, path)])
    return [(n, p) for n, p in entries if n not in skipped]


# ----------------------------------------------------------------------------------------------------

# The options normkit_torch.models reads for each family and normalizer (models.build / models.normalizer). A run
# that sets any other option away from normkit's default is refused: the model would silently differ.
PORTED_MODEL_OPTIONS = {
    "mlp": {"width", "depth", "activation"},
    "cnn": {"channels", "stages", "activation"},
    "residual": {"width", "depth", "activation"},
    "transformer": {"dim", "numHeads", "depth", "placement", "feedforwardMultiplier", "activation"},
}
PORTED_NORM_OPTIONS = {
    "batch-norm": {"eps", "momentum", "affine", "trackRunningStats", "dtype"},
    "ghost-batch-norm": {"virtualBatchSize", "eps", "momentum", "affine", "trackRunningStats", "dtype"},
    "layer-norm": {"eps", "elementwiseAffine", "bias", "dtype"},
    "rms-norm": {"eps", "elementwiseAffine", "dtype"},
    "group-norm": {"numGroups", "eps", "affine", "dtype"},
    "qk-norm": {"kind", "eps"},
}


def ported_options():
    """The model and normalizer options normkit_torch.models honours: its own `support()` where it has one (it then
    refuses every other option itself), else the lists above."""
    support = getattr(models, "support", None)
    if support is None:
        return PORTED_MODEL_OPTIONS, PORTED_NORM_OPTIONS
    described = support()
    return ({name: set(family["options"]) for name, family in described["models"].items()},
            {name: set(keys) for name, keys in described["normalizers"].items()})


def check_options(run, family):
    declared = run.get("nonDefault") or {}
    model_options, norm_options = ported_options()
    extra = sorted(set(declared.get("model") or {}) - model_options.get(family, set()))
    if extra:
        raise Unsupported(f"the {family} family's option(s) {', '.join(extra)} (set away from normkit's default) are not ported")
    for role, options in (declared.get("norms") or {}).items():
        name = ((run.get("norms") or {}).get(role) or {}).get("name")
        unknown = sorted(set(options) - norm_options.get(name, set()))
        if unknown:
            raise Unsupported(f"norms.{role} ({name}): option(s) {', '.join(unknown)} set away from normkit's default are not known to be ported")


def _forward(model, x, mask):
    return model(x) if mask is None else model(x, mask)


def accuracy_of(logits, labels):
    """normkit's accuracyOf: the first largest logit per row (a NaN never wins; NaN in column 0 keeps 0)."""
    best = torch.zeros(logits.shape[0], dtype=torch.long)
    rows = torch.arange(logits.shape[0])
    for c in range(1, logits.shape[1]):
        best = torch.where(logits[:, c] > logits[rows, best], torch.full_like(best, c), best)
    return float((best == labels).double().mean()) if labels.numel() else float("nan")


def eval_rows(count, eval_samples, batch_size):
    """How many leading rows an evaluation uses: at most eval_samples, cut to whole batches when there are
    enough (Trainer.evalRows)."""
    available = min(eval_samples, count)
    return available - available % batch_size if available >= batch_size else available


class Split:
    def __init__(self, data, name):
        self.inputs = data[f"{name}.inputs"]
        self.labels = data[f"{name}.labels"].long()
        self.masks = data.get(f"{name}.masks")

    def rows(self, index):
        return self.inputs[index], self.labels[index], None if self.masks is None else self.masks[index]


def _measure(model, split, count, batch_size):
    loss_total, correct = 0.0, 0.0
    for start in range(0, count, batch_size):
        index = torch.arange(start, min(start + batch_size, count))
        x, y, mask = split.rows(index)
        logits = _forward(model, x, mask)
        loss_total += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += accuracy_of(logits, y) * len(index)
    return {"loss": loss_total / count, "accuracy": correct / count}


def evaluate(model, train, test, run):
    """Eval-mode metrics on both splits and the train-mode gap; the model's buffers are left as they were."""
    size = run["batchSize"]
    n_train = eval_rows(train.labels.numel(), run["evalSamples"], size)
    n_test = eval_rows(test.labels.numel(), run["evalSamples"], size)
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    with torch.no_grad():
        try:
            model.eval()
            train_metrics = _measure(model, train, n_train, size)
            test_metrics = _measure(model, test, n_test, size)
            model.train()
            train_mode = _measure(model, train, n_train, size)
        finally:
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
            model.train()
    gap = {"loss": train_mode["loss"] - train_metrics["loss"], "accuracy": train_mode["accuracy"] - train_metrics["accuracy"]}
    return {"train": train_metrics, "test": test_metrics, "gap": gap}


def _optimizer_from_bundle(path, model, parameters, run):
    """A torch optimizer over `parameters` and its scheduler, both as the bundle at `path` holds them (its model
    weights are loaded into `model` too)."""
    manifest, _, _ = nb.read_bundle(path)
    saved = manifest.get("optimizer") or {}
    optimizer_class = getattr(torch.optim, saved.get("type", ""), None)
    if optimizer_class not in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
        raise Unsupported(f"optimizer {saved.get('type')!r} is not ported to the lab runner (SGD, Adam, AdamW are)")
    optimizer = optimizer_class(parameters, lr=1.0)
    try:
        manifest = nb.load_bundle(path, model, optimizer)
    except nb.BundleError as error:
        raise Unsupported(f"normkit_torch.models builds another model from this architecture ({error})") from error
    if (manifest.get("scheduler") or {}).get("schedule") is None and run.get("schedule", {}).get("name") == "constant":
        # normkit describes its constant schedule (a plain function) as null: the lr stays the bundle's.
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    else:
        scheduler = nb.scheduler_from_bundle(optimizer, manifest)
    return optimizer, scheduler


def prepare(directory, run):
    """The model (initial weights loaded), optimizer, scheduler and gradient transforms of a run (a GAN: the
    generator's and the discriminator's optimizers and schedulers, as pairs); raises Unsupported for what
    normkit_torch does not have."""
    if run["task"] not in ("classification", "sequence-classification", "conditional-generation"):
        raise Unsupported(f"task {run['task']!r} is not ported to the lab runner (classification and conditional generation are)")
    if run["task"] == "conditional-generation" and run.get("gradientTransforms"):
        raise Unsupported("gradient transforms on a conditional-generation run (one per optimizer) are not ported to the lab runner")
    transforms = [_transform(t) for t in run.get("gradientTransforms") or []]
    for name, measure in ((run.get("trace") or {}).get("measures") or {}).items():
        try:
            lab_traces.check(measure)
        except ValueError as error:
            raise Unsupported(f"trace {name!r}: {error}") from error
    path = os.path.join(directory, run["bundle"])
    manifest, _, _ = nb.read_bundle(path)
    try:
        model = models.build(manifest["architecture"])
    except (NotImplementedError, ValueError) as error:
        raise Unsupported(str(error)) from error
    check_options({**run, "norms": manifest["architecture"].get("norms")}, manifest["architecture"]["model"]["name"])
    if run["task"] == "conditional-generation":
        generator = _optimizer_from_bundle(path, model, model.generator.parameters(), run)
        discriminator = _optimizer_from_bundle(os.path.join(directory, run["discriminatorBundle"]), model, model.discriminator.parameters(), run)
        return model, (generator[0], discriminator[0]), (generator[1], discriminator[1]), transforms
    optimizer, scheduler = _optimizer_from_bundle(path, model, model.parameters(), run)
    return model, optimizer, scheduler, transforms


def initialize_from(model, source, spec, key):
    """PresetRun.initFrom as run-preset.ts's initializeFrom does it: every entry of `model`'s state dict not under
    an `except` prefix is copied in place (the optimizer keeps its parameters) from the trained `source`, its
    name's segments mapped through `rename`; a name the source lacks, or a shape that differs, copies nothing."""
    except_, rename = spec.get("except") or [], spec.get("rename") or {}
    source_state = source.state_dict()
    skipped = lambda name: any(name == prefix or name.startswith(prefix + ".") for prefix in except_)  # noqa: E731
    copies, missing = [], []
    for name, target in model.state_dict(keep_vars=True).items():
        if skipped(name):
            continue
        source_name = ".".join(rename.get(segment, segment) for segment in name.split("."))
        if source_name not in source_state:
            missing.append(source_name)
        elif tuple(source_state[source_name].shape) != tuple(target.shape):
            raise ValueError(f"lab: initFrom of {key}: expected {source_name} of shape {list(target.shape)}, got {list(source_state[source_name].shape)}")
        else:
            copies.append((target, source_state[source_name]))
    if missing:
        raise ValueError(f"lab: initFrom of {key}: expected every parameter and buffer of {spec['key']}'s model, names it lacks: {', '.join(missing)}")
    with torch.no_grad():
        for target, value in copies:
            target.copy_(value)


def _first_non_finite_gradient(model):
    for name, p in model.named_parameters():
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            return name
    return None


def _bce_with_logits(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _gan_half_step(loss, net, optimizer, name):
    """One half of ganStep: a non-finite loss or gradient of `net` ends the run (the reason is returned), else backward
    and `optimizer`'s step (None)."""
    value = float(loss)
    if not math.isfinite(value):
        return f"the {name} loss is {value}"
    loss.backward()
    bad = _first_non_finite_gradient(net)
    if bad is not None:
        return f"non-finite gradient: {name}.{bad}"
    optimizer.step()
    return None


def train_gan(directory, run, prepared):
    """A conditional GAN run as normkit's Trainer.ganStep trains it: the discriminator on real (1) and generated
    (0, no gradient into the generator) points, then the generator with the non-saturating loss -log D(G(z)), the
    discriminator's gradients from it dropped; both schedulers step. z comes from the export (normkit's 'noise'
    stream: the discriminator's batch, then the generator's). The evaluations are normkit's own: after every
    `evalEvery`-th step and the last, the state dict is saved (`evalSnapshots`) and the lab evaluates it in normkit."""
    model, (g_optimizer, d_optimizer), schedulers, _ = prepared
    data = st.load_file(os.path.join(directory, run["data"]))
    train = Split(data, "train")
    order = st.load_file(os.path.join(directory, run["batches"]))["indices"].long()
    noise = st.load_file(os.path.join(directory, run["noise"]))["noise"]
    steps, every = run["steps"], run["evalEvery"]
    if tuple(order.shape) != (steps, run["batchSize"]) or tuple(noise.shape[:3]) != (steps, 2, run["batchSize"]):
        raise ValueError(f"lab: {run['key']}: expected batch indices [{steps}, {run['batchSize']}] and noise [{steps}, 2, {run['batchSize']}, latent], "
                         f"got {list(order.shape)} and {list(noise.shape)}")
    started = time.perf_counter()
    losses, snapshots = [], []
    status, reason, done = "done", None, 0
    model.train()
    for step in range(1, steps + 1):
        real, labels, _ = train.rows(order[step - 1])
        with torch.no_grad():
            fake = model.generate(noise[step - 1, 0], labels)
        d_loss = _bce_with_logits(model.discriminate(real, labels), 1.0) + _bce_with_logits(model.discriminate(fake, labels), 0.0)
        reason = _gan_half_step(d_loss, model.discriminator, d_optimizer, "discriminator")
        if reason is not None:
            status = "diverged"
            break
        d_optimizer.zero_grad(set_to_none=True)
        g_loss = _bce_with_logits(model.discriminate(model.generate(noise[step - 1, 1], labels), labels), 1.0)
        reason = _gan_half_step(g_loss, model.generator, g_optimizer, "generator")
        if reason is not None:
            status = "diverged"
            break
        g_optimizer.zero_grad(set_to_none=True)
        d_optimizer.zero_grad(set_to_none=True)
        for scheduler in schedulers:
            scheduler.step()
        losses.append(float(g_loss))
        done = step
        if step % every == 0 or step == steps:
            snapshots.append([step, save_state(directory, os.path.join(run["bundle"], f"eval-{step}.safetensors"), model)])
    return {"status": status, "reason": reason, "completedSteps": done, "elapsedMs": (time.perf_counter() - started) * 1000,
            "losses": losses, "evals": [], "evalSnapshots": snapshots, "trace": {}}


def train_run(directory, run, prepared):
    if run.get("task") == "conditional-generation":
        return train_gan(directory, run, prepared)
    model, optimizer, scheduler, transforms = prepared
    data = st.load_file(os.path.join(directory, run["data"]))
    train, test = Split(data, "train"), Split(data, "test")
    order = st.load_file(os.path.join(directory, run["batches"]))["indices"].long()
    steps, every = run["steps"], run["evalEvery"]
    if tuple(order.shape) != (steps, run["batchSize"]):
        raise ValueError(f"lab: {run['key']}: expected batch indices of shape [{steps}, {run['batchSize']}], got {list(order.shape)}")
    trace_spec = run.get("trace")
    started = time.perf_counter()
    losses, evals, trace, snapshots = [], [], {name: [] for name in ((trace_spec or {}).get("measures") or {})}, []
    status, reason, done = "done", None, 0
    # normkit's optimizer runs the model's postStepHooks inside step() (nGPT's renormalisation onto the sphere).
    hooks = model.post_step_hooks() if hasattr(model, "post_step_hooks") else []
    # normkit's activation taps record the training forward of each probe step; its evaluations report the last.
    taps = lab_taps.ActivationTaps(model) if lab_taps.supported(model) else None
    activations = {}
    model.train()
    for step in range(1, steps + 1):
        x, y, mask = train.rows(order[step - 1])
        probe = step % every == 0 or step == steps
        with taps.recording(mask) if taps is not None and probe else contextlib.nullcontext():
            logits = _forward(model, x, mask)
        if taps is not None and probe:
            activations = taps.read()
        loss = F.cross_entropy(logits, y)
        value = float(loss)
        if not math.isfinite(value):
            status, reason = "diverged", f"the training loss is {value}"
            break
        loss.backward()
        for transform in transforms:
            transform(model)
        bad = _first_non_finite_gradient(model)
        if bad is not None:
            status, reason = "diverged", f"non-finite gradient: {bad}"
            break
        optimizer.step()
        for hook in hooks:
            hook(optimizer, (), {})
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        losses.append(value)
        done = step
        if probe:
            probes = {"runningStats": lab_probes.running_stats(model)}
            importance = lab_probes.importance_probes(model)
            if importance is not None:
                probes["importance"] = importance
            evals.append({"step": step, **evaluate(model, train, test, run), **({"activations": activations} if taps is not None else {}),
                          "probes": probes})
        # run-preset.ts reads a run's trace after the step (and its evaluation), from the model's last forward.
        if trace_spec and step % trace_spec["every"] == 0:
            for name, measure in trace_spec["measures"].items():
                trace[name].append([step, lab_traces.measure(measure, model)])
            if trace_spec.get("snapshots"):
                snapshots.append([step, save_state(directory, os.path.join(run["bundle"], f"step-{step}.safetensors"), model)])
    if taps is not None:
        taps.remove()
    return {"status": status, "reason": reason, "completedSteps": done, "elapsedMs": (time.perf_counter() - started) * 1000,
            "losses": losses, "evals": evals, "trace": trace, **({"snapshots": snapshots} if (trace_spec or {}).get("snapshots") else {})}


def save_state(directory, path, model):
    """Writes `model`'s state dict (parameters and buffers, normkit's keys, counters as F64) at `path` (relative to
    `directory`) and returns `path`: the lab loads it into the same normkit model, so an analysis or trace that reads
    the model (its outputs, weights or buffers) measures PyTorch's run with normkit's own code. The trained model's
    goes beside the run's bundle (TRAINED_FILE), a traced step's as `step-<n>.safetensors`."""
    st.save_file(st.for_normkit({name: t.detach() for name, t in model.state_dict().items()}), os.path.join(directory, path))
    return path


def run_all(directory, only=None):
    with open(os.path.join(directory, RUNS_FILE), "r", encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("format") != FORMAT or spec.get("version") != VERSION:
        raise ValueError(f"lab: expected {RUNS_FILE} of format {FORMAT!r} version {VERSION}, got {spec.get('format')!r} version {spec.get('version')!r}")
    groups, runs = {}, {}
    by_group = {}
    for run in spec["runs"]:
        by_group.setdefault(run["group"], []).append(run)
    for group, members in by_group.items():
        if only is not None and group not in only:
            continue
        prepared = []
        try:
            for run in members:
                prepared.append(prepare(directory, run))
        except Unsupported as error:
            groups[group] = {"status": "unsupported", "reason": f"{run['key']}: {error}"}
            continue
        trained = {}
        try:
            for run, parts in zip(members, prepared):
                print(f"normkit_torch.lab: {run['key']}", file=sys.stderr, flush=True)
                spec = run.get("initFrom")
                if spec:
                    if spec["key"] not in trained:
                        raise ValueError(f"lab: {run['key']} starts from {spec['key']}, which was not trained before it in this group")
                    initialize_from(parts[0], trained[spec["key"]], spec, run["key"])
                runs[run["key"]] = {**train_run(directory, run, parts), "trained": save_state(directory, os.path.join(run["bundle"], TRAINED_FILE), parts[0])}
                trained[run["key"]] = parts[0]
        except Exception as error:  # noqa: BLE001 - one group's failure is reported; the other groups still run
            groups[group] = {"status": "error", "reason": f"{run['key']}: {type(error).__name__}: {error}"}
            continue
        groups[group] = {"status": "trained", "reason": None}
    return {"torch": torch.__version__, "groups": groups, "runs": runs}


def _finite_or_null(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(v) for v in value]
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m normkit_torch.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help=f"the directory `npm run lab -- --torch` exported ({RUNS_FILE})")
    parser.add_argument("--only", help="comma-separated groups (presets) to run; default all")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = run_all(args.directory, set(args.only.split(",")) if args.only else None)
    with open(os.path.join(args.directory, RESULTS_FILE), "w", encoding="utf-8") as f:
        json.dump(_finite_or_null(results), f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
