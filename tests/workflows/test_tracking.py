"""MLflow tracking of a search: trial runs written by the background writer, in order, errors surfaced."""

from __future__ import annotations

import optuna
import pytest
from mlflow import MlflowClient

from knowledge_base import KnowledgeBase
from nas.observer import TrialResult
from tests.knowledge_base.kb_helpers import digits_task
from workflows.errors import WorkflowError
from workflows.kb_records import KnowledgeBaseObserver
from workflows.tracking import MlflowSearchObserver


def result(number: int, state: str = "complete") -> TrialResult:
    history = [{"val_accuracy": 0.5 + 0.1 * epoch, "train_loss": 1.0 - 0.2 * epoch} for epoch in range(3)]
    return TrialResult(number, state, {"channels": 8 + number}, history, dict(history[-1]), wall_time_s=1.5)


def test_trial_runs_are_written_in_order_and_finished_before_the_flush_returns(mlflow_experiment) -> None:
    client, experiment = mlflow_experiment
    tracker = MlflowSearchObserver(client, experiment, {"nasflow.study": "s"}, {"search.n_trials": 3})
    tracker.search_started("s", 3, 0)
    for number, state in enumerate(["complete", "pruned", "failed"]):
        tracker.trial_started(number, {"channels": 8 + number})
        tracker.trial_ended(result(number, state))
    assert tracker.trial_runs.get(1) is not None  # the KB lineage waits for the run to exist
    tracker.flush()

    runs = {r.data.tags["nasflow.trial"]: r for r in client.search_runs(
        [experiment], "tags.`nasflow.kind` = 'trial'")}
    assert {n: r.info.status for n, r in runs.items()} == {"0": "FINISHED", "1": "FINISHED", "2": "FAILED"}
    assert {n for n, r in runs.items() if r.data.tags.get("pruned") == "true"} == {"1"}  # pruned: finished, tagged
    history = client.get_metric_history(runs["2"].info.run_id, "val_accuracy")
    assert [m.step for m in history] == [0, 1, 2] and history[-1].value == pytest.approx(0.7)
    assert runs["1"].data.params == {"channels": "9"}
    assert all(r.data.tags["mlflow.parentRunId"] == tracker.parent_id for r in runs.values())
    assert tracker.trial_runs.get(0) == runs["0"].info.run_id


def test_a_search_with_its_budget_spent_opens_no_parent_run(mlflow_experiment) -> None:
    client, experiment = mlflow_experiment
    tracker = MlflowSearchObserver(client, experiment, {}, {})
    tracker.search_started("s", 3, 3)  # resumed (or repro'd) after the last trial
    tracker.search_ended(optuna.create_study())
    assert tracker.parent_id is None and client.search_runs([experiment]) == []


def test_an_mlflow_error_in_the_writer_stops_the_search_at_its_next_call(mlflow_experiment) -> None:
    client, experiment = mlflow_experiment
    tracker = MlflowSearchObserver(client, experiment, {}, {})
    tracker.search_started("s", 2, 0)
    client.delete_experiment(experiment)  # every new run now fails in the store
    tracker.trial_started(0, {})
    assert tracker.trial_runs.get(0) is None
    with pytest.raises(WorkflowError, match=r"recording a trial in the background \(MLflow at sqlite:///.*mlflow\.db, knowledge base\) failed: .*check tracking\.uri and kb\.url"):
        tracker.trial_started(1, {})


def test_abort_marks_the_open_trial_run_and_the_search_run_failed(mlflow_experiment) -> None:
    client, experiment = mlflow_experiment
    tracker = MlflowSearchObserver(client, experiment, {}, {})
    tracker.search_started("s", 2, 0)
    parent = tracker.parent_id
    tracker.trial_started(0, {})  # interrupted before it ended
    tracker.abort()
    statuses = {r.info.run_id: r.info.status for r in client.search_runs([experiment])}
    assert statuses[parent] == "FAILED" and list(statuses.values()) == ["FAILED", "FAILED"]


def test_knowledge_base_records_carry_each_trials_run_id_even_when_written_after_the_trial(mlflow_experiment, tmp_path) -> None:
    client, experiment = mlflow_experiment
    kb = KnowledgeBase(f"sqlite:///{tmp_path / 'kb.db'}")
    tracker = MlflowSearchObserver(client, experiment, {}, {})
    recorder = KnowledgeBaseObserver(kb, digits_task(), "cnn", {"epochs": 3}, {"study_name": "s"}, tracker.trial_runs)
    tracker.search_started("s", 4, 0)
    for number in range(4):  # no training between the events: the runs are still being created
        tracker.trial_started(number, {"channels": 8 + number})
        tracker.trial_ended(result(number))
        recorder.trial_ended(result(number))
    tracker.flush()
    lineage = {record.lineage["trial_number"]: record.lineage["mlflow_run_id"]
               for record in (kb.get(row["id"]) for row in kb.query("kind = 'trial'").to_dicts())}
    assert lineage == {n: tracker.trial_runs.get(n) for n in range(4)} and None not in lineage.values()


@pytest.fixture
def refused(monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """A client of a tracking server where nothing listens, its calls failing at once (no retries)."""
    from tests.workflows.conftest import free_port
    from workflows.tracking_server import configure_retries

    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
                "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.setenv(key, "")  # restored after the test
    configure_retries(0, 2)
    return MlflowClient(f"http://127.0.0.1:{free_port()}")


def test_a_tracking_server_gone_keeps_the_finished_trials_and_names_them_at_the_end(refused, capsys) -> None:
    from nas.recovery import worker_id
    from workflows.tracking import UNWRITTEN_ATTR

    tracker = MlflowSearchObserver(refused, "0", {"nasflow.study": "s"}, {}, request_timeout_s=2)
    study = optuna.create_study(study_name="s")
    for number in range(3):  # the search goes on
        tracker.trial_started(number, {})
        tracker.trial_ended(result(number))
    tracker.search_ended(study)
    err = capsys.readouterr().err
    uri = refused.tracking_uri
    assert f"nasflow: tracking server {uri} is not answering (connection refused); the search goes on, keeping " \
           "the MLflow runs of up to 1000 finished trials" in err
    assert f"nasflow: the MLflow runs of trials [0, 1, 2] are not written: tracking server {uri} does not answer; " \
           "they are kept in the study and the knowledge base, and the next nasflow start" in err
    assert study._storage.get_study_system_attrs(study._study_id) == {f"{UNWRITTEN_ATTR}{worker_id()}": [0, 1, 2]}
    assert tracker.trial_runs.get(0) is None  # the knowledge base records it without a run


def test_past_its_bound_of_kept_trials_the_search_stops_with_the_servers_line(refused, capsys) -> None:
    from workflows.tracking_server import TrackingServerError

    tracker = MlflowSearchObserver(refused, "0", {"nasflow.study": "s"}, {}, request_timeout_s=2, max_unwritten=1)
    for number in range(2):
        tracker.trial_started(number, {})
        tracker.trial_ended(result(number))
    with pytest.raises(TrackingServerError, match=rf"tracking server {refused.tracking_uri} is not answering "
                                                  r"\(connection refused; retried 0 times"):
        tracker.flush()
    tracker.abort()
    assert "nasflow: the MLflow runs of trials [0, 1] are not written" in capsys.readouterr().err


def test_a_search_run_left_open_by_a_server_gone_is_ended_finished_by_the_next_start(mlflow_experiment,
                                                                                      refused) -> None:
    from workflows.open_searches import ENDED_TAG, OPEN_SEARCH_ATTR, end_open_searches

    client, experiment = mlflow_experiment
    tracker = MlflowSearchObserver(client, experiment, {"nasflow.study": "s"}, {}, request_timeout_s=2)
    tracker.search_started("s", 1, 0)
    parent = tracker.parent_id
    tracker.flush()
    tracker.client = refused  # the server goes away before the trial ends
    tracker.trial_started(0, {})
    tracker.trial_ended(result(0))
    study = optuna.create_study(study_name="s")
    tracker.search_ended(study)
    assert client.get_run(parent).info.status == "RUNNING"
    assert [k for k in study._storage.get_study_system_attrs(study._study_id) if k.startswith(OPEN_SEARCH_ATTR)]
    assert end_open_searches(client, study) == [parent]  # a later start, the server back
    ended = client.get_run(parent)
    assert ended.info.status == "FINISHED" and "while the tracking server did not answer" in ended.data.tags[ENDED_TAG]
    assert end_open_searches(client, study) == [], "its note is cleared: ended once"


def test_a_trial_run_whose_end_was_lost_with_the_server_is_ended_once_it_answers(tracking_server, refused,
                                                                                 capsys) -> None:
    from mlflow.entities import Metric, RunTag

    client = MlflowClient(tracking_server)
    experiment = client.create_experiment("end-lost-with-the-server")
    tracker = MlflowSearchObserver(client, experiment, {"nasflow.study": "s"}, {}, request_timeout_s=2)
    tracker.trial_started(0, {})
    run_id = tracker.trial_runs.get(0)
    tracker.client = refused  # the server goes away after taking the results, before the run's end
    tracker.trial_ended(result(0))
    tracker.flush()
    client.log_batch(run_id, metrics=[Metric("val_accuracy", 0.7, 0, 0)], tags=[RunTag("nasflow.state", "complete")])
    assert client.get_run(run_id).info.status == "RUNNING"
    tracker.client = client  # it answers again
    tracker.search_ended(optuna.create_study(study_name="s"))
    assert "answers again: wrote the MLflow runs of trials [0]" in capsys.readouterr().err
    assert client.get_run(run_id).info.status == "FINISHED"
    assert len(client.get_metric_history(run_id, "val_accuracy")) == 1, "its results are not written twice"
