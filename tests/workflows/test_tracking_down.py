"""A tracking server that is down or stops answering: calls are retried with backoff for ``tracking.retry_s``,
then one line names the server (exit 2); trials already finished stay in the study and the knowledge base."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from nas.study import make_storage
from tests.workflows.conftest import NASFLOW, REPO, cli_env, free_port
from tests.workflows.test_cli_errors import assert_one_line_error
from tests.workflows.test_resume_and_workers import postgres_url
from tests.workflows.tracking_server import mlflow_server, postgres_database

DOWN = r"tracking server {} is not answering \(connection refused; retried 2 times over 2 s, tracking.retry_s\); " \
       r"start it or fix tracking.uri, then run the same command: finished trials are kept"


def test_retries_add_up_to_the_configured_time() -> None:
    from workflows.tracking_server import retries_for, retry_seconds

    assert [retries_for(s) for s in (0, 1, 2, 3, 6, 60, 120, 10_000)] == [0, 2, 2, 3, 3, 6, 7, 10]
    assert [retry_seconds(n) for n in (0, 1, 2, 3, 7, 10)] == [0, 0, 2, 6, 126, 486]


def test_a_call_to_a_port_where_nothing_listens_is_named_after_its_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from workflows.tracking_server import configure_retries, unavailable

    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
                "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)  # restored after the test
    configure_retries(2, 5)
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(MlflowException, match="API request to") as raised:
        MlflowClient(uri).search_experiments()
    assert 2 <= time.monotonic() - started < 30  # the backoff waited, boundedly
    assert re.match(DOWN.format(re.escape(uri)), str(unavailable(raised.value)))
    assert unavailable(ValueError("not a request")) is None


@pytest.mark.slow
def test_search_against_a_dead_tracking_uri_is_one_line(nasflow, workspace: Path, digits_folder: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    proc = nasflow("search", "--no-progress", f"data.path={digits_folder}", f"tracking.uri={uri}", "tracking.retry_s=2",
                   "search.n_trials=2", "train.epochs=1")
    assert_one_line_error(proc, DOWN.format(re.escape(uri)))


def _wait_for(condition: Callable[[], bool], search: subprocess.Popen, err: Path, what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert search.poll() is None and time.monotonic() < deadline, f"{what}: {err.read_text()[-3000:]}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_tracking_server_stopped_mid_search_and_started_again_gets_every_finished_trial_once(
        workspace: Path, digits_folder: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from knowledge_base import KnowledgeBase

    port, artifacts, err = free_port(), tmp_path / "artifacts", tmp_path / "search.err"
    with postgres_database(postgres_url()) as store:
        with mlflow_server(store, artifacts, tmp_path / "server.log", port) as server:
            args = ["search", "--no-progress", f"data.path={digits_folder}", f"tracking.uri={server.uri}",
                    "tracking.retry_s=5", "tracking.request_timeout_s=5", "search.n_trials=4", "train.epochs=1",
                    "search.pruner=none", "tracking.experiment=down"]
            with open(err, "w") as stderr:
                search = subprocess.Popen([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace),
                                          stdout=subprocess.DEVNULL, stderr=stderr, text=True)
            client = MlflowClient(server.uri)

            def a_trial_run_ended() -> bool:  # the search works through the server
                experiment = client.get_experiment_by_name("down")
                return experiment is not None and any(r.info.status == "FINISHED" for r in client.search_runs(
                    [experiment.experiment_id], "tags.`nasflow.kind` = 'trial'"))

            _wait_for(a_trial_run_ended, search, err, "no trial run ended")
        _wait_for(lambda: "the search goes on, keeping the MLflow runs" in err.read_text(), search, err,
                  "the writer never gave up on the stopped server")
        os.kill(search.pid, signal.SIGSTOP)  # held while the server starts again (the search waits only retry_s)
        try:
            with mlflow_server(store, artifacts, tmp_path / "server-again.log", port) as server:
                os.kill(search.pid, signal.SIGCONT)
                search.wait(timeout=600)
                assert search.returncode == 0, err.read_text()[-3000:]
                experiment = client.get_experiment_by_name("down")
                runs = client.search_runs([experiment.experiment_id], "tags.`nasflow.kind` = 'trial'",
                                          max_results=1000)
        finally:
            if search.poll() is None:  # the test failed: let it go
                os.kill(search.pid, signal.SIGCONT)
                search.kill()
    assert re.search(rf"tracking server {re.escape(server.uri)} answers again: wrote the MLflow runs of trials \[\d",
                     err.read_text())
    assert "are not written" not in err.read_text()
    study = optuna.load_study(study_name="digits_cnn-digits",
                              storage=make_storage(f"journal:///{workspace / 'optuna.journal'}"))
    finished = sorted(t.number for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL"))
    assert len([t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]) == 4
    assert sorted(int(r.data.tags["nasflow.trial"]) for r in runs) == finished, "each finished trial has one run"
    assert all(r.info.status != "RUNNING" and "nasflow.state" in r.data.tags for r in runs)
    with KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}") as kb:
        recorded = sorted(kb.get(row["id"]).lineage["trial_number"] for row in kb.query("kind = 'trial'").to_dicts())
    assert recorded == finished, "every finished trial is in the knowledge base, once"
