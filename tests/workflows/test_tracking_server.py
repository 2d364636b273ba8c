"""The tracking-server path: ``tracking.uri=http://…`` of an ``mlflow server`` (PostgreSQL backend store,
artifacts served by the server), no local mlflow.db."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workflows.conftest import free_port, summary_of

pytestmark = pytest.mark.slow


def test_run_and_export_through_a_tracking_server(nasflow, workspace: Path, digits_folder: Path, tracking_server: str,
                                                  tmp_path: Path) -> None:
    from mlflow import MlflowClient

    args = [f"data.path={digits_folder}", f"tracking.uri={tracking_server}"]
    summary = summary_of(nasflow("run", "--json", "--no-progress", "+experiment=quick", "search.n_trials=2",
                                 "train.epochs=1", *args))
    assert summary["tracking_uri"] == tracking_server and summary["version"] == "1"
    assert not (workspace / "mlflow.db").exists()
    client = MlflowClient(tracking_server, registry_uri=tracking_server)
    experiment = client.get_experiment_by_name(f"nasflow-{summary['study']}")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    trials = sorted(int(r.data.tags["nasflow.trial"]) for r in runs if r.data.tags.get("nasflow.kind") == "trial")
    assert trials == [0, 1] and all(r.info.status != "RUNNING" for r in runs)
    champion = client.get_model_version_by_alias(summary["registered_model"], "champion")
    assert champion.version == "1"
    proc = nasflow("export", "--out", str(tmp_path / "out"), *args)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["params"] == summary["best_params"] and Path(report["weights"]).is_file()


def test_ui_of_a_tracking_server_that_does_not_answer_is_one_line_and_exit_2(nasflow, workspace: Path) -> None:
    """``nasflow ui`` asks the server for the experiment's runs table (tested over REST in test_mlflow_rest); a
    server that is not there is named in one line after ``tracking.retry_s``, and nothing is started or written."""
    uri = f"http://127.0.0.1:{free_port()}"
    proc = nasflow("ui", f"tracking.uri={uri}", "tracking.retry_s=1")
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert f"tracking server {uri} is not answering" in proc.stderr and "fix tracking.uri" in proc.stderr
    assert not (workspace / "mlflow.db").exists()
