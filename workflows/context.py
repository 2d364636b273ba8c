"""The run context: a composed config resolved once into data, model factory, settings and workspace.

A leaf of ``workflows``: it imports only settings, errors and the workspace, so every workflow step may use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from workflows.defaults import resolve_model_file
from workflows.errors import ConfigError, WorkflowError
from workflows.workspace import Workspace, git_commit, require_writable, workspace_root

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from omegaconf import DictConfig

    from knowledge_base import KnowledgeBase
    from nas.data import Dataset
    from nas.factory import ModelFactory
    from nas.space import SearchSpace
    from nas.study import SearchSettings
    from nas.training import TrainSettings

PARAMS_TAG = "nasflow.params"  # a registered run's architecture as typed JSON (its ``arch.*`` params are for the UI)


@dataclass
class RunContext:
    """Everything a search or retrain needs, resolved once from the composed config."""

    cfg: DictConfig
    ws: Workspace
    data: Dataset
    factory: ModelFactory
    train_settings: TrainSettings
    search_settings: SearchSettings
    commit: str | None

    @property
    def lineage(self) -> dict[str, Any]:
        """Lineage shared by every record of this run; ``dvc_hash`` is read now, so a ``dvc add`` since counts."""
        from workflows.data_versioning import tracked_dvc_hash

        return {"study_name": self.ws.study_name, "data_hash": self.data.content_hash,
                "dvc_hash": tracked_dvc_hash(Path(self.cfg.data.path)), "git_commit": self.commit,
                "registered_model": self.ws.registered_model}


def tagged_params(client: MlflowClient, run_id: str) -> dict[str, Any] | None:
    """The architecture run ``run_id`` was registered with (its :data:`PARAMS_TAG`); None on a run without one."""
    tag = client.get_run(run_id).data.tags.get(PARAMS_TAG)
    return None if tag is None else dict(json.loads(tag))


def load_space(cfg: DictConfig) -> SearchSpace | None:
    """The space from ``conf/space/<model>.yaml`` if the config has one, else None (extract from the file)."""
    from omegaconf import OmegaConf

    from nas.space import SearchSpace

    if cfg.space.dimensions is None:
        return None
    return SearchSpace.from_dict(cast(dict[str, Any], OmegaConf.to_container(cfg.space)),
                                 source=f"conf/space/{cfg.model.name}.yaml")


def load_data(cfg: DictConfig) -> Dataset:
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
    cache = workspace_root(cfg) / "cache"
    data = load_data_folder(path, name=cfg.data.name, cache=cache, memory_mb=float(cfg.data.memory_mb),
                            defer_cache=True)  # written once a search or retrain starts: see Dataset.save_cache
    check_measurable({name: len(getattr(data, f"{name}_idx")) for name in ("train", "val", "test")},
                     data.n_classes, str(path))
    return data


def search_settings(cfg: DictConfig, ws: Workspace) -> SearchSettings:
    """The search settings of ``cfg.search`` with the workspace's storage and study name."""
    from omegaconf import OmegaConf

    from nas.constraints import Constraints
    from nas.study import SearchSettings

    s = cfg.search
    return SearchSettings(
        n_trials=s.n_trials, timeout=s.timeout, sampler=s.sampler.value, proxy=s.proxy.value, pruner=s.pruner.value,
        seed=s.seed, storage=ws.optuna_url, study_name=ws.study_name, metric=s.metric,
        costs=tuple(c.value for c in s.costs),
        constraints=Constraints(**cast(dict[str, Any], OmegaConf.to_container(s.constraints))),
        select=Constraints(**cast(dict[str, Any], OmegaConf.to_container(s.select))),
        max_failures=s.max_failures, heartbeat=s.heartbeat, grace_period=s.grace_period,
    )


def train_settings(cfg: DictConfig) -> TrainSettings:
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


def prepare(cfg: DictConfig) -> RunContext:
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
    require_writable(ws.root)
    from knowledge_base.backend import normalize_url

    normalize_url(ws.kb_url)  # a kb.url that names no database is refused before any store is written
    from workflows.orphans import warn_if_store_lost
    from workflows.relocation import follow_moved_workspace

    warn_if_store_lost(ws)  # before anything opens (and so creates) the MLflow store
    follow_moved_workspace(ws)  # before anything logs an artifact into the place it was copied from
    spec = ModelSpec(resolve_model_file(cfg.model.file), cfg.model.class_name,
                     cast(dict[str, Any], OmegaConf.to_container(cfg.model.args)))
    factory = make_factory(spec, DataShape(tuple(data.input_shape), data.n_classes), load_space(cfg),
                           cfg.model.extract.value)
    factory = normalized_factory(factory, data.split("train")[0], cfg.data.normalize.value)
    if settings.augment == "auto":
        settings = replace(settings, augment=auto_augment(tuple(data.input_shape)))
    return RunContext(cfg=cfg, ws=ws, data=data, factory=factory, train_settings=settings,
                      search_settings=search_settings(cfg, ws), commit=git_commit())


def open_kb(ws: Workspace) -> KnowledgeBase:
    """The knowledge base of the workspace."""
    from knowledge_base import KnowledgeBase

    return KnowledgeBase(ws.kb_url)
