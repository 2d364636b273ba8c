"""A retrained model into MLflow: logged, registered as a version (champion only if better), recorded in the KB."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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


def register_result(ctx: RunContext, result: RetrainResult, trial_number: int | None,
                    extra_tags: dict[str, str] | None = None) -> RegisteredVersion:
    """Log a retrained model to MLflow, register a version (champion only if better), record it in the KB;
    a model whose bytes a version already holds (tag ``model_hash``) is not registered again: that version
    is returned, ``already_registered``, its registration finished first if a killed process left it half-made.

    A retrain run left RUNNING by a killed process (and its pending logged model) is ended FAILED first."""
    import mlflow

    from nas.liveness import hold_lease
    from nas.recovery import worker_id
    from workflows.registry import (
        MODEL_HASH_TAG,
        log_torch_model,
        model_hash,
        register_version,
        test_split_tags,
        version_holding,
    )
    from workflows.tracking import ensure_experiment, fail_orphan_runs, mlflow_client

    params, settings = dict(result.params), result.settings
    client = mlflow_client(ctx.ws)
    experiment_id = ensure_experiment(client, ctx.ws)
    fail_orphan_runs(client, experiment_id, ctx.ws.study_name, storage=ctx.search_settings.storage)
    hold_lease(ctx.search_settings.storage)  # this retrain run is open while the process lives
    hash_ = model_hash(result.model)
    existing = version_holding(client, ctx.ws.registered_model, hash_)
    if existing is not None:  # the same bytes (a deterministic rerun, a restored bundle): name that version
        return finish_registration(ctx, client, existing, result, trial_number)
    mlflow.set_tracking_uri(ctx.ws.mlflow_uri)
    mlflow.set_registry_uri(ctx.ws.mlflow_uri)  # the champion scorer loads models:/…; never an inherited registry
    lineage = ctx.lineage
    tags = {"nasflow.kind": "retrain", "nasflow.model": ctx.ws.model, "nasflow.data": ctx.ws.data,
            "nasflow.study": ctx.ws.study_name, "nasflow.trial": str(trial_number),
            "nasflow.data_hash": ctx.data.content_hash,
            **device_tags(result.cost.device),
            "nasflow.worker": worker_id()}  # a run left RUNNING by a killed process is failed by the next start
    name = f"retrain {ctx.ws.model} trial {trial_number}" if trial_number is not None else f"retrain {ctx.ws.model}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params({**{f"arch.{k}": v for k, v in params.items()},
                           **{f"train.{k}": v for k, v in settings.as_dict().items()}})
        mlflow.set_tag(PARAMS_TAG, json.dumps(params, sort_keys=True))  # typed, for export and retraining
        mlflow.log_metrics({**result.metrics,
                            **{k: float(v) for k, v in result.cost.as_dict().items() if k != "device"},
                            "wall_time_s": result.wall_time_s})
        x_example, _ = ctx.data.split("test")
        info, fmt = log_torch_model(result.model, x_example, resolve_model_file(ctx.cfg.model.file), ctx.data.classes)
        version_tags = {"data_hash": ctx.data.content_hash, "study": ctx.ws.study_name, "trial": str(trial_number),
                        "test_accuracy": f"{result.metrics['test_accuracy']:.6f}", "git_commit": ctx.commit or "",
                        **({"dvc_hash": lineage["dvc_hash"]} if lineage["dvc_hash"] else {}),
                        **test_split_tags(ctx.data), MODEL_HASH_TAG: hash_, "serialization_format": fmt,
                        **(extra_tags or {})}
        registered = register_version(client, ctx.ws, run.info.run_id, info, fmt, result.metrics["test_accuracy"],
                                      version_tags, _champion_scorer(ctx), ctx.cfg.tracking.promote_margin)
    _record_retrain(ctx, result, trial_number, registered.run_id, registered.version)
    return registered


def finish_registration(ctx: RunContext, client: Any, version: Any, result: RetrainResult,
                        trial_number: int | None) -> RegisteredVersion:
    """``version`` (holding the bytes of ``result``) as registered; what a killed registration left undone is done
    now: its alias (champion only if better), its run ended FINISHED, its knowledge-base record."""
    from dataclasses import replace

    import mlflow

    from workflows.registry import ALIAS_TAG, assign_alias, registered

    done = registered(version)
    if ALIAS_TAG in version.tags and _kb_holds(ctx, version.run_id):
        return done
    if ALIAS_TAG not in version.tags:
        mlflow.set_registry_uri(ctx.ws.mlflow_uri)  # the champion scorer loads models:/…
        done = assign_alias(client, version.name, str(version.version), version.run_id, done.serialization_format,
                            result.metrics["test_accuracy"], _champion_scorer(ctx), ctx.cfg.tracking.promote_margin)
        run = client.get_run(version.run_id)
        if run.info.status != "FINISHED":  # killed after its model was registered: nothing of it is missing now
            if "nasflow.failed_reason" in run.data.tags:
                client.delete_tag(version.run_id, "nasflow.failed_reason")
            client.set_terminated(version.run_id, "FINISHED")
    if not _kb_holds(ctx, version.run_id):
        _record_retrain(ctx, result, trial_number, version.run_id, str(version.version))
    return replace(done, already_registered=True, resumed=True)


def _kb_holds(ctx: RunContext, run_id: str) -> bool:
    """Whether the knowledge base records the retrain of MLflow run ``run_id``."""
    from workflows.kb_records import recorded

    return bool(recorded(open_kb(ctx.ws), f"kind = 'retrain' and lineage.mlflow_run_id = '{run_id}'"))


def _record_retrain(ctx: RunContext, result: RetrainResult, trial_number: int | None, run_id: str,
                    version: str) -> None:
    """The knowledge-base record of a registered retrain."""
    from knowledge_base import EvaluationRecord
    from workflows.kb_records import kb_cost, task_record

    open_kb(ctx.ws).record(EvaluationRecord(
        task=task_record(ctx.data), kind="retrain", state="complete", model_name=ctx.ws.model,
        params=dict(result.params), fingerprint=None, cost=kb_cost(result.cost), metrics=dict(result.metrics),
        settings=result.settings.as_dict(), wall_time_s=result.wall_time_s,
        lineage={**ctx.lineage, "trial_number": trial_number, "mlflow_run_id": run_id, "mlflow_model_version": version},
    ))
