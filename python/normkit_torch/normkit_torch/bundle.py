"""Training bundles shared with normkit (`saveBundle` / `loadBundle` in @normkit/tensor): a run continues
in PyTorch where normkit stopped, and back.

A bundle is a directory of three files:

    bundle.json            format, version, producer, the architecture description (any JSON; the
                           playground/lab families are built from it by `normkit_torch.models.build`),
                           the optimizer (type, param_groups in PyTorch's names with parameter *names*,
                           scalar state such as Adam's step) and the scheduler (last_step and schedule)
    model.safetensors      the model's state dict (PyTorch keys; normkit writes counters as F64, reads I64)
    optimizer.safetensors  per-parameter buffers as F64, keyed `<parameter>.<field>` (`.exp_avg`, ...)

Parameters are matched by name, so the two frameworks may enumerate them in different orders. Pass the
inner module, not a DistributedDataParallel wrapper (its names carry a `module.` prefix).
"""
import json
import math
import os

import torch

from . import safetensors as st

FORMAT = "normkit-bundle"
VERSION = 1
MANIFEST, MODEL, OPTIMIZER = "bundle.json", "model.safetensors", "optimizer.safetensors"


class BundleError(ValueError):
    """A bundle that does not fit the model, optimizer or scheduler it is loaded into (nothing was changed)."""


# ----------------------------------------------------------------------------------------------------
# Schedules: normkit's closed forms (packages/tensor/src/optim/schedules.ts), from their JSON description.

def schedule_fn(description):
    """lr(step, base_lr) for a schedule described by normkit's `describeSchedule` (PyTorch's option names)."""
    if description is None:
        raise BundleError("schedule_fn: the bundle's schedule is not a built-in one (null); pass your own scheduler")
    kind = description.get("type")
    if kind == "StepLR":
        size, gamma = description["step_size"], description["gamma"]
        return lambda step, base: base * gamma ** (step // size)
    if kind == "CosineAnnealingLR":
        t_max, eta_min = description["t_max"], description["eta_min"]
        return lambda step, base: eta_min + (base - eta_min) * (1 + math.cos(math.pi * step / t_max)) / 2
    if kind == "LinearWarmup":
        warmup, start = description["warmup_steps"], description["start_factor"]
        then = schedule_fn(description["then"]) if description.get("then") is not None else None

        def warmup_lr(step, base):
            if step < warmup:
                return base * (start + (1 - start) * step / warmup)
            return then(step - warmup, base) if then else base
        return warmup_lr
    if kind == "SequentialLR":
        parts = [schedule_fn(d) for d in description["schedules"]]
        milestones = description["milestones"]

        def sequential_lr(step, base):
            index = sum(1 for m in milestones if step >= m)
            start = milestones[index - 1] if index else 0
            return parts[index](step - start, base)
        return sequential_lr
    raise BundleError(f"schedule_fn: unknown schedule type {kind!r}")


_Base = getattr(torch.optim.lr_scheduler, "LRScheduler", None) or torch.optim.lr_scheduler._LRScheduler


class ClosedFormLR(_Base):
    """An LR scheduler evaluating one of normkit's schedules in closed form at `last_epoch`:
    lr = schedule(last_epoch, initial_lr), exactly normkit's LRScheduler (so the learning rates agree to
    the bit). `description` is the JSON of normkit's `describeSchedule`."""

    def __init__(self, optimizer, description, last_epoch=-1):
        self.description = description
        self.fn = schedule_fn(description)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.fn(self.last_epoch, base) for base in self.base_lrs]

    def jump_to(self, step):
        """Sets the position to `step` scheduler steps and every group's lr for it."""
        self.last_epoch = step
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs


# ----------------------------------------------------------------------------------------------------

def _names(model):
    return {id(p): name for name, p in model.named_parameters()}


def _json_value(v):
    if isinstance(v, torch.Tensor):
        return v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, tuple):
        return [_json_value(x) for x in v]
    return v


def save_bundle(directory, model, optimizer=None, scheduler=None, architecture=None):
    """Writes a bundle of `model` (and optionally its torch optimizer and scheduler) into `directory`.
    Counters are written as PyTorch keeps them (I64); normkit reads them as float64."""
    files = {MODEL: st.save(model.state_dict())}
    optimizer_part = None
    if optimizer is not None:
        names = _names(model)
        sd = optimizer.state_dict()
        ordered = [p for g in optimizer.param_groups for p in g["params"]]
        name_of = []
        for p in ordered:
            if id(p) not in names:
                raise BundleError("save_bundle: every optimizer parameter must be a parameter of the model (pass the inner module, not DDP)")
            name_of.append(names[id(p)])
        tensors, state = {}, {}
        for index, fields in sd["state"].items():
            name = name_of[index]
            for field, value in fields.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dim() == 0 and field == "step":
                    state.setdefault(name, {})[field] = int(value.item())
                elif isinstance(value, torch.Tensor):
                    tensors[f"{name}.{field}"] = value.detach().to(torch.float64).reshape(ordered[index].shape)
                elif isinstance(value, (int, float)):
                    state.setdefault(name, {})[field] = value
        groups = []
        for group in sd["param_groups"]:
            out = {"params": [name_of[i] for i in group["params"]]}
            for key, value in group.items():
                if key != "params":
                    out[key] = _json_value(value)
            groups.append(out)
        optimizer_part = {"type": type(optimizer).__name__, "param_groups": groups, "state": state}
        files[OPTIMIZER] = st.save(tensors)
    scheduler_part = None
    if scheduler is not None:
        scheduler_part = {"last_step": int(scheduler.last_epoch), "schedule": getattr(scheduler, "description", None)}
    manifest = {"format": FORMAT, "version": VERSION, "producer": "normkit_torch", "architecture": architecture,
                "optimizer": optimizer_part, "scheduler": scheduler_part}
    files[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    os.makedirs(directory, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    return manifest


def read_bundle(directory):
    """(manifest, model tensors, optimizer tensors) of a bundle directory, checking format and version."""
    with open(os.path.join(directory, MANIFEST), "rb") as f:
        manifest = json.loads(f.read().decode("utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BundleError(f"read_bundle: expected a manifest of format {FORMAT!r} version {VERSION}, got "
                          f"{manifest.get('format')!r} version {manifest.get('version')!r}")
    model_tensors = st.load_file(os.path.join(directory, MODEL))
    optimizer_tensors = st.load_file(os.path.join(directory, OPTIMIZER)) if manifest.get("optimizer") else {}
    return manifest, model_tensors, optimizer_tensors


def _optimizer_state(manifest, optimizer_tensors, model, optimizer):
    saved = manifest.get("optimizer")
    if saved is None:
        raise BundleError("load_bundle: the bundle has no optimizer state, but an optimizer was given")
    if saved["type"] != type(optimizer).__name__:
        raise BundleError(f"load_bundle: the bundle holds {saved['type']} state, the optimizer is {type(optimizer).__name__}")
    names = _names(model)
    ordered = [p for g in optimizer.param_groups for p in g["params"]]
    index_of = {names.get(id(p)): i for i, p in enumerate(ordered)}
    problems = []
    state = {}
    for name, scalars in saved.get("state", {}).items():
        if name not in index_of:
            problems.append(f"state for parameter {name!r}, which the optimizer does not hold")
            continue
        entry = state.setdefault(index_of[name], {})
        for field, value in scalars.items():
            # torch keeps Adam's step as a float tensor (1.12+); other scalars stay numbers.
            entry[field] = torch.tensor(float(value)) if field == "step" else value
    for key, t in optimizer_tensors.items():
        name, _, field = key.rpartition(".")
        if name not in index_of:
            problems.append(f"optimizer tensor {key!r} for a parameter the optimizer does not hold")
            continue
        p = ordered[index_of[name]]
        if tuple(t.shape) != tuple(p.shape):
            problems.append(f"optimizer tensor {key!r} has shape {list(t.shape)}, the parameter {list(p.shape)}")
            continue
        state.setdefault(index_of[name], {})[field] = t.to(p.dtype)
    own = optimizer.state_dict()["param_groups"]
    if len(saved["param_groups"]) != len(own):
        problems.append(f"{len(saved['param_groups'])} parameter group(s) in the bundle, the optimizer has {len(own)}")
    groups = []
    for g, (loaded, mine) in enumerate(zip(saved["param_groups"], own)):
        wanted = {index_of.get(n, -1) for n in loaded["params"]}
        if wanted != set(mine["params"]):
            problems.append(f"parameter group {g} holds other parameters than the optimizer's group {g}")
        group = dict(mine)
        for key, value in loaded.items():
            if key == "params":
                continue
            if key in mine or key == "initial_lr":
                group[key] = tuple(value) if isinstance(mine.get(key), tuple) else value
        groups.append(group)
    if problems:
        raise BundleError("load_bundle: " + "; ".join(problems))
    return {"state": state, "param_groups": groups}


def load_bundle(directory, model, optimizer=None, scheduler=None):
    """Loads a bundle into `model` (strictly; float64 counters cast to int64) and, when given, the torch
    `optimizer` and a `ClosedFormLR` scheduler (or any scheduler with `last_epoch`). All or nothing:
    everything is checked before anything changes. Returns the manifest."""
    manifest, model_tensors, optimizer_tensors = read_bundle(directory)
    state = st.to_module_dtypes(model_tensors, model)
    own = model.state_dict()
    problems = [f"missing key {k!r}" for k in own if k not in state] + [f"unexpected key {k!r}" for k in state if k not in own]
    problems += [f"{k!r} has shape {list(t.shape)}, the model {list(own[k].shape)}" for k, t in state.items()
                 if k in own and tuple(t.shape) != tuple(own[k].shape)]
    if problems:
        raise BundleError("load_bundle: " + "; ".join(problems))
    optimizer_state = _optimizer_state(manifest, optimizer_tensors, model, optimizer) if optimizer is not None else None
    position = None
    if scheduler is not None:
        saved = manifest.get("scheduler")
        if saved is None:
            raise BundleError("load_bundle: the bundle has no scheduler position, but a scheduler was given")
        position = int(saved["last_step"])
    model.load_state_dict(state, strict=True)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    if position is not None:
        if hasattr(scheduler, "jump_to"):
            scheduler.jump_to(position)
        else:
            scheduler.last_epoch = position
    return manifest


def scheduler_from_bundle(optimizer, manifest):
    """A ClosedFormLR for the bundle's schedule (after `load_bundle` set the groups' initial_lr), at its position."""
    saved = manifest.get("scheduler")
    if saved is None:
        raise BundleError("scheduler_from_bundle: the bundle has no scheduler")
    scheduler = ClosedFormLR(optimizer, saved["schedule"])
    scheduler.jump_to(int(saved["last_step"]))
    return scheduler
