"""A retrained model into MLflow: logged, registered as a version (champion only if better), recorded in the KB."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from workflows.context import PARAMS_TAG, RunContext, device_tags, open_kb
from workflows.defaults import resolve_model_file

if TYPE_CHECKING:
    from nas.retrain import RetrainResult
    from workflows.registry import RegisteredVersion


def _champion_scorer(ctx: RunContext) -> Callable[[str], float]:
    """A function scoring a registered model URI on today's test split (same samples for both)."""
    def score(uri: str) -> float:
        import mlflow.pytorch

        from nas.training import evaluate

        x_test, y_test = ctx.data.split("test")
        return evaluate(mlflow.pytorch.load_model(uri), x_test, y_test)["accuracy"]

    return score


def test_split_tags(ctx: RunContext) -> dict[str, str]:
    """The test split a version is scored on: the hash of its samples and labels, and its size."""
    import hashlib

    x, y = ctx.data.split("test")
    digest = hashlib.sha256(x.contiguous().numpy().tobytes() + y.contiguous().numpy().tobytes()).hexdigest()[:16]
    return {"test_split_hash": digest, "test_split_size": str(len(y))}


def register_result(ctx: RunContext, result: RetrainResult, trial_number: int | None,
                    extra_tags: dict[str, str] | None = None) -> RegisteredVersion:
    """Log a retrained model to MLflow, register a version (champion only if better), record it in the KB;
    a model whose bytes a version already holds (tag ``model_hash``) is not registered again: that version
    is returned, ``already_registered``."""
    import mlflow

    from knowledge_base import EvaluationRecord
    from nas.recovery import worker_id
    from workflows.kb_records import kb_cost, task_record
    from workflows.registry import MODEL_HASH_TAG, log_torch_model, model_hash, register_version, version_holding
    from workflows.tracking import ensure_experiment, mlflow_client

    params, settings = dict(result.params), result.settings
    client = mlflow_client(ctx.ws)
    experiment_id = ensure_experiment(client, ctx.ws)
    hash_ = model_hash(result.model)
    existing = version_holding(client, ctx.ws.registered_model, hash_)
    if existing is not None:  # the same bytes (a deterministic rerun, a restored bundle): name that version
        return existing
    mlflow.set_tracking_uri(ctx.ws.mlflow_uri)
    mlflow.set_registry_uri(ctx.ws.mlflow_uri)  # the champion scorer loads models:/…; never an inherited registry
    lineage = ctx.lineage
    tags = {"nasflow.kind": "retrain", "nasflow.model": ctx.ws.model, "nasflow.data": ctx.ws.data,
            "nasflow.study": ctx.ws.study_name, "nasflow.trial": str(trial_number), "nasflow.data_hash": ctx.data.content_hash,
            **device_tags(result.cost.device),
            "nasflow.worker": worker_id()}  # a run left RUNNING by a killed process is failed by the next start
    name = f"retrain {ctx.ws.model} trial {trial_number}" if trial_number is not None else f"retrain {ctx.ws.model}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params({**{f"arch.{k}": v for k, v in params.items()}, **{f"train.{k}": v for k, v in settings.as_dict().items()}})
        mlflow.set_tag(PARAMS_TAG, json.dumps(params, sort_keys=True))  # typed, for export and retraining
        mlflow.log_metrics({**result.metrics, **{k: v for k, v in result.cost.as_dict().items() if k != "device"},
                            "wall_time_s": result.wall_time_s})
        x_example, _ = ctx.data.split("test")
        info, fmt = log_torch_model(result.model, x_example, resolve_model_file(ctx.cfg.model.file))
        version_tags = {"data_hash": ctx.data.content_hash, "study": ctx.ws.study_name, "trial": str(trial_number),
                        "test_accuracy": f"{result.metrics['test_accuracy']:.6f}", "git_commit": ctx.commit or "",
                        **({"dvc_hash": lineage["dvc_hash"]} if lineage["dvc_hash"] else {}), **test_split_tags(ctx),
                        MODEL_HASH_TAG: hash_,
                        **(extra_tags or {})}
        registered = register_version(client, ctx.ws, run.info.run_id, info, fmt, result.metrics["test_accuracy"],
                                      version_tags, _champion_scorer(ctx), ctx.cfg.tracking.promote_margin)
        if registered.previous_champion_accuracy is not None:  # both figures of the comparison on the version
            client.set_model_version_tag(registered.name, registered.version, "champion_test_accuracy",
                                         f"{registered.previous_champion_accuracy:.6f}")
    open_kb(ctx.ws).record(EvaluationRecord(
        task=task_record(ctx.data), kind="retrain", state="complete", model_name=ctx.ws.model, params=params,
        fingerprint=None, cost=kb_cost(result.cost), metrics=result.metrics, settings=settings.as_dict(),
        wall_time_s=result.wall_time_s,
        lineage={**lineage, "trial_number": trial_number, "mlflow_run_id": registered.run_id,
                 "mlflow_model_version": registered.version},
    ))
    return registered
