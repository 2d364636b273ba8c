"""The workflow of one run: data → space → search → retrain → MLflow version → knowledge base."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workflows.defaults import resolve_model_file
from workflows.errors import ConfigError, WorkflowError
from workflows.workspace import Workspace, git_commit

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
    """The data folder named by ``cfg.data``, refused if its validation or test split cannot measure accuracy;
    decoded images are cached in the workspace's ``cache/`` and memory-mapped beyond ``data.memory_mb``."""
    from nas.data import load_data_folder
    from nas.data.splits import check_measurable

    path = Path(cfg.data.path)
    if not path.exists():
        raise WorkflowError(
            f"data folder '{path}' does not exist; create it with 'nasflow data init digits {path}' "
            "or point data.path at your data"
        )
    cache = Path(cfg.workspace).expanduser().resolve() / "cache"
    data = load_data_folder(path, name=cfg.data.name, cache=cache, memory_mb=float(cfg.data.memory_mb))
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


def train_settings(cfg: Any) -> Any:
    """The training settings of ``cfg.train``, checked before anything is written: a device that is not here or a
    precision that does not exist is one :class:`ConfigError` line."""
    from nas.device import resolve_device
    from nas.training import PRECISIONS, TrainSettings

    t = cfg.train
    resolve_device(t.device)
    if str(t.precision) not in PRECISIONS:
        raise ConfigError(f"train.precision={t.precision} is not a precision; use one of {', '.join(PRECISIONS)}")
    return TrainSettings(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, optimizer=t.optimizer.value,
                         weight_decay=t.weight_decay, seed=t.seed, schedule=t.schedule.value, device=str(t.device),
                         precision=str(t.precision), channels_last=bool(t.channels_last), compile=bool(t.compile),
                         device_data_mb=float(t.device_data_mb), augment=augment_setting(t.augment))


def augment_setting(value: Any) -> str:
    """``train.augment`` as the training loop takes it (``auto`` stays until the data is known)."""
    from omegaconf import ListConfig

    from nas.augment import parse_augment

    text = ",".join(str(v) for v in value) if isinstance(value, (list, ListConfig)) else str(value)
    if text == "auto":
        return text
    try:
        return ",".join(parse_augment(text)) or "none"
    except ValueError as exc:
        raise ConfigError(f"train.augment={text}: {exc}") from exc


def device_tags(label: str) -> dict[str, str]:
    """The MLflow tags naming the device a run trained on (and, on a GPU, this process's physical GPU id)."""
    import os

    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return {"nasflow.device": label, **({"nasflow.gpu": gpu} if label.startswith("cuda") and gpu else {})}


def prepare(cfg: Any) -> RunContext:
    """Check the training settings, resolve the workspace, load the data and build the model factory for ``cfg``."""
    import torch
    from omegaconf import OmegaConf

    from nas.augment import auto_augment
    from nas.extract import make_factory
    from nas.factory import DataShape
    from nas.model_file import ModelSpec
    from nas.normalize import normalized_factory

    settings = train_settings(cfg)
    if cfg.search.threads > 0:
        torch.set_num_threads(cfg.search.threads)
    data = load_data(cfg)  # before the workspace: bad data writes nothing
    ws = Workspace.from_config(cfg)
    spec = ModelSpec(resolve_model_file(cfg.model.file), cfg.model.class_name, OmegaConf.to_container(cfg.model.args))
    factory = make_factory(spec, DataShape(tuple(data.input_shape), data.n_classes), load_space(cfg), cfg.model.extract.value)
    factory = normalized_factory(factory, data.split("train")[0], cfg.data.normalize.value)
    if settings.augment == "auto":
        settings = replace(settings, augment=auto_augment(tuple(data.input_shape)))
    return RunContext(cfg=cfg, ws=ws, data=data, factory=factory, train_settings=settings,
                      search_settings=search_settings(cfg, ws), commit=git_commit())


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


def retrain_model(ctx: RunContext, params: dict[str, Any], show_progress: bool = False,
                  label: str = "retrain") -> Any:
    """Retrain ``params`` on train+validation for ``train.retrain_epochs`` and test it once (nothing recorded);
    ``show_progress`` draws an epoch bar on a terminal."""
    from nas.retrain import retrain
    from nas.training import TrainSettings
    from workflows.progress import EpochProgress

    settings = TrainSettings(**{**ctx.train_settings.as_dict(), "epochs": ctx.cfg.train.retrain_epochs})
    with EpochProgress(label, settings.epochs, show_progress) as bar:
        result = retrain(ctx.factory, params, ctx.data, settings, on_epoch=bar.epoch_ended)
        bar.done(f"test_accuracy={result.metrics['test_accuracy']:.4f}")
    return result


def test_split_tags(ctx: RunContext) -> dict[str, str]:
    """The test split a version is scored on: the hash of its samples and labels, and its size."""
    import hashlib

    x, y = ctx.data.split("test")
    digest = hashlib.sha256(x.contiguous().numpy().tobytes() + y.contiguous().numpy().tobytes()).hexdigest()[:16]
    return {"test_split_hash": digest, "test_split_size": str(len(y))}


def register_result(ctx: RunContext, result: Any, trial_number: int | None,
                    extra_tags: dict[str, str] | None = None) -> Any:
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


def retrain_and_register(ctx: RunContext, params: dict[str, Any], trial_number: int | None,
                         show_progress: bool = False) -> dict[str, Any]:
    """Retrain ``params`` on train+validation, test once, log and register the model, record it in the KB."""
    from workflows.progress import phase_line

    result = retrain_model(ctx, params, show_progress, f"retrain trial {trial_number}")
    registered = register_result(ctx, result, trial_number)
    phase_line(f"registered {registered.uri} ({registered.alias})", show_progress)
    return {"result": result, "registered": registered}


def run(cfg: Any, show_progress: bool = True) -> dict[str, Any]:
    """The whole workflow; returns the summary (see :func:`workflows.summary.build_summary`)."""
    from nas.selection import select_trial
    from workflows.summary import build_summary

    started = time.perf_counter()
    ctx = prepare(cfg)
    study = search(ctx, show_progress)
    chosen = select_trial(study, ctx.search_settings)
    outcome = retrain_and_register(ctx, dict(chosen.params), chosen.number, show_progress)
    return build_summary(ctx, study, outcome, time.perf_counter() - started)
