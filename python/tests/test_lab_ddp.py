"""normkit_torch.lab_ddp, the claims lab's data-parallel training in PyTorch (normkit's `dataParallel` resource):
2 processes x 2 rows of each exported batch of 4, with synchronised BatchNorm and with local BatchNorm, against
lab.py's one-process run of the same export. The lab's side is apps/lab/src/torch-replicate.test.ts."""
import pytest

from normkit_torch import lab
from normkit_torch import lab_ddp
from test_lab import ARCHITECTURE, _export

VARIANTS = [{"id": "sync", "syncBatchNorm": True}, {"id": "local", "syncBatchNorm": False}]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ddp")
    _export(directory, ARCHITECTURE)
    single = lab.run_all(str(directory))["runs"]["p/0/r"]
    return single, lab_ddp.train_data_parallel(str(directory), "p/0/r", VARIANTS, size=2)


def _variant(ranks, id_):
    return [next(r for r in replicas if r["id"] == id_) for replicas in ranks]


def _batch_losses(replicas):
    return [sum(r["losses"][i] for r in replicas) / len(replicas) for i in range(len(replicas[0]["losses"]))]


def test_synchronised_ranks_on_half_batches_take_the_one_process_steps(trained):
    single, ranks = trained
    assert [[r["rank"] for r in replicas] for replicas in ranks] == [[0, 0], [1, 1]]
    sync = _variant(ranks, "sync")
    assert all(r["status"] == "done" and r["reason"] is None and len(r["stepMs"]) == 6 for r in sync)
    # Each rank's own shard loss is not the batch's; their mean is, to float32 rounding (sums in another order).
    assert sync[0]["losses"] != sync[1]["losses"]
    for a, b in zip(_batch_losses(sync), single["losses"]):
        assert abs(a - b) <= 1e-5 * abs(b)
    stats = single["evals"][-1]["probes"]["runningStats"]
    for module, s in stats.items():
        for field, values in (("running_mean", s["mean"]), ("running_var", s["var"])):
            for rank in sync:
                assert rank["buffers"][f"{module}.{field}"] == pytest.approx(values, rel=1e-5, abs=1e-6)
    assert sync[0]["buffers"] == sync[1]["buffers"]
    assert sync[0]["final"]["testAccuracy"] == single["evals"][-1]["test"]["accuracy"]


def test_local_batch_norm_normalises_each_ranks_two_rows(trained):
    single, ranks = trained
    local = _variant(ranks, "local")
    assert all(r["status"] == "done" for r in local)
    # Two rows' statistics move the loss at once (from the first step) and each rank keeps its own running statistics.
    assert max(abs(a - b) / abs(b) for a, b in zip(_batch_losses(local), single["losses"])) > 1e-2
    assert local[0]["buffers"] != local[1]["buffers"]
    assert _batch_losses(local) != _batch_losses(_variant(ranks, "sync"))


def test_a_run_the_export_does_not_have_is_refused(tmp_path):
    _export(tmp_path, ARCHITECTURE)
    with pytest.raises(ValueError, match="expected a run 'p/0/nothing'"):
        lab_ddp.train_data_parallel(str(tmp_path), "p/0/nothing", VARIANTS)
