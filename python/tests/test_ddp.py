"""Two processes under torchrun (gloo, CPU), each on half the batch with synchronised statistics, equal
one process on the whole batch after 5 SGD steps (examples/train_ddp.py)."""
import json
import os
import socket
import subprocess
import sys

import torch

from normkit_torch import safetensors as st

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "normkit_torch", "examples", "train_ddp.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, tmp_path, name):
    out = tmp_path / name
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(args + [EXAMPLE, "--steps", "5", "--out", str(out)], env=env, timeout=120,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    return st.parse(out.read_bytes())


def test_two_processes_on_half_batches_equal_one_process_on_the_whole_batch(tmp_path):
    single, single_meta = run([sys.executable], tmp_path, "single.safetensors")
    # --redirects 1 --tee 1: torch 1.13's torchrun crashes on its default "0" under Python 3.11.
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                f"--master_port={free_port()}", "--redirects", "1", "--tee", "1"]
    ddp, ddp_meta = run(torchrun, tmp_path, "ddp.safetensors")
    assert ddp_meta["world_size"] == "2" and single_meta["world_size"] == "1"
    assert set(ddp) == set(single)
    # Parameters (conv, ScaledStdConv2d, weight-normed Linear, every normalizer's) and the running
    # statistics of the synchronised BatchNorm and SwitchableNorm, to float32 tolerance.
    for name, expected in single.items():
        assert torch.allclose(ddp[name], expected, rtol=1e-5, atol=1e-6), (name, float((ddp[name] - expected).abs().max()))
    assert float(ddp["1.num_batches_tracked"]) == 5.0
    for a, b in zip(json.loads(single_meta["losses"]), json.loads(ddp_meta["losses"])):
        assert abs(a - b) <= 1e-5 * abs(a)


def test_convert_sync_swaps_torch_batch_norm_sharing_its_tensors_and_leaves_ghost_batches_local():
    import normkit_torch as nt

    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3), nt.GhostBatchNorm(3, virtual_batch_size=2),
                                nt.ConditionalBatchNorm(3, 2), nt.SwitchableNorm(3))
    weight, running_mean = model[0].weight, model[0].running_mean
    keys = list(model.state_dict())
    nt.convert_sync(model)
    assert isinstance(model[0], nt.BatchNorm) and model[0].all_reduce is not None
    assert model[0].weight is weight and model[0].running_mean is running_mean
    assert model[1].all_reduce is None            # ghost batches stay per process, as in normkit
    assert model[2].bn.all_reduce is not None     # CBN's shared BatchNorm statistics are synchronised
    assert model[3].all_reduce is None            # SwitchableNorm only with switchable=True
    assert list(model.state_dict()) == keys
