"""The optional ``dataset.yaml`` beside a data folder: task type, label column, name and split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import yaml

from nas.errors import DataError, one_line

SPEC_FILE = "dataset.yaml"
TASK_TYPES = ("classification",)
TOP_KEYS = ("name", "task_type", "label_column", "split")
SPLIT_KEYS = ("val", "test", "seed")


@dataclass(frozen=True)
class DatasetSpec:
    """What ``dataset.yaml`` says (or the defaults when it is absent)."""

    name: str | None = None
    task_type: str = "classification"
    label_column: str = "label"
    val: float = 0.15
    test: float = 0.15
    seed: int = 0
    path: Path | None = None  # the dataset.yaml read, if any


def read_spec(folder: Path) -> DatasetSpec:
    """Read and validate ``folder/dataset.yaml``; return the defaults if it does not exist."""
    path = folder / SPEC_FILE
    if not path.is_file():
        return DatasetSpec()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: is not valid YAML ({one_line(exc)}); fix the syntax or delete the file") from exc
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise DataError(f"{path}: must be a mapping of keys {', '.join(TOP_KEYS)}; got {type(raw).__name__}")
    _reject_unknown(path, raw, TOP_KEYS, "")
    split = raw.get("split") or {}
    if not isinstance(split, dict):
        raise DataError(f"{path}: 'split' must be a mapping like {{val: 0.15, test: 0.15, seed: 0}}; got {split!r}")
    _reject_unknown(path, split, SPLIT_KEYS, "split.")
    spec = DatasetSpec(
        name=_text(path, raw, "name", None),
        task_type=_text(path, raw, "task_type", "classification"),
        label_column=_text(path, raw, "label_column", "label"),
        val=_fraction(path, split, "val"),
        test=_fraction(path, split, "test"),
        seed=_seed(path, split),
        path=path,
    )
    if spec.task_type not in TASK_TYPES:
        raise DataError(f"{path}: task_type '{spec.task_type}' is not supported; use one of {', '.join(TASK_TYPES)}")
    if spec.val + spec.test >= 1:
        raise DataError(
            f"{path}: split.val + split.test = {spec.val + spec.test:g} leaves no training data; keep their sum below 1"
        )
    return spec


def _reject_unknown(path: Path, raw: dict, allowed: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        raise DataError(
            f"{path}: unknown key '{prefix}{unknown[0]}'; allowed keys are {', '.join(prefix + k for k in allowed)}"
        )


@overload
def _text(path: Path, raw: dict, key: str, default: str) -> str: ...
@overload
def _text(path: Path, raw: dict, key: str, default: None) -> str | None: ...
def _text(path: Path, raw: dict, key: str, default: str | None) -> str | None:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}: '{key}' must be a non-empty string; got {value!r}")
    return value.strip()


def _fraction(path: Path, split: dict, key: str) -> float:
    value: Any = split.get(key, getattr(DatasetSpec, key))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise DataError(f"{path}: split.{key} must be a fraction in [0, 1), like 0.15; got {value!r}")
    return float(value)


def _seed(path: Path, split: dict) -> int:
    value: Any = split.get("seed", DatasetSpec.seed)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{path}: split.seed must be an integer, like 0; got {value!r}")
    return value
