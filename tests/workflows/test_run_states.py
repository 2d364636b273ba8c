"""MLflow runs as a user sees them: searches resumed with their budget spent add no empty parent run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflows.conftest import summary_of

pytestmark = pytest.mark.slow


def test_resumed_searches_add_no_parent_run_without_children(nasflow, digits_folder: Path) -> None:
    from mlflow import MlflowClient

    args = ["search", "--json", "--no-progress", f"data.path={digits_folder}", "search.n_trials=2", "train.epochs=1"]
    summary = summary_of(nasflow(*args))
    summary_of(nasflow(*args))  # the budget is spent: nothing to search
    summary_of(nasflow(*args, "search.workers=2"))  # nor for workers
    client = MlflowClient(summary["tracking_uri"])
    experiment = client.get_experiment_by_name("nasflow-digits_cnn-digits").experiment_id
    runs = client.search_runs([experiment], max_results=1000)
    parents = [r.info.run_id for r in runs if r.data.tags.get("nasflow.kind") == "search"]
    children = {r.data.tags.get("mlflow.parentRunId") for r in runs if r.data.tags.get("nasflow.kind") == "trial"}
    assert len(parents) == 1 and set(parents) == children
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert client.search_runs([experiment], "attributes.status = 'KILLED'") == []
