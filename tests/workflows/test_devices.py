"""Device settings at the workflow level: a device that is not here stops the run before anything is written;
workers (spawned or Hydra-launched) each get their own GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.workflows.test_cli_errors import assert_one_line_error


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the refusal on a machine without CUDA")
@pytest.mark.parametrize("command", ["run", "search"])
def test_cuda_without_cuda_is_one_line_exit_2_and_nothing_written(nasflow, workspace: Path, digits_folder: Path,
                                                                   command: str) -> None:
    proc = nasflow(command, "--no-progress", "search.n_trials=1", f"data.path={digits_folder}", "train.device=cuda")
    assert_one_line_error(proc, r"train.device=cuda: CUDA is not available .*use train.device=auto or train.device=cpu")
    assert not workspace.exists()


def test_an_unknown_precision_is_one_line(nasflow, workspace: Path, digits_folder: Path) -> None:
    proc = nasflow("search", "--no-progress", "search.n_trials=1", f"data.path={digits_folder}", "train.precision=fp8")
    assert_one_line_error(proc, r"train.precision=fp8 is not a precision; use one of 32, bf16-mixed, 16-mixed")
    assert not workspace.exists()


def test_hydra_jobs_take_gpus_by_job_number_modulo_the_gpus() -> None:
    from omegaconf import OmegaConf

    from workflows.hydra_worker import job_gpu

    gpus = OmegaConf.create({"gpus": [0, 2, 3]}).gpus
    assert [job_gpu(n, gpus) for n in range(5)] == ["0", "2", "3", "0", "2"]
    assert job_gpu(None, gpus) == "0"
    if not torch.cuda.is_available():
        assert job_gpu(3, "auto") is None  # no GPU: the job keeps its environment and trains on the CPU


def test_spawned_workers_get_cuda_visible_devices_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from nas.device import DeviceError
    from workflows.search_run import worker_envs

    def ctx(workers: int, per_gpu: int | None) -> SimpleNamespace:
        search = {"workers": workers, "gpus": [1, 3], "workers_per_gpu": per_gpu}
        return SimpleNamespace(cfg=OmegaConf.create({"search": search}))

    monkeypatch.setenv("NASFLOW_PROBE", "kept")
    envs = worker_envs(ctx(4, 2))
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["1", "3", "1", "3"]
    assert all(e["NASFLOW_PROBE"] == "kept" for e in envs)
    with pytest.raises(DeviceError, match="search.workers=3 on 2 GPU"):
        worker_envs(ctx(3, None))


def test_a_bf16_run_records_its_device_on_every_mlflow_run_and_kb_record(nasflow, workspace: Path,
                                                                           digits_folder: Path) -> None:
    from mlflow import MlflowClient

    from knowledge_base import KnowledgeBase
    from nas.device import device_name, resolve_device
    from tests.workflows.conftest import summary_of

    summary = summary_of(nasflow("run", "--json", "--no-progress", f"data.path={digits_folder}", "search.n_trials=2",
                                 "train.epochs=1", "train.retrain_epochs=1", "train.precision=bf16-mixed",
                                 "train.device=cpu"))
    expected = device_name(resolve_device("cpu"))
    client = MlflowClient(summary["tracking_uri"])
    experiment = client.get_experiment_by_name("nasflow-digits_cnn-digits")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert {r.data.tags.get("nasflow.kind") for r in runs} == {"search", "trial", "retrain"}
    assert {r.data.tags.get("nasflow.device") for r in runs} == {expected}
    retrain = next(r for r in runs if r.data.tags["nasflow.kind"] == "retrain")
    assert retrain.data.params["train.precision"] == "bf16-mixed"
    search = next(r for r in runs if r.data.tags["nasflow.kind"] == "search")
    assert retrain.data.params["train.augment"] == search.data.params["train.augment"] == "none"  # auto: digits
    records = KnowledgeBase(summary["kb_url"]).query("task = 'digits'")
    assert len(records.rows) == 3 and {row["device"] for row in records.to_dicts()} == {expected}


def test_a_bad_augmentation_is_one_line(nasflow, workspace: Path, digits_folder: Path) -> None:
    proc = nasflow("search", "--no-progress", f"data.path={digits_folder}", "train.augment=[crop,rotate]")
    assert_one_line_error(proc, r"train.augment=crop,rotate: unknown augmentation rotate; use none or a list of crop")
    assert not workspace.exists()
