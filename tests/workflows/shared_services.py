"""Helpers of the tests on shared services (PostgreSQL study and knowledge base, a tracking server): loading the
study and checking that every finished trial is recorded once everywhere."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import optuna

from nas.study import make_storage

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def overrides(services: dict[str, str], digits_folder: Path, n_trials: int, *extra: str) -> list[str]:
    """The config overrides of every worker on the shared services (the same on every "host" but its seed)."""
    db, name = services["db"], services["name"]
    return [f"data.path={digits_folder}", f"search.storage={db}", f"kb.url={db}",
            f"tracking.uri={services['tracking']}", f"search.study_name={name}", f"tracking.experiment={name}",
            f"tracking.registered_model={name}", f"search.n_trials={n_trials}", "train.epochs=1",
            "search.pruner=none", *extra]


def load(services: dict[str, str]) -> optuna.Study:
    return optuna.load_study(study_name=services["name"], storage=make_storage(services["db"]))


def pid_of(trial: Any) -> int | None:
    worker = trial.user_attrs.get("worker", "")
    return int(worker.split(":")[1]) if worker.count(":") == 2 else None


def ended_in_mlflow(services: dict[str, str], numbers: list[int]) -> bool:
    """Whether the MLflow runs of trials ``numbers`` are all written and ended."""
    from mlflow import MlflowClient

    client = MlflowClient(services["tracking"])
    experiment = client.get_experiment_by_name(services["name"])
    runs = client.search_runs([experiment.experiment_id], "tags.`nasflow.kind` = 'trial'", max_results=1000)
    ended = {int(r.data.tags["nasflow.trial"]) for r in runs if r.info.status != "RUNNING"}
    return set(numbers) <= ended


def check_records(services: dict[str, str], n_trials: int) -> optuna.Study:
    """The study holds exactly ``n_trials`` finished trials, no configuration trained twice, each recorded once in
    the knowledge base and once (ended) in MLflow, with the knowledge base naming that run."""
    from mlflow import MlflowClient

    from knowledge_base import KnowledgeBase

    study = load(services)
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    assert len(finished) == n_trials
    trained = [t.user_attrs["arch_key"] for t in finished
               if t.state.name == "COMPLETE" and not {"reused_from", "duplicate_of"} & set(t.user_attrs)]
    assert len(trained) == len(set(trained)), "no configuration trained twice"
    with KnowledgeBase(services["db"]) as kb:
        records = [kb.get(row["id"]) for row in kb.query(f"kind = 'trial' and lineage.study_name = '{services['name']}'"
                                                         ).to_dicts()]
    in_kb = Counter(r.lineage["trial_number"] for r in records)
    client = MlflowClient(services["tracking"], registry_uri=services["tracking"])
    experiment = client.get_experiment_by_name(services["name"])
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), "artifacts go through the server"
    runs = [r for r in client.search_runs([experiment.experiment_id], max_results=1000)
            if r.data.tags.get("nasflow.kind") == "trial"]
    in_mlflow = Counter(int(r.data.tags["nasflow.trial"]) for r in runs if r.info.status != "RUNNING")
    numbers = sorted(t.number for t in finished)
    assert sorted(n for n in in_kb if n in numbers) == numbers and all(in_kb[n] == 1 for n in numbers)
    assert sorted(n for n in in_mlflow if n in numbers) == numbers and all(in_mlflow[n] == 1 for n in numbers)
    run_of = {int(r.data.tags["nasflow.trial"]): r.info.run_id for r in runs}
    assert {r.lineage["trial_number"]: r.lineage["mlflow_run_id"] for r in records
            if r.lineage["trial_number"] in numbers} == {n: run_of[n] for n in numbers}
    return study
