"""The workflow of one run: data → space → search → retrain → MLflow version → knowledge base."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.errors import WorkflowError
from workflows.workspace import Workspace, git_commit

log = logging.getLogger(__name__)
PARAMS_TAG = "nasflow.params"


@dataclass
class RunContext:
    """Everything a search or retrain needs, resolved once from the composed config."""

    cfg: Any
    ws: Workspace
    data: Any
    factory: Any
    train_settings: Any
    search_settings: Any
    commit: str | None

    @property
    def lineage(self) -> dict[str, Any]:
        """Lineage shared by every record of this run; ``dvc_hash`` is read now, so a ``dvc add`` since counts."""
        from workflows.data_versioning import tracked_dvc_hash

        return {"study_name": self.ws.study_name, "data_hash": self.data.content_hash,
                "dvc_hash": tracked_dvc_hash(Path(self.cfg.data.path)), "git_commit": self.commit,
                "registered_model": self.ws.registered_model}


def load_space(cfg: Any) -> Any:
    """The space from ``conf/space/<model>.yaml`` if the config has one, else None (extract from the file)."""
    from omegaconf import OmegaConf

    from nas.space import SearchSpace

    if cfg.space.dimensions is None:
        return None
    return SearchSpace.from_dict(OmegaConf.to_container(cfg.space), source=f"conf/space/{cfg.model.name}.yaml")


def load_data(cfg: Any) -> Any:
    """The data folder named by ``cfg.data``, refused if its validation or test split cannot measure accuracy."""
    from nas.data import load_data_folder
    from nas.data.splits import check_measurable

    path = Path(cfg.data.path)
    if not path.exists():
        raise WorkflowError(
            f"data folder '{path}' does not exist; create it with 'nasflow data init digits {path}' "
            "or point data.path at your data"
        )
    data = load_data_folder(path, name=cfg.data.name)
    check_measurable({name: len(getattr(data, f"{name}_idx")) for name in ("train", "val", "test")},
                     data.n_classes, str(path))
    return data


def search_settings(cfg: Any, ws: Workspace) -> Any:
    """The search settings of ``cfg.search`` with the workspace's storage and study name."""
    from omegaconf import OmegaConf

    from nas.constraints import Constraints
    from nas.study import SearchSettings

    s = cfg.search
    return SearchSettings(
        n_trials=s.n_trials, timeout=s.timeout, sampler=s.sampler.value, proxy=s.proxy.value, pruner=s.pruner.value,
        seed=s.seed, storage=ws.optuna_url, study_name=ws.study_name, metric=s.metric,
        costs=tuple(c.value for c in s.costs),
        constraints=Constraints(**OmegaConf.to_container(s.constraints)),
        select=Constraints(**OmegaConf.to_container(s.select)), max_failures=s.max_failures,
    )


def prepare(cfg: Any) -> RunContext:
    """Resolve the workspace, load the data and build the model factory for ``cfg``."""
    import torch

    from nas.extract import make_factory
    from nas.factory import DataShape
    from nas.model_file import ModelSpec
    from nas.training import TrainSettings
    from omegaconf import OmegaConf

    if cfg.search.threads > 0:
        torch.set_num_threads(cfg.search.threads)
    data = load_data(cfg)  # before the workspace: bad data writes nothing
    ws = Workspace.from_config(cfg)
    spec = ModelSpec(Path(cfg.model.file), cfg.model.class_name, OmegaConf.to_container(cfg.model.args))
    factory = make_factory(spec, DataShape(tuple(data.input_shape), data.n_classes), load_space(cfg), cfg.model.extract.value)
    t = cfg.train
    train_settings = TrainSettings(t.epochs, t.batch_size, t.lr, t.optimizer.value, t.weight_decay, t.seed,
                                   t.schedule.value)
    return RunContext(cfg, ws, data, factory, train_settings, search_settings(cfg, ws), git_commit())


def open_kb(ws: Workspace) -> Any:
    """The knowledge base of the workspace."""
    from knowledge_base import KnowledgeBase

    return KnowledgeBase(ws.kb_url)


def search(ctx: RunContext, show_progress: bool = True) -> Any:
    """Run (or resume) the search, tracked in MLflow and recorded in the knowledge base."""
    from workflows.search_run import run_search_for

    return run_search_for(ctx, show_progress)


def _champion_scorer(ctx: RunContext) -> Any:
    """A function scoring a registered model URI on today's test split (same samples for both)."""
    def score(uri: str) -> float:
        import mlflow.pytorch

        from nas.training import evaluate

        x_test, y_test = ctx.data.split("test")
        return evaluate(mlflow.pytorch.load_model(uri), x_test, y_test)["accuracy"]

    return score


def retrain_model(ctx: RunContext, params: dict[str, Any]) -> Any:
    """Retrain ``params`` on train+validation for ``train.retrain_epochs`` and test it once (nothing recorded)."""
    from nas.retrain import retrain
    from nas.training import TrainSettings

    settings = TrainSettings(**{**ctx.train_settings.as_dict(), "epochs": ctx.cfg.train.retrain_epochs})
    return retrain(ctx.factory, params, ctx.data, settings)


def register_result(ctx: RunContext, result: Any, trial_number: int | None,
                    extra_tags: dict[str, str] | None = None) -> Any:
    """Log a retrained model to MLflow, register a version (champion only if better), record it in the KB;
    a model whose bytes a version already holds (tag ``model_hash``) is not registered again: that version
    is returned, ``already_registered``."""
    import mlflow

    from knowledge_base import EvaluationRecord
    from workflows.kb_records import kb_cost, task_record
    from workflows.registry import MODEL_HASH_TAG, log_torch_model, model_hash, register_version, version_holding
    from nas.recovery import worker_id
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
            "nasflow.worker": worker_id()}  # a run left RUNNING by a killed process is failed by the next start
    with mlflow.start_run(experiment_id=experiment_id, run_name="retrain", tags=tags) as run:
        mlflow.log_params({**{f"arch.{k}": v for k, v in params.items()}, **{f"train.{k}": v for k, v in settings.as_dict().items()}})
        mlflow.set_tag(PARAMS_TAG, json.dumps(params, sort_keys=True))  # typed, for export and retraining
        mlflow.log_metrics({**result.metrics, **{k: v for k, v in result.cost.as_dict().items() if k != "device"},
                            "wall_time_s": result.wall_time_s})
        x_example, _ = ctx.data.split("test")
        info, fmt = log_torch_model(result.model, x_example, Path(ctx.cfg.model.file))
        version_tags = {"data_hash": ctx.data.content_hash, "study": ctx.ws.study_name, "trial": str(trial_number),
                        "test_accuracy": f"{result.metrics['test_accuracy']:.6f}", "git_commit": ctx.commit or "",
                        **({"dvc_hash": lineage["dvc_hash"]} if lineage["dvc_hash"] else {}), MODEL_HASH_TAG: hash_,
                        **(extra_tags or {})}
        registered = register_version(client, ctx.ws, run.info.run_id, info, fmt, result.metrics["test_accuracy"],
                                      version_tags, _champion_scorer(ctx), ctx.cfg.tracking.promote_margin)
    open_kb(ctx.ws).record(EvaluationRecord(
        task=task_record(ctx.data), kind="retrain", state="complete", model_name=ctx.ws.model, params=params,
        fingerprint=None, cost=kb_cost(result.cost), metrics=result.metrics, settings=settings.as_dict(),
        wall_time_s=result.wall_time_s,
        lineage={**lineage, "trial_number": trial_number, "mlflow_run_id": registered.run_id,
                 "mlflow_model_version": registered.version},
    ))
    return registered


def retrain_and_register(ctx: RunContext, params: dict[str, Any], trial_number: int | None) -> dict[str, Any]:
    """Retrain ``params`` on train+validation, test once, log and register the model, record it in the KB."""
    result = retrain_model(ctx, params)
    return {"result": result, "registered": register_result(ctx, result, trial_number)}


def run(cfg: Any, show_progress: bool = True) -> dict[str, Any]:
    """The whole workflow; returns the summary (see :func:`workflows.summary.build_summary`)."""
    from nas.selection import select_trial
    from workflows.summary import build_summary

    started = time.perf_counter()
    ctx = prepare(cfg)
    study = search(ctx, show_progress)
    chosen = select_trial(study, ctx.search_settings)
    outcome = retrain_and_register(ctx, dict(chosen.params), chosen.number)
    return build_summary(ctx, study, outcome, time.perf_counter() - started)
