"""The test of record for many hosts on one machine: worker groups with workspaces of their own (as separate
machines would have), each its own ``nasflow search`` command, sharing one PostgreSQL study, one PostgreSQL
knowledge base and one tracking server; then ``kill -9`` of one group mid-trial."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from nas.recovery import HOST_ENV
from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of
from tests.workflows.shared_services import check_records, load, overrides, pid_of
from workflows.pause import MARKER_ENV, PAUSE_ENV

pytestmark = pytest.mark.slow


def start_group(workspace: Path, args: list[str], seed: int, **extra_env: str) -> subprocess.Popen:
    """One worker group: ``nasflow search`` in a workspace of its own, output kept in files beside it."""
    workspace.mkdir(parents=True)
    args = ["--json", "--no-progress", *args]
    with open(workspace.with_suffix(".out"), "w") as out, open(workspace.with_suffix(".err"), "w") as err:
        env = {**cli_env(workspace), HOST_ENV: f"host-{seed}", **extra_env}  # as separate machines: no pid check across them
        return subprocess.Popen([*NASFLOW, "search", *args, f"search.seed={seed}"], cwd=REPO, env=env,
                                stdout=out, stderr=err, text=True)


def finish(proc: subprocess.Popen, workspace: Path) -> subprocess.CompletedProcess:
    """Wait for a group; its output as a completed process."""
    proc.wait(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, workspace.with_suffix(".out").read_text(),
                                       workspace.with_suffix(".err").read_text())


def test_two_groups_share_one_study_knowledge_base_and_tracking_server(services: dict[str, str], digits_folder: Path,
                                                                        tmp_path: Path) -> None:
    from mlflow import MlflowClient

    args = overrides(services, digits_folder, 4)
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    procs = [start_group(ws, args, seed) for seed, ws in enumerate(hosts)]
    summaries = [summary_of(finish(proc, ws)) for proc, ws in zip(procs, hosts)]
    study = check_records(services, 4)
    assert {pid_of(t) for t in study.trials} == {p.pid for p in procs}, "both groups ran trials"
    assert all(s["left_running"] == [] for s in summaries)
    for ws in hosts:
        assert not (ws / "mlflow.db").exists() and not (ws / "mlartifacts").exists() and not (ws / "kb.db").exists()

    retrain = summary_of(subprocess.run([*NASFLOW, "retrain", "--json", "--no-progress", *args,
                                         "train.retrain_epochs=1"], cwd=REPO, env=cli_env(hosts[0]),
                                        capture_output=True, text=True, timeout=600))
    client = MlflowClient(services["tracking"], registry_uri=services["tracking"])
    versions = client.search_model_versions(f"name = '{services['name']}'")
    assert [v.version for v in versions] == ["1"] and retrain["version"] == "1"


def _trial_runs(services: dict[str, str], number: int) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(services["tracking"])
    experiment = client.get_experiment_by_name(services["name"])
    return [] if experiment is None else client.search_runs(
        [experiment.experiment_id], f"tags.`nasflow.kind` = 'trial' and tags.`nasflow.trial` = '{number}'")


def test_kill_9_of_one_group_mid_trial_is_retried_by_the_other_through_the_heartbeat(
        services: dict[str, str], digits_folder: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    args = overrides(services, digits_folder, 4, "search.heartbeat=1", "search.grace_period=5")
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    marker = tmp_path / "paused"  # the victim stops for good inside its first trial (workflows/pause.py)
    victim_group = start_group(hosts[0], args, 0, **{PAUSE_ENV: "trial-epoch", MARKER_ENV: str(marker)})
    survivor = start_group(hosts[1], args, 1)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert time.monotonic() < deadline and victim_group.poll() is None, "group a never reached a trial epoch"
        time.sleep(0.05)
    (victim,) = [t for t in load(services).trials if pid_of(t) == victim_group.pid and t.state.name == "RUNNING"]
    while not _trial_runs(services, victim.number):  # its writer opened the trial's run on the server
        assert time.monotonic() < deadline, "the victim's trial run was never created"
        time.sleep(0.05)
    os.kill(victim_group.pid, signal.SIGKILL)
    victim_group.wait()
    assert load(services).trials[victim.number].state.name == "RUNNING", "killed mid-trial"

    summary = summary_of(finish(survivor, hosts[1]))
    study = check_records(services, 4)
    assert study.trials[victim.number].state.name == "FAIL"
    assert "fail_reason" not in study.trials[victim.number].user_attrs  # failed by the heartbeat, not a local pid check
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1 and retries[0].params == victim.params and retries[0].state.name == "COMPLETE"
    assert pid_of(retries[0]) == survivor.pid
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING))
    assert summary["left_running"] == []
    # the killed group's open runs (its trial and its search) were ended by the survivor on the shared server
    worker = victim.user_attrs["worker"]
    (run,) = _trial_runs(services, victim.number)
    assert run.info.status == "FAILED"
    assert run.data.tags["nasflow.failed_reason"].startswith(
        f"process {worker} stopped beating (storage heartbeat) while this run was open; ended by host-1:")
    client = MlflowClient(services["tracking"])
    left = client.search_runs([client.get_experiment_by_name(services["name"]).experiment_id],
                              f"tags.`nasflow.worker` = '{worker}'")
    assert {r.data.tags["nasflow.kind"] for r in left} == {"search", "trial"}
    assert all(r.info.status == "FAILED" for r in left)
