"""Data-parallel training on CPU with normkit normalizers, synchronised batch statistics and AGC.

    torchrun --nproc_per_node=2 train_ddp.py --out ddp.safetensors   # 2 processes, gloo, half the batch each
    python3 train_ddp.py --out single.safetensors                    # 1 process, the whole batch

Both give the same parameters and running statistics after the same number of SGD steps (the test
`python/tests/test_ddp.py` checks it to float32 tolerance): every process takes an equal share of
the global batch, the loss is a mean over the local share, `convert_sync` makes BatchNorm and
SwitchableNorm take their statistics over all processes, and DDP averages the gradients.
torch 1.13 under Python 3.11 needs `--redirects 1 --tee 1` (its parser maps the default "0" to None
and crashes in `to_map`); torch 2.x does not. Multi-node: `torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 train_ddp.py`.
Rank 0 writes the final state dict with `for_normkit` (float64 counters), readable by normkit.

From a normkit bundle (`saveBundle` in @normkit/tensor: weights, architecture, optimizer state, schedule):

    torchrun --nproc_per_node=2 --redirects 1 --tee 1 train_ddp.py --bundle run/ --data batches.safetensors \
        --steps 20 --out-bundle continued/ [--losses losses.json] [--eval-out eval.safetensors]

builds the playground/lab model the bundle describes (`normkit_torch.models.build`), loads weights,
optimizer moments and step counts and the schedule position, synchronises its batch statistics and
trains `--steps` steps on `x.<k>` / `y.<k>` (class ids) of the data file, each process on its half of
the batch; rank 0 writes the continued bundle, which normkit loads with `loadBundle`.
"""
import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import normkit_torch as nt  # noqa: E402
from normkit_torch import safetensors as st  # noqa: E402

GLOBAL_BATCH = 8


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),                      # torch's own BatchNorm: convert_sync swaps it
        nn.ReLU(),
        nt.ScaledStdConv2d(4, 4, 3, padding=1, nonlinearity="relu"),
        nt.SwitchableNorm(4),                   # batch statistics synchronised with switchable=True
        nt.FilterResponseNormTLU(4, learnable_eps=True),
        nn.Flatten(),
        nt.weight_norm(nn.Linear(4 * 4 * 4, 3)),
        nt.RMSNorm(3),
    )


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(GLOBAL_BATCH, 2, 4, 4, generator=g), torch.randn(GLOBAL_BATCH, 3, generator=g)


def continue_bundle(args):
    """Continues a normkit bundle under DDP (see the module docstring)."""
    from normkit_torch import bundle as nb
    from normkit_torch import models

    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    manifest, _, _ = nb.read_bundle(args.bundle)
    model = models.build(manifest["architecture"])
    optimizer = getattr(torch.optim, manifest["optimizer"]["type"])(model.parameters())
    manifest = nb.load_bundle(args.bundle, model, optimizer)
    scheduler = nb.scheduler_from_bundle(optimizer, manifest) if manifest.get("scheduler") else None
    data = st.load_file(args.data)
    rank, world, trained = 0, 1, model
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        model = nt.convert_sync(model, process_group=dist.new_group(backend="gloo"))
        trained = nn.parallel.DistributedDataParallel(model)
    model.train()
    losses = []
    for k in range(args.steps):
        x, y = data[f"x.{k}"], data[f"y.{k}"].long()
        share = x.shape[0] // world
        x, y = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
        # Token families take the [N, L] padding mask (`mask.<k>` in the data file) with the tokens.
        mask = data.get(f"mask.{k}")
        logits = trained(x) if mask is None else trained(x, mask[rank * share : (rank + 1) * share])
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        # normkit's post-step hooks (the ngpt family's renormalisation onto the sphere), as normkit's engine runs them.
        for hook in getattr(model, "post_step_hooks", lambda: [])():
            hook(optimizer, (), {})
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        total = loss.detach().clone()
        if distributed:
            dist.all_reduce(total)
        losses.append(float(total) / world)
    if rank == 0:
        if args.out_bundle:
            nb.save_bundle(args.out_bundle, model, optimizer, scheduler, architecture=manifest["architecture"])
        if args.losses:
            with open(args.losses, "w") as f:
                json.dump(losses, f)
        if args.eval_out:
            model.eval()
            with torch.no_grad():
                st.save_file({"output": model(data["eval.x"])}, args.eval_out)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out")
    parser.add_argument("--no-sync", action="store_true", help="keep batch statistics local (to see that synchronisation matters)")
    parser.add_argument("--bundle", help="continue this normkit bundle directory instead of the built-in model")
    parser.add_argument("--data", help="with --bundle: safetensors with x.<k>, y.<k> (and eval.x)")
    parser.add_argument("--out-bundle", help="with --bundle: write the continued bundle here")
    parser.add_argument("--losses", help="with --bundle: write the per-step losses (JSON) here")
    parser.add_argument("--eval-out", help="with --bundle: write the eval output on eval.x here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.bundle:
        return continue_bundle(args)
    if not args.out:
        parser.error("--out is required without --bundle")
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    model = build_model()
    x, target = data()
    rank, world = 0, 1
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        # A separate group for the statistics, so their collectives never interleave with DDP's gradient buckets.
        stats_group = dist.new_group(backend="gloo")
        if not args.no_sync:
            model = nt.convert_sync(model, process_group=stats_group, switchable=True)
        share = GLOBAL_BATCH // world
        x, target = x[rank * share : (rank + 1) * share], target[rank * share : (rank + 1) * share]
        trained = nn.parallel.DistributedDataParallel(model)
    else:
        trained = model
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    losses = []
    for _ in range(args.steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(trained(x), target)
        loss.backward()
        # Between backward and step: DDP has already averaged the gradients, so every process clips alike.
        nt.adaptive_grad_clip_(model.named_parameters(), clipping=0.1)
        optimizer.step()
        total = loss.detach().clone()
        if distributed:
            dist.all_reduce(total)
        losses.append(float(total) / world)
    if rank == 0:
        st.save_file(st.for_normkit(model.state_dict()), args.out, {"losses": json.dumps(losses), "world_size": str(world)})
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
