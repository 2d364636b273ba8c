"""The whole workflow through the real CLI: search → retrain → MLflow version → knowledge base, twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.workflows.conftest import summary_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path) -> dict:
    """``nasflow run`` with the default budget, then again with a tiny one, in one fresh workspace."""
    import subprocess

    from tests.workflows.conftest import NASFLOW, REPO, cli_env

    workspace = tmp_path_factory.mktemp("ws")

    def nasflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace), capture_output=True, text=True,
                              timeout=600)

    first = summary_of(nasflow("run", "--json", "--no-progress", f"data.path={digits_folder}"))
    second = summary_of(nasflow("run", "--json", "--no-progress", f"data.path={digits_folder}", "+experiment=quick"))
    kb = nasflow("kb", "query", "task = 'digits' and kind = 'retrain' order by created_at", "--format", "json")
    return {"first": first, "second": second, "kb": kb, "workspace": workspace, "data": digits_folder}


def test_first_run_registers_a_champion_that_loads_and_predicts(two_runs: dict, digits) -> None:
    import mlflow.pytorch

    first = two_runs["first"]
    assert first["version"] == "1" and first["alias"] == "champion"
    assert first["trials"].get("complete", 0) + first["trials"].get("pruned", 0) == 20
    assert first["test_accuracy"] >= 0.97
    mlflow.set_tracking_uri(first["tracking_uri"])
    mlflow.set_registry_uri(first["tracking_uri"])
    assert first["champion_uri"] == "models:/digits_cnn-digits@champion"
    model = mlflow.pytorch.load_model("models:/digits_cnn-digits/1")  # the second run's version may be champion now
    x_test, y_test = digits.split("test")
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).sum().item() / len(y_test)  # exact, as nasflow counts
        for batch in (1, 7):
            assert model(x_test[:batch]).shape == (batch, 10)
    assert accuracy == pytest.approx(first["test_accuracy"], abs=1e-9)
    assert accuracy >= 0.97


def test_second_run_continues_the_study_and_adds_a_version(two_runs: dict) -> None:
    first, second = two_runs["first"], two_runs["second"]
    assert second["version"] == "2"
    assert second["trials"] == first["trials"]  # the study's total budget was already spent: no new trials
    assert second["best_trial"] == first["best_trial"]
    # the tiny retrain cannot beat the champion on the same test split: it becomes the challenger
    if second["test_accuracy"] > first["test_accuracy"]:
        assert second["alias"] == "champion"
    else:
        assert second["alias"] == "challenger"
        assert second["previous_champion"]["version"] == "1"


def test_mlflow_holds_parent_and_nested_trial_runs_none_left_running(two_runs: dict) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(two_runs["first"]["tracking_uri"])
    experiment = client.get_experiment_by_name("nasflow-digits_cnn-digits")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    searches = [r for r in runs if r.data.tags.get("nasflow.kind") == "search"]
    trials = [r for r in runs if r.data.tags.get("nasflow.kind") == "trial"]
    assert len(searches) == 1 and len(trials) == 20  # the second run's budget was spent: no empty parent run
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {searches[0].info.run_id}
    assert all(r.info.status != "RUNNING" for r in runs)
    complete = [r for r in trials if r.data.tags["nasflow.state"] == "complete"]
    history = client.get_metric_history(complete[0].info.run_id, "val_accuracy")
    assert [m.step for m in history] == list(range(6))  # one value per epoch, batched at the end of the trial
    plots = {a.path for a in client.list_artifacts(searches[-1].info.run_id, "plots")}
    assert {"plots/optimization_history.png", "plots/param_importances.png"} <= plots
    aliases = client.get_registered_model("digits_cnn-digits").aliases
    assert str(aliases["champion"]) == ("2" if two_runs["second"]["alias"] == "champion" else "1")


def test_knowledge_base_holds_trials_and_retrains_with_lineage(two_runs: dict) -> None:
    from knowledge_base import KnowledgeBase

    rows = json.loads(two_runs["kb"].stdout)  # printed by `nasflow kb query --format json`
    assert len(rows) == 2
    assert rows[0]["test_accuracy"] == pytest.approx(two_runs["first"]["test_accuracy"])
    assert rows[0]["params"] == two_runs["first"]["params"]
    kb = KnowledgeBase(two_runs["first"]["kb_url"])
    lineages = [kb.get(row["id"]).lineage for row in rows]
    assert [lin["mlflow_model_version"] for lin in lineages] == ["1", "2"]
    assert lineages[0]["study_name"] == "digits_cnn-digits" and len(lineages[0]["data_hash"]) == 64
    trials = kb.query("task = 'digits' and kind = 'trial'")
    assert len(trials.rows) == 20


def test_kb_commands_answer_from_the_recorded_runs(two_runs: dict) -> None:
    import subprocess

    from tests.workflows.conftest import NASFLOW, REPO, cli_env

    def kb(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*NASFLOW, "kb", *args], cwd=REPO, env=cli_env(two_runs["workspace"]),
                              capture_output=True, text=True, timeout=120)

    tasks = json.loads(kb("tasks", "--format", "json").stdout)
    assert [t["task"] if "task" in t else t["name"] for t in tasks] == ["digits"]
    best = json.loads(kb("best", "digits", "--max-params", str(two_runs["first"]["params"]), "--format", "json").stdout)
    assert best and all(row["params"] <= two_runs["first"]["params"] for row in best)
    assert best[0]["test_accuracy"] == pytest.approx(max(two_runs["first"]["test_accuracy"],
                                                         two_runs["second"]["test_accuracy"]))
    count = kb("sql", "select count(*) as n from evaluations", "--format", "csv")
    assert count.returncode == 0 and count.stdout.split() == ["n", "22"]  # 20 trials + 2 retrains
    write = kb("sql", "delete from evaluations")
    assert write.returncode == 2 and "Traceback" not in write.stderr
    assert kb("sql", "select count(*) as n from evaluations", "--format", "csv").stdout.split() == ["n", "22"]
