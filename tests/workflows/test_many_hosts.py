"""The test of record for many hosts on one machine: worker groups with workspaces of their own (as separate
machines would have), each its own ``nasflow search`` command, sharing one PostgreSQL study, one PostgreSQL
knowledge base and one tracking server; then ``kill -9`` of one group mid-trial."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from nas.study import make_storage
from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of
from tests.workflows.test_resume_and_workers import postgres_url
from tests.workflows.tracking_server import postgres_database

pytestmark = pytest.mark.slow
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@pytest.fixture
def services(tracking_server: str) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database for the study and the knowledge base, the session's tracking server and names
    (study, experiment, registered model) no other test or rerun uses."""
    name = f"mh-{uuid.uuid4().hex[:8]}"
    with postgres_database(postgres_url()) as url:
        yield {"db": url, "tracking": tracking_server, "name": name}


def group_args(services: dict[str, str], digits_folder: Path, n_trials: int, *extra: str) -> list[str]:
    """The command line of one worker group (the same on every "host" but its seed)."""
    db, name = services["db"], services["name"]
    return ["--json", "--no-progress", f"data.path={digits_folder}", f"search.storage={db}", f"kb.url={db}",
            f"tracking.uri={services['tracking']}", f"search.study_name={name}", f"tracking.experiment={name}",
            f"tracking.registered_model={name}", f"search.n_trials={n_trials}", "train.epochs=1",
            "search.pruner=none", *extra]


def start_group(workspace: Path, args: list[str], seed: int) -> subprocess.Popen:
    """One worker group: ``nasflow search`` in a workspace of its own, output kept in files beside it."""
    workspace.mkdir(parents=True)
    with open(workspace.with_suffix(".out"), "w") as out, open(workspace.with_suffix(".err"), "w") as err:
        return subprocess.Popen([*NASFLOW, "search", *args, f"search.seed={seed}"], cwd=REPO, env=cli_env(workspace),
                                stdout=out, stderr=err, text=True)


def finish(proc: subprocess.Popen, workspace: Path) -> subprocess.CompletedProcess:
    """Wait for a group; its output as a completed process."""
    proc.wait(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, workspace.with_suffix(".out").read_text(),
                                       workspace.with_suffix(".err").read_text())


def load(services: dict[str, str]) -> optuna.Study:
    return optuna.load_study(study_name=services["name"], storage=make_storage(services["db"]))


def pid_of(trial: Any) -> int | None:
    worker = trial.user_attrs.get("worker", "")
    return int(worker.split(":")[1]) if worker.count(":") == 2 else None


def ended_in_mlflow(services: dict[str, str], numbers: list[int]) -> bool:
    """Whether the MLflow runs of trials ``numbers`` are all written and ended."""
    from mlflow import MlflowClient

    client = MlflowClient(services["tracking"])
    experiment = client.get_experiment_by_name(services["name"])
    runs = client.search_runs([experiment.experiment_id], "tags.`nasflow.kind` = 'trial'", max_results=1000)
    ended = {int(r.data.tags["nasflow.trial"]) for r in runs if r.info.status != "RUNNING"}
    return set(numbers) <= ended


def check_records(services: dict[str, str], n_trials: int) -> optuna.Study:
    """The study holds exactly ``n_trials`` finished trials, no configuration trained twice, each recorded once in
    the knowledge base and once (ended) in MLflow, with the knowledge base naming that run."""
    from mlflow import MlflowClient

    from knowledge_base import KnowledgeBase

    study = load(services)
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    assert len(finished) == n_trials
    trained = [t.user_attrs["arch_key"] for t in finished
               if t.state.name == "COMPLETE" and not {"reused_from", "duplicate_of"} & set(t.user_attrs)]
    assert len(trained) == len(set(trained)), "no configuration trained twice"
    with KnowledgeBase(services["db"]) as kb:
        records = [kb.get(row["id"]) for row in kb.query(f"kind = 'trial' and lineage.study_name = '{services['name']}'"
                                                         ).to_dicts()]
    in_kb = Counter(r.lineage["trial_number"] for r in records)
    client = MlflowClient(services["tracking"], registry_uri=services["tracking"])
    experiment = client.get_experiment_by_name(services["name"])
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), "artifacts go through the server"
    runs = [r for r in client.search_runs([experiment.experiment_id], max_results=1000)
            if r.data.tags.get("nasflow.kind") == "trial"]
    in_mlflow = Counter(int(r.data.tags["nasflow.trial"]) for r in runs if r.info.status != "RUNNING")
    numbers = sorted(t.number for t in finished)
    assert sorted(n for n in in_kb if n in numbers) == numbers and all(in_kb[n] == 1 for n in numbers)
    assert sorted(n for n in in_mlflow if n in numbers) == numbers and all(in_mlflow[n] == 1 for n in numbers)
    run_of = {int(r.data.tags["nasflow.trial"]): r.info.run_id for r in runs}
    assert {r.lineage["trial_number"]: r.lineage["mlflow_run_id"] for r in records
            if r.lineage["trial_number"] in numbers} == {n: run_of[n] for n in numbers}
    return study


def test_two_groups_share_one_study_knowledge_base_and_tracking_server(services: dict[str, str], digits_folder: Path,
                                                                        tmp_path: Path) -> None:
    from mlflow import MlflowClient

    args = group_args(services, digits_folder, 4)
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    procs = [start_group(ws, args, seed) for seed, ws in enumerate(hosts)]
    summaries = [summary_of(finish(proc, ws)) for proc, ws in zip(procs, hosts)]
    study = check_records(services, 4)
    assert {pid_of(t) for t in study.trials} == {p.pid for p in procs}, "both groups ran trials"
    assert all(s["left_running"] == [] for s in summaries)
    for ws in hosts:
        assert not (ws / "mlflow.db").exists() and not (ws / "mlartifacts").exists() and not (ws / "kb.db").exists()

    retrain = summary_of(subprocess.run([*NASFLOW, "retrain", *args, "train.retrain_epochs=1"], cwd=REPO,
                                        env=cli_env(hosts[0]), capture_output=True, text=True, timeout=600))
    client = MlflowClient(services["tracking"], registry_uri=services["tracking"])
    versions = client.search_model_versions(f"name = '{services['name']}'")
    assert [v.version for v in versions] == ["1"] and retrain["version"] == "1"


def test_kill_9_of_one_group_mid_trial_is_retried_by_the_other_through_the_heartbeat(
        services: dict[str, str], digits_folder: Path, tmp_path: Path) -> None:
    args = group_args(services, digits_folder, 4, "search.heartbeat=1", "search.grace_period=5")
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    victim_group, survivor = (start_group(ws, args, seed) for seed, ws in enumerate(hosts))
    deadline, victim = time.monotonic() + 300, None
    while victim is None:
        assert time.monotonic() < deadline and victim_group.poll() is None and survivor.poll() is None, \
            "group a never ran a trial while group b was still searching"
        time.sleep(0.05)
        try:
            trials = [t for t in load(services).trials if pid_of(t) == victim_group.pid]
        except KeyError:  # the study does not exist yet
            continue
        done = [t.number for t in trials if t.state in FINISHED]
        if not done or ended_in_mlflow(services, done):  # no MLflow write of a finished trial still in flight
            victim = next((t for t in trials if t.state.name == "RUNNING"), None)
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
