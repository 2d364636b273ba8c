"""A search whose every trial fails stops after search.max_failures of them: one line, exit 2, each trial once."""

from __future__ import annotations

from pathlib import Path

import optuna

from nas.study import make_storage
from tests.nas.test_failures import NO_PARAMS
from tests.workflows.test_cli_errors import assert_one_line_error


def test_model_without_parameters_stops_and_records_each_failure_once(nasflow, workspace: Path, digits_folder: Path,
                                                                      tmp_path: Path) -> None:
    model = tmp_path / "no_params.py"
    model.write_text(NO_PARAMS)
    proc = nasflow("search", "--no-progress", f"data.path={digits_folder}", f"model.file={model}",
                   "model.class_name=NoParams", "model.name=noparams", "model.extract=constructor",
                   "search.n_trials=2", "search.proxy=none", "search.max_failures=3", "train.epochs=1")
    assert_one_line_error(proc, r"search stopped: the last 3 trials all failed with ValueError: optimizer got an "
                                r"empty parameter list; the model has no trainable parameters")
    study_name = "noparams-digits"
    study = optuna.load_study(study_name=study_name, storage=make_storage(f"journal:///{workspace / 'optuna.journal'}"))
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"nasflow-{study_name}")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    trial_runs = [r for r in runs if "optuna_trial" in r.data.tags or r.data.tags.get("mlflow.parentRunId")]
    assert sorted(r.info.status for r in trial_runs) == ["FAILED"] * 3
    assert not [r for r in runs if r.info.status == "RUNNING"]

    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}")
    try:
        states = [row[0] for row in kb.sql("SELECT state FROM evaluations").rows]
    finally:
        kb.close()
    assert sorted(states) == ["failed"] * 3, states
