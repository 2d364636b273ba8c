"""No lost work: kill -9 then resume, 4 local workers on a new workspace, 2 workers on one PostgreSQL study."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from nas.study import make_storage
from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of
from tests.workflows.test_kill_suite import kill_when

pytestmark = pytest.mark.slow
STUDY = "digits_cnn-digits"


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)))


def no_running_mlflow_runs(tracking_uri: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(f"nasflow-{STUDY}")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert runs
    return [r for r in runs if r.info.status == "RUNNING"]


def test_kill_9_mid_trial_then_the_same_command_finishes_the_budget(nasflow, workspace: Path, digits_folder: Path) -> None:
    args = ["search", "--json", "--no-progress", f"data.path={digits_folder}", "search.n_trials=3",
            "search.pruner=none", "search.sampler=random", "train.epochs=3"]
    kill_when(workspace, args, lambda: True, "trial-1-epoch-1")  # the second trial, its first epoch reported
    journal = workspace / "optuna.journal"
    study = optuna.load_study(study_name=STUDY, storage=make_storage(f"journal:///{journal}"))
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    assert finished(study) == 1 and [t.number for t in running] == [1] and running[0].intermediate_values
    victim = running[0]

    summary = summary_of(nasflow(*args))
    study = optuna.load_study(study_name=STUDY, storage=make_storage(f"journal:///{journal}"))
    assert finished(study) == 3
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert [t.number for t in failed] == [victim.number]
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == victim.number]
    assert len(retries) == 1 and retries[0].params == victim.params and retries[0].state.name == "COMPLETE"
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]
    assert no_running_mlflow_runs(summary["tracking_uri"]) == []


def test_four_workers_on_a_brand_new_workspace(nasflow, workspace: Path, digits_folder: Path) -> None:
    summary = summary_of(nasflow("search", "--json", "--no-progress", f"data.path={digits_folder}", "search.workers=4",
                                 "search.n_trials=12", "train.epochs=4", "search.pruner=none"))
    assert summary["optuna_storage"].startswith("journal:///")
    study = optuna.load_study(study_name=STUDY, storage=make_storage(f"journal:///{workspace / 'optuna.journal'}"))
    assert finished(study) == 12 and len(study.trials) == 12
    workers = {t.user_attrs["worker"].split(":")[1] for t in study.trials}
    assert len(workers) >= 2, "trials ran in several processes"
    trained = [t.user_attrs["arch_key"] for t in study.trials if "reused_from" not in t.user_attrs
               and "duplicate_of" not in t.user_attrs]
    assert len(trained) == len(set(trained)), "no configuration trained twice"
    assert no_running_mlflow_runs(summary["tracking_uri"]) == []


def test_sqlite_with_several_workers_is_refused(nasflow, workspace: Path, digits_folder: Path) -> None:
    proc = nasflow("search", f"data.path={digits_folder}", "search.workers=2", f"search.storage=sqlite:///{workspace}/o.db")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "search.workers=2 with SQLite storage" in proc.stderr and "postgresql://" in proc.stderr


def postgres_url() -> str:
    url = os.environ.get("NASFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        message = f"no PostgreSQL server at {url} ({type(exc).__name__})"
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("NASFLOW_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (required: CI=true or NASFLOW_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    return url


def test_two_workers_share_one_postgresql_study(nasflow, digits_folder: Path) -> None:
    url = postgres_url()
    study_name = f"nasflow-test-{uuid.uuid4().hex[:8]}"
    try:
        summary = summary_of(nasflow("search", "--json", "--no-progress", f"data.path={digits_folder}",
                                     "search.workers=2", f"search.storage={url}", f"search.study_name={study_name}",
                                     "search.n_trials=6", "train.epochs=1", "search.pruner=none"))
        study = optuna.load_study(study_name=study_name, storage=url.replace("postgresql://", "postgresql+psycopg://"))
        assert finished(study) == 6 and len(study.trials) == 6
        assert len({t.user_attrs["worker"] for t in study.trials}) == 2
        assert summary["trials"] == {"complete": sum(t.state.name == "COMPLETE" for t in study.trials),
                                     **({"pruned": n} if (n := sum(t.state.name == "PRUNED" for t in study.trials)) else {})}
    finally:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study_name, storage=url.replace("postgresql://", "postgresql+psycopg://"))


def test_hydra_joblib_launcher_runs_workers_on_one_study(workspace: Path, digits_folder: Path) -> None:
    journal = workspace / "optuna.journal"
    proc = subprocess.run(
        [NASFLOW[0], "-m", "workflows.hydra_worker", "--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         "search.seed=0,1", f"search.storage=journal:///{journal}", "search.n_trials=4", "train.epochs=1",
         f"data.path={digits_folder}"],
        cwd=REPO, env=cli_env(workspace), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Launching 2 jobs" in proc.stdout + proc.stderr or "launching 2 jobs" in proc.stdout + proc.stderr
    study = optuna.load_study(study_name=STUDY, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))))
    assert finished(study) == 4 and len(study.trials) == 4
    jobs = sorted(p.name for p in next((workspace / "hydra" / "multirun").iterdir()).iterdir() if p.is_dir())
    assert jobs == ["0", "1"]


def test_a_worker_whose_parent_ends_before_the_start_line_leaves_the_workspace_untouched(workspace: Path) -> None:
    from omegaconf import OmegaConf

    from workflows.config import compose_config

    config = workspace / "worker.yaml"
    workspace.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(compose_config([f"workspace={workspace / 'ws'}"]), config)
    done = subprocess.run([sys.executable, "-m", "workflows.worker", str(config)], cwd=REPO, env=cli_env(workspace),
                          input="", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not (workspace / "ws").exists()


def test_a_worker_that_stops_beside_another_hosts_running_trial_says_so(
        nasflow, workspace: Path, digits_folder: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows.summary import print_summary

    workspace.mkdir(parents=True)
    study = optuna.create_study(study_name=STUDY, storage=make_storage(f"journal:///{workspace / 'optuna.journal'}"),
                                direction="maximize")
    study.ask().set_user_attr("worker", "other-host:4242:1")  # a journal keeps no heartbeat: alive, for all we know
    summary = summary_of(nasflow("search", "--json", "--no-progress", f"data.path={digits_folder}", "search.n_trials=1"))
    assert summary["left_running"] == [{"trial": 0, "worker": "other-host:4242:1"}]
    monkeypatch.setenv("COLUMNS", "400")
    print_summary(summary)
    out = capsys.readouterr().out
    assert "trial 0 of worker other-host:4242:1" in out and "running 1" not in out
