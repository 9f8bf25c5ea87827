"""The claims lab's data-parallel training in PyTorch: normkit's `dataParallel` resource (packages/experiments
data-parallel.ts, `trainReplica`) on processes over torch.distributed (gloo, CPU) instead of worker threads.

    /usr/bin/python3 -m normkit_torch.lab_ddp DIR REQUEST OUT

DIR is an export of `npm run lab -- --torch` (lab.py's `lab-runs.json`); REQUEST (JSON) names one of its runs and
the variants to train data-parallel:

    {"key": "sync-batch-norm-small-batch/0/single", "size": 2,
     "variants": [{"id": "sync", "syncBatchNorm": true}, {"id": "local", "syncBatchNorm": false}]}

OUT gets `{"torch": version, "ranks": [[replica run, ...] per variant] per rank}`, each replica run as normkit's
ReplicaRun: {"id", "rank", "status": "done" | "diverged", "reason", "losses" (this rank's shard loss at every step),
"stepMs" (wall time of every step, the evaluating ones included), "final": {"testAccuracy", "testLoss",
"trainAccuracy"} (the last evaluation) or null, "buffers": {state-dict key: [values]}} (non-finite numbers as null).

Each of `size` processes builds every variant from the run's step-0 bundle (rank 0's state broadcast, as normkit's
replicas do), converts the BatchNorms of a synchronised variant (sync.convert_sync: statistics and their backward
over every rank's rows), and steps the variants in lockstep (one step of each in turn, the order reversed every
other step, as trainReplica does, so timings share the machine's load). A step takes this rank's rows
[rank * B / size, (rank + 1) * B / size) of the exported batch, the mean cross entropy of its shard, backward, then
one all_reduce of every gradient (float64, with a presence flag per parameter, as normkit's averageGradients) and of
the shard loss, so every rank sees a non-finite loss on any rank and all stop at the same step; then lab.train_run's
gradient transforms, optimizer step, post-step hooks and scheduler, and lab.evaluate every `evalEvery` steps and
after the last.
"""
import argparse
import json
import math
import os
import socket
import sys
import tempfile
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from . import lab
from . import safetensors as st
from .sync import convert_sync


def average_gradients(model, size, loss):
    """normkit's averageGradients: one all_reduce of [gradients, one presence flag per parameter]; a parameter
    some rank has a gradient for gets the mean over ranks. The shard loss rides along: returns the sum of the ranks'
    losses (non-finite when any rank's is)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    flat = torch.zeros(sum(p.numel() for p in parameters) + len(parameters) + 1, dtype=torch.float64)
    offset, total = 0, flat.numel() - len(parameters) - 1
    for index, p in enumerate(parameters):
        if p.grad is not None:
            flat[offset:offset + p.numel()] = p.grad.reshape(-1)
            flat[total + index] = 1
        offset += p.numel()
    flat[-1] = loss
    dist.all_reduce(flat)
    offset = 0
    for index, p in enumerate(parameters):
        if flat[total + index] > 0:
            p.grad = (flat[offset:offset + p.numel()] / size).to(p.dtype).reshape(p.shape)
        offset += p.numel()
    return float(flat[-1])


class Replica:
    """One variant of the run on this rank: lab.prepare's model, optimizer, scheduler and transforms."""

    def __init__(self, directory, run, variant):
        self.id = variant["id"]
        self.model, self.optimizer, self.scheduler, self.transforms = lab.prepare(directory, run)
        if variant["syncBatchNorm"]:
            self.model = convert_sync(self.model)
        # Every rank loaded the same bundle already; the broadcast makes it certain (as normkit's replicas and DDP do).
        with torch.no_grad():
            for t in self.model.state_dict().values():
                dist.broadcast(t, 0)
        self.hooks = self.model.post_step_hooks() if hasattr(self.model, "post_step_hooks") else []
        self.status, self.reason, self.losses, self.step_ms, self.final = "ready", None, [], [], None


def _step(replica, rank, size, step, run, train, test, order):
    rows = run["batchSize"] // size
    x, y, mask = train.rows(order[step - 1][rank * rows:(rank + 1) * rows])
    model = replica.model
    model.train()
    loss = F.cross_entropy(lab._forward(model, x, mask), y)
    value = float(loss)
    # Backward and the gradient all_reduce run on every rank even after a non-finite loss: the collectives stay paired.
    loss.backward()
    total = average_gradients(model, size, value)
    for transform in replica.transforms:
        transform(model)
    bad = lab._first_non_finite_gradient(model)
    if not math.isfinite(value) or not math.isfinite(total) or bad is not None:
        replica.status = "diverged"
        replica.reason = (f"the training loss is {value}" if not math.isfinite(value) else
                          f"another rank's training loss is non-finite (sum {total})" if not math.isfinite(total) else f"non-finite gradient: {bad}")
        return
    replica.optimizer.step()
    for hook in replica.hooks:
        hook(replica.optimizer, (), {})
    replica.optimizer.zero_grad(set_to_none=True)
    replica.scheduler.step()
    replica.losses.append(value)
    if step % run["evalEvery"] == 0 or step == run["steps"]:
        replica.final = lab.evaluate(model, train, test, run)
    if step == run["steps"]:
        replica.status = "done"


def train_replicas(directory, run, variants, rank, size):
    """This rank's part of the request (the process group is initialised): its replica runs, one per variant."""
    if run["task"] != "classification":
        raise lab.Unsupported(f"data-parallel training of task {run['task']!r} (normkit's replicas train classification only)")
    if run["batchSize"] % size:
        raise ValueError(f"lab_ddp: expected batchSize a multiple of the {size} ranks (equal shards), got {run['batchSize']}")
    data = st.load_file(os.path.join(directory, run["data"]))
    train, test = lab.Split(data, "train"), lab.Split(data, "test")
    order = st.load_file(os.path.join(directory, run["batches"]))["indices"].long()
    replicas = [Replica(directory, run, v) for v in variants]
    for step in range(1, run["steps"] + 1):
        turn = replicas[::-1] if (step - 1) % 2 == 1 else replicas
        for replica in turn:
            if replica.status != "ready":
                continue
            started = time.perf_counter()
            _step(replica, rank, size, step, run, train, test, order)
            replica.step_ms.append((time.perf_counter() - started) * 1000)
    return [{
        "id": r.id, "rank": rank, "status": r.status, "reason": r.reason, "losses": r.losses, "stepMs": r.step_ms,
        "final": None if r.final is None else {"testAccuracy": r.final["test"]["accuracy"], "testLoss": r.final["test"]["loss"],
                                                "trainAccuracy": r.final["train"]["accuracy"]},
        "buffers": {name: b.double().reshape(-1).tolist() for name, b in r.model.named_buffers()},
    } for r in replicas]


def _rank(rank, size, port, directory, run, variants, out):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size, timeout=timedelta(seconds=300))
    try:
        runs = train_replicas(directory, run, variants, rank, size)
    finally:
        dist.destroy_process_group()
    with open(f"{out}.rank{rank}", "w", encoding="utf-8") as f:
        json.dump(runs, f)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_data_parallel(directory, key, variants, size=2):
    """Every rank's replica runs (`[rank][variant]`) of the exported run `key`, trained on `size` processes."""
    with open(os.path.join(directory, lab.RUNS_FILE), "r", encoding="utf-8") as f:
        spec = json.load(f)
    run = next((r for r in spec["runs"] if r["key"] == key), None)
    if run is None:
        raise ValueError(f"lab_ddp: expected a run {key!r} in {lab.RUNS_FILE}, got none")
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "ranks")
        mp.start_processes(_rank, args=(size, _free_port(), directory, run, variants, out), nprocs=size, join=True, start_method="spawn")
        ranks = []
        for rank in range(size):
            with open(f"{out}.rank{rank}", "r", encoding="utf-8") as f:
                ranks.append(json.load(f))
    return ranks


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m normkit_torch.lab_ddp", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help=f"the directory `npm run lab -- --torch` exported ({lab.RUNS_FILE})")
    parser.add_argument("request", help="JSON: {key, size, variants: [{id, syncBatchNorm}]}")
    parser.add_argument("out", help="where to write every rank's replica runs")
    args = parser.parse_args(argv)
    with open(args.request, "r", encoding="utf-8") as f:
        request = json.load(f)
    ranks = train_data_parallel(args.directory, request["key"], request["variants"], request.get("size", 2))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(lab._finite_or_null({"torch": torch.__version__, "ranks": ranks}), f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
