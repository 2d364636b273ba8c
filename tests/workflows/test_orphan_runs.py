"""Runs left RUNNING by a dead process (of this host, or a host the heartbeat found stopped) are ended FAILED, with
the reason; the missing runs of finished trials are written from the study by a start on any host, once."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.nas.test_liveness import process_of_another_host, wait_until_gone
from workflows.tracking import fail_orphan_runs

if TYPE_CHECKING:
    from mlflow import MlflowClient


@pytest.fixture(scope="module")
def dead() -> str:
    """The worker id of a process of this host that has ended."""
    code = "from nas.recovery import worker_id; print(worker_id())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2]).stdout.strip()


def test_running_runs_of_a_dead_process_end_failed_with_the_reason(mlflow_experiment: tuple[MlflowClient, str],
                                                                   dead: str) -> None:
    from nas.recovery import worker_id

    client, experiment = mlflow_experiment
    tags = {"nasflow.study": "s", "nasflow.kind": "retrain"}
    orphan = client.create_run(experiment, tags={**tags, "nasflow.worker": dead}).info.run_id
    alive = client.create_run(experiment, tags={**tags, "nasflow.worker": worker_id()}).info.run_id
    other = client.create_run(experiment, tags={"nasflow.study": "t", "nasflow.worker": dead}).info.run_id
    assert fail_orphan_runs(client, experiment, "s") == [orphan]
    ended = client.get_run(orphan)
    assert ended.info.status == "FAILED"
    assert ended.data.tags["nasflow.failed_reason"].startswith(f"process {dead} died while this run was open")
    assert client.get_run(alive).info.status == "RUNNING" and client.get_run(other).info.status == "RUNNING"


def _trial(number: int, worker: str, age_s: float, state: str = "COMPLETE", **system: int) -> Any:
    import optuna

    now = datetime.now()
    return optuna.trial.FrozenTrial(
        number=number, state=optuna.trial.TrialState[state], value=0.5 if state == "COMPLETE" else None,
        datetime_start=now - timedelta(seconds=age_s + 1), datetime_complete=now - timedelta(seconds=age_s),
        params={"x": 0.1 * number}, distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
        user_attrs={"worker": worker, "metrics": {"val_accuracy": 0.5}}, system_attrs=system,
        intermediate_values={0: 0.5}, trial_id=number)


def test_a_start_on_any_host_writes_each_missing_run_of_a_finished_trial_once(
        mlflow_experiment: tuple[MlflowClient, str], dead: str, tmp_path: Path) -> None:
    import optuna

    from nas.recovery import stale_workers, worker_id
    from workflows.tracking import UNWRITTEN_ATTR, runs_lock
    from workflows.trial_restore import write_missing_trial_runs

    study = optuna.create_study(study_name="s", directions=["maximize"])
    for trial in [_trial(0, "far:1:1", 7200), _trial(1, "far:2:1", 0), _trial(2, "far:2:1", 0),
                  _trial(3, worker_id(), 7200), _trial(4, dead, 0), _trial(5, "gone:3:1", 0, "FAIL"),
                  _trial(6, "far:2:1", 0, failed_trial=5)]:
        study.add_trial(trial)
    study._storage.set_study_system_attr(study._study_id, f"{UNWRITTEN_ATTR}far:2:1", [2])  # its search gave up
    assert stale_workers(study) == {"gone:3:1"}
    client, experiment = mlflow_experiment
    written: list[dict[int, str]] = []

    def start() -> None:  # a host starting: under the study's lock, as restore_trial_records does
        with runs_lock(f"journal:///{tmp_path / 'optuna.journal'}", "s"):
            written.append(write_missing_trial_runs(client, experiment, study, {"nasflow.study": "s"},
                                                    "val_accuracy"))

    hosts = [threading.Thread(target=start) for _ in range(2)]
    for host in hosts:
        host.start()
    for host in hosts:
        host.join()
    runs = client.search_runs([experiment], "tags.`nasflow.kind` = 'trial'")
    numbers = sorted(int(r.data.tags["nasflow.trial"]) for r in runs)
    # not 1 and 6 (another host's, just finished: its writer may still write them) nor 3 (a live process of this host)
    assert numbers == [0, 2, 4, 5], "each once, though two hosts started at once"
    assert sorted(n for w in written for n in w) == [0, 2, 4, 5]
    assert {int(r.data.tags["nasflow.trial"]): r.info.status for r in runs}[5] == "FAILED"
    assert write_missing_trial_runs(client, experiment, study, {"nasflow.study": "s"}, "val_accuracy") == {}


def test_runs_left_open_by_a_host_the_heartbeat_found_stopped_end_failed_with_the_reason(
        mlflow_experiment: tuple[MlflowClient, str]) -> None:
    client, experiment = mlflow_experiment
    tags = {"nasflow.study": "s", "nasflow.kind": "trial"}
    stopped = client.create_run(experiment, tags={**tags, "nasflow.worker": "gone:3:1"}).info.run_id
    beating = client.create_run(experiment, tags={**tags, "nasflow.worker": "far:2:1"}).info.run_id
    assert fail_orphan_runs(client, experiment, "s", {"gone:3:1"}) == [stopped]
    assert client.get_run(stopped).info.status == "FAILED" and client.get_run(beating).info.status == "RUNNING"
    assert client.get_run(stopped).data.tags["nasflow.failed_reason"].startswith(
        "process gone:3:1 stopped beating (storage heartbeat) while this run was open; ended by ")


@pytest.fixture
def berlin_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time with central European summer time (a POSIX rule: no time-zone database needed)."""
    import time

    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_trial_age_is_right_across_the_end_of_summer_time(berlin_time: None) -> None:
    from datetime import UTC

    from workflows.trial_restore import seconds_since

    finished = datetime(2026, 10, 25, 1, 30)  # local, summer time (UTC+2): 23:30 UTC the day before
    now = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)  # 03:30 local, winter time (UTC+1)
    assert seconds_since(finished, now) == 3 * 3600  # the naive difference of local times says 2 h
    assert seconds_since(datetime(2026, 10, 25, 3, 0), now) == 30 * 60


@pytest.mark.postgres
def test_on_postgresql_a_live_host_is_never_raced_and_a_killed_one_is_restored_at_once(
        mlflow_experiment: tuple[MlflowClient, str]) -> None:
    import optuna

    from tests.workflows.test_resume_and_workers import postgres_url
    from tests.workflows.tracking_server import postgres_database
    from workflows.trial_restore import restorable

    client, experiment = mlflow_experiment
    with postgres_database(postgres_url()) as url, process_of_another_host(url) as (proc, live):
        storage = url.replace("postgresql://", "postgresql+psycopg://")
        study = optuna.create_study(study_name="s", storage=storage, directions=["maximize"])
        for trial in [_trial(0, live, 7200), _trial(1, "elsewhere:9:never-leased", 0)]:
            study.add_trial(trial)
        open_run = client.create_run(experiment, tags={"nasflow.study": "s", "nasflow.worker": live}).info.run_id
        trials = study.get_trials(deepcopy=False)
        # finished two hours ago, yet its process runs (its writer may be far behind): never written by another
        assert [restorable(study, set(), storage)(t) for t in trials] == [False, True]
        assert fail_orphan_runs(client, experiment, "s", storage=storage) == []
        proc.kill()
        proc.wait(timeout=30)
        assert wait_until_gone(url, live)
        assert restorable(study, set(), storage)(trials[0])
        assert fail_orphan_runs(client, experiment, "s", storage=storage) == [open_run]
        assert client.get_run(open_run).data.tags["nasflow.failed_reason"].startswith(f"process {live} died")
