"""A tracking server that is down or stops answering: calls are retried with backoff for ``tracking.retry_s``,
then one line names the server (exit 2); trials already finished stay in the study and the knowledge base."""

from __future__ import annotations

import re
import subprocess
import time
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


@pytest.mark.slow
def test_a_tracking_server_stopped_mid_search_keeps_finished_trials(workspace: Path, digits_folder: Path,
                                                                     tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from knowledge_base import KnowledgeBase

    with postgres_database(postgres_url()) as store, \
            mlflow_server(store, tmp_path / "artifacts", tmp_path / "server.log") as server:
        args = ["search", "--no-progress", f"data.path={digits_folder}", f"tracking.uri={server.uri}",
                "tracking.retry_s=2", "tracking.request_timeout_s=5", "search.n_trials=40", "train.epochs=1",
                "search.pruner=none", "tracking.experiment=down"]
        search = subprocess.Popen([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        client, deadline = MlflowClient(server.uri), time.monotonic() + 300
        while True:  # until a trial's run is written and ended: the search works through the server
            assert search.poll() is None and time.monotonic() < deadline, search.stderr.read() if search.stderr else ""
            time.sleep(0.2)
            experiment = client.get_experiment_by_name("down")
            if experiment is not None and any(r.info.status == "FINISHED" for r in client.search_runs(
                    [experiment.experiment_id], "tags.`nasflow.kind` = 'trial'")):
                break
        server.stop()
        _, err = search.communicate(timeout=300)
    assert_one_line_error(subprocess.CompletedProcess(args, search.returncode, "", err),
                          DOWN.format(re.escape(server.uri)))
    study = optuna.load_study(study_name="digits_cnn-digits",
                              storage=make_storage(f"journal:///{workspace / 'optuna.journal'}"))
    finished = sorted(t.number for t in study.trials if t.state.name == "COMPLETE")
    assert finished and len(finished) < 40  # the search stopped with the server, before its budget
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    with KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}") as kb:
        recorded = sorted(kb.get(row["id"]).lineage["trial_number"] for row in kb.query("kind = 'trial'").to_dicts())
    assert recorded == finished, "every finished trial is in the knowledge base, once"
