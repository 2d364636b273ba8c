"""Structured-config schemas (dataclasses in Hydra's ConfigStore) that validate every config group."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

from nas.cost import COSTS
from nas.extract import MODES
from nas.normalize import NORMALIZE_MODES
from nas.proxy import PROXIES
from nas.study import PRUNERS, SAMPLERS
from nas.training import OPTIMIZERS, SCHEDULES

# Each choice list has one definition, in nas (where it is checked); the schema's enums, which Hydra validates
# config values against, are built from it. mypy cannot list the members of an enum built at runtime (misc).
Sampler = Enum("Sampler", {v: v for v in SAMPLERS}, type=str, module=__name__)  # type: ignore[misc]
Proxy = Enum("Proxy", {v: v for v in PROXIES}, type=str, module=__name__)  # type: ignore[misc]
Pruner = Enum("Pruner", {v: v for v in PRUNERS}, type=str, module=__name__)  # type: ignore[misc]
Cost = Enum("Cost", {v: v for v in COSTS}, type=str, module=__name__)  # type: ignore[misc]
Optimizer = Enum("Optimizer", {v: v for v in OPTIMIZERS}, type=str, module=__name__)  # type: ignore[misc]
Schedule = Enum("Schedule", {v: v for v in SCHEDULES}, type=str, module=__name__)  # type: ignore[misc]
Extraction = Enum("Extraction", {v: v for v in MODES}, type=str, module=__name__)  # type: ignore[misc]
Normalize = Enum("Normalize", {v: v for v in NORMALIZE_MODES}, type=str, module=__name__)  # type: ignore[misc]


class WarmStartMode(str, Enum):
    none = "none"
    auto = "auto"


@dataclass
class ModelConfig:
    name: str = MISSING
    file: str = MISSING
    class_name: str = MISSING
    args: dict[str, Any] = field(default_factory=dict)
    extract: Extraction = Extraction("auto")


@dataclass
class DataConfig:
    name: str = MISSING
    path: str = MISSING
    normalize: Normalize = Normalize("auto")
    memory_mb: float = 8192.0


@dataclass
class SpaceConfig:
    dimensions: dict[str, Any] | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class LimitsConfig:
    max_params: float | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None


@dataclass
class SearchConfig:
    n_trials: int = 20
    timeout: float | None = None
    sampler: Sampler = Sampler("local")
    proxy: Proxy = Proxy("synflow")
    pruner: Pruner = Pruner("median")
    seed: int = 0
    storage: str | None = None
    study_name: str | None = None
    metric: str = "val_accuracy"
    costs: list[Cost] = field(default_factory=list)
    constraints: LimitsConfig = field(default_factory=LimitsConfig)
    select: LimitsConfig = field(default_factory=LimitsConfig)
    workers: int = 1
    threads: int = 0
    gpus: Any = "auto"
    workers_per_gpu: int | None = None
    warm_start: WarmStartMode = WarmStartMode.none
    warm_start_k: int = 5
    max_failures: int = 3
    heartbeat: int = 10
    grace_period: int = 30


@dataclass
class TrainConfig:
    epochs: int = 6
    retrain_epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: Optimizer = Optimizer("adam")
    weight_decay: float = 0.0
    seed: int = 0
    schedule: Schedule = Schedule("cosine")
    device: str = "auto"
    precision: str = "32"
    channels_last: bool = False
    compile: bool = False
    device_data_mb: float = 4096.0
    augment: Any = "auto"


@dataclass
class TrackingConfig:
    uri: str | None = None
    experiment: str | None = None
    registered_model: str | None = None
    promote_margin: float = 0.0
    retry_s: float = 120.0
    request_timeout_s: float = 30.0


@dataclass
class KbConfig:
    url: str | None = None


@dataclass
class NasflowConfig:
    workspace: str = ".nasflow"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    kb: KbConfig = field(default_factory=KbConfig)


def register_schemas() -> None:
    """Store the schema so that ``conf/config.yaml`` can list ``nasflow_schema`` first in its defaults."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="nasflow_schema", node=NasflowConfig)
