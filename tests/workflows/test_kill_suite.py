"""Kill -9 at every phase of ``nasflow run``, then the same command again: nothing lost, nothing doubled.

One workspace takes the kills in the order a run meets its phases (each next run is the same command, so it is
also the rerun of the kill before it): during the MLflow store's creation, mid-trial, right after a trial ended
(its MLflow run not yet written), mid-retrain, inside ``log_model`` (a logged model still PENDING), right after the
version was created (no alias yet); a last run ends the campaign. Each kill waits for a real condition: a file
appearing, a row in a store, or the ``NASFLOW_TEST_PAUSE_AT`` test hook (:mod:`workflows.pause`) at a named phase.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from nas.study import make_storage
from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of

pytestmark = pytest.mark.slow
STUDY, N_TRIALS = "digits_cnn-digits", 2
POLL_S, PHASE_TIMEOUT_S = 0.05, 300


def run_args(digits_folder: Path) -> list[str]:
    return ["run", "--json", "--no-progress", f"data.path={digits_folder}", f"search.n_trials={N_TRIALS}",
            "train.epochs=1", "train.retrain_epochs=1"]


def study_of(workspace: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=make_storage(f"journal:///{workspace / 'optuna.journal'}"))


def mlflow_of(workspace: Path) -> Any:
    from mlflow import MlflowClient

    uri = f"sqlite:///{workspace / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def kill_when(workspace: Path, args: list[str], reached: Callable[[], bool], phase: str | None = None) -> str:
    """Start ``nasflow`` (paused at ``phase`` by the test hook, if given), kill -9 it once ``reached()``; its stderr."""
    marker = workspace.parent / f"paused-{phase}"
    hook = {"NASFLOW_TEST_PAUSE_AT": phase, "NASFLOW_TEST_PAUSE_MARKER": str(marker)} if phase else {}
    stderr = workspace.parent / f"stderr-{phase or 'store'}.txt"
    with stderr.open("w") as err:
        proc = subprocess.Popen([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace, **hook), stdout=subprocess.DEVNULL,
                                stderr=err)
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while not ((marker.exists() or not phase) and reached()):
            assert proc.poll() is None, f"nasflow ended ({proc.returncode}) before {phase}: {stderr.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"nasflow never reached {phase}"
            time.sleep(POLL_S)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return stderr.read_text()


def _study_exists(workspace: Path) -> bool:
    try:
        study_of(workspace)
    except KeyError:  # not created yet
        return False
    return True


def _pending_logged_model(workspace: Path) -> bool:
    client = mlflow_of(workspace)
    experiment = client.get_experiment_by_name(f"nasflow-{STUDY}")
    return any(m.status == "PENDING" for m in client.search_logged_models([experiment.experiment_id]))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path) -> dict[str, Any]:
    """Six kills, then the run that finishes; what each kill left, and the final summary."""
    workspace = tmp_path_factory.mktemp("kills") / "ws"
    args, seen = run_args(digits_folder), {}
    creating = workspace / "mlflow.db.creating"
    kill_when(workspace, args, creating.exists)  # MLflow is migrating its schema into the new file
    seen["store"] = sorted(p.name for p in workspace.iterdir())
    seen["mid-trial"] = kill_when(workspace, args, lambda: _study_exists(workspace), "trial-epoch")
    seen["trial-logging"] = kill_when(workspace, args, lambda: any(
        t.state.name == "COMPLETE" for t in study_of(workspace).trials), "trial-logging")
    seen["after-trial"] = {t.number: t.state.name for t in study_of(workspace).trials}
    seen["retrain"] = kill_when(workspace, args, lambda: True, "retrain-epoch")
    seen["runs-at-retrain"] = mlflow_of(workspace).search_runs(
        [mlflow_of(workspace).get_experiment_by_name(f"nasflow-{STUDY}").experiment_id], max_results=1000)
    seen["log-model"] = kill_when(workspace, args, lambda: _pending_logged_model(workspace))
    seen["version-created"] = kill_when(workspace, args, lambda: True, "version-created")
    client = mlflow_of(workspace)
    seen["half-made"] = [(str(v.version), client.get_model_version(v.name, v.version).aliases)
                         for v in client.search_model_versions(f"name='{STUDY}'")]
    final = subprocess.run([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace), capture_output=True, text=True,
                           timeout=600)
    return {"workspace": workspace, "seen": seen, "summary": summary_of(final), "stderr": final.stderr}


def test_a_store_creation_cut_short_leaves_no_store_and_is_made_again(campaign: dict) -> None:
    assert "mlflow.db" not in campaign["seen"]["store"] and "mlflow.db.creating" in campaign["seen"]["store"]
    assert "an earlier creation of the MLflow store" in campaign["seen"]["mid-trial"]
    assert "was interrupted; creating it again" in campaign["seen"]["mid-trial"]
    assert not list(campaign["workspace"].glob("mlflow.db.creating*"))


def test_a_trial_whose_run_was_never_written_gets_it_from_the_study(campaign: dict) -> None:
    seen = campaign["seen"]
    assert "COMPLETE" in seen["after-trial"].values()
    assert "nasflow: wrote from the study what a stopped process left unwritten: the MLflow runs of trials [" \
        in seen["retrain"]
    trials = [r for r in seen["runs-at-retrain"] if r.data.tags.get("nasflow.kind") == "trial"]
    assert trials and all("nasflow.state" in r.data.tags and r.info.status != "RUNNING" for r in trials)


def test_a_kill_after_the_version_was_created_is_finished_not_duplicated(campaign: dict) -> None:
    assert campaign["seen"]["half-made"] == [("1", [])]  # the killed run left a version with no alias
    summary = campaign["summary"]
    assert (summary["version"], summary["alias"]) == ("1", "champion")
    assert summary["message"].endswith("no new version registered; its interrupted registration is finished now")


def test_after_every_kill_the_rerun_leaves_each_trial_once_everywhere_and_nothing_running(campaign: dict) -> None:
    from knowledge_base import KnowledgeBase
    from workflows.registry import ALIAS_TAG

    workspace = campaign["workspace"]
    study = study_of(workspace)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == N_TRIALS
    assert not {"RUNNING", "WAITING"} & set(states)
    finished = sorted(t.number for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL"))

    client = mlflow_of(workspace)
    experiment = client.get_experiment_by_name(f"nasflow-{STUDY}").experiment_id
    runs = client.search_runs([experiment], max_results=1000)
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    trial_runs = sorted(int(r.data.tags["nasflow.trial"]) for r in runs if r.data.tags.get("nasflow.kind") == "trial")
    assert trial_runs == finished
    assert all("nasflow.state" in r.data.tags for r in runs if r.data.tags.get("nasflow.kind") == "trial")
    assert [m.status for m in client.search_logged_models([experiment]) if m.status == "PENDING"] == []

    kb = KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}")
    recorded = kb.query(f"kind = 'trial' and lineage.study_name = '{STUDY}' and lineage.trial_number >= 0")
    assert sorted(recorded.column("lineage.trial_number")) == finished
    retrains = kb.query("kind = 'retrain' and lineage.mlflow_model_version = '1'")
    assert len(kb.query("kind = 'retrain'")) == len(retrains) == 1

    versions = client.search_model_versions(f"name='{STUDY}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert versions[0].tags[ALIAS_TAG] == "champion"
    assert client.get_run(versions[0].run_id).info.status == "FINISHED"
