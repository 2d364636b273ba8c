"""The records nasflow writes: a task (data set + meta-features) and one evaluation of an architecture on it."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from knowledge_base.errors import RecordError

KINDS = ("trial", "retrain")
STATES = ("complete", "pruned", "failed", "reused")
COST_KEYS = ("params", "flops", "latency_ms", "device")

Scalar = str | int | float | bool | None
MAX_LENGTHS = {"name": 200, "content_hash": 128, "model_name": 200, "fingerprint": 128, "device": 64, "key": 300}
TEXT_INDEX_CHARS = 1000  # a text_value keeps this many characters, so that long strings still fit a B-tree index


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same mapping always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def params_hash(params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an architecture's label -> value mapping."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()


def utc(value: datetime | None) -> datetime:
    """`value` as an aware UTC datetime (naive values are taken as UTC); now when None."""
    if value is None:
        return datetime.now(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_mapping(owner: str, name: str, value: Any, *, scalars_only: bool, as_json: bool = True) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{owner}.{name} must be a dict, got {type(value).__name__} {value!r}; pass a dict.")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise RecordError(f"{owner}.{name} has key {key!r}; keys must be non-empty strings.")
        _check_length(owner, f"{name} key", key, MAX_LENGTHS["key"])
        for text in (key, item):
            if isinstance(text, str) and "\x00" in text:
                raise RecordError(f"{owner}.{name}[{key!r}] holds a NUL character in {text!r}; remove it.")
        if scalars_only and not isinstance(item, Scalar):
            raise RecordError(
                f"{owner}.{name}[{key!r}] = {item!r} is a {type(item).__name__}; "
                "values must be str, int, float, bool or None."
            )
    if not as_json:
        return value
    try:
        canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{owner}.{name} = {value!r} is not JSON-serializable ({exc}); use plain values.") from exc
    return value


def _check_length(owner: str, name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise RecordError(
            f"{owner}.{name} {value[:40]!r}... is {len(value)} characters; the limit is {limit}: shorten it."
        )


def _check_text(owner: str, name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{owner}.{name} = {value!r} must be a non-empty string{' or None' if optional else ''}.")
    if "\x00" in value:
        raise RecordError(f"{owner}.{name} = {value!r} holds a NUL character; remove it.")
    _check_length(owner, name, value, MAX_LENGTHS[name])


def _check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise RecordError(f"{owner}.{name} = {value!r} is not one of {', '.join(choices)}; use one of those.")


def _check_number(owner: str, name: str, value: Any, *, minimum: float | None = 0.0) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{owner}.{name} = {value!r} is not a number; pass an int or float (or None).")
    if isinstance(value, int) and abs(value) >= 2**63:
        raise RecordError(f"{owner}.{name} = {value!r} does not fit in 64 bits; pass a smaller number.")
    if minimum is not None and value < minimum:
        raise RecordError(f"{owner}.{name} = {value!r} is negative; pass a value >= {minimum:g} (or None).")


@dataclass
class TaskRecord:
    """A data set the knowledge base knows: its name, content hash and meta-features."""

    name: str
    content_hash: str
    meta: dict[str, Any] = field(default_factory=dict)
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_text("TaskRecord", "name", self.name)
        _check_text("TaskRecord", "content_hash", self.content_hash)
        _check_mapping("TaskRecord", "meta", self.meta, scalars_only=False)


@dataclass
class EvaluationRecord:
    """One trained model (an Optuna trial or a retrain): architecture, cost, metrics, settings and lineage."""

    task: TaskRecord
    kind: str
    state: str
    model_name: str
    params: dict[str, Any]
    fingerprint: str | None = None
    cost: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        owner = "EvaluationRecord"
        if not isinstance(self.task, TaskRecord):
            raise RecordError(f"{owner}.task = {self.task!r} must be a TaskRecord; build one with TaskRecord(...).")
        _check_choice(owner, "kind", self.kind, KINDS)
        _check_choice(owner, "state", self.state, STATES)
        _check_text(owner, "model_name", self.model_name)
        _check_text(owner, "fingerprint", self.fingerprint, optional=True)
        _check_mapping(owner, "params", self.params, scalars_only=True)
        _check_mapping(owner, "cost", self.cost, scalars_only=True)
        unknown = sorted(set(self.cost) - set(COST_KEYS))
        if unknown:
            raise RecordError(f"{owner}.cost has unknown keys {unknown}; known keys: {', '.join(COST_KEYS)}.")
        for key in ("params", "flops", "latency_ms"):
            _check_number(owner, f"cost[{key!r}]", self.cost.get(key))
        _check_text(owner, "device", self.cost.get("device"), optional=True)
        _check_mapping(owner, "metrics", self.metrics, scalars_only=True, as_json=False)
        for key, value in self.metrics.items():
            _check_number(owner, f"metrics[{key!r}]", value, minimum=None)
        _check_mapping(owner, "settings", self.settings, scalars_only=True)
        _check_mapping(owner, "lineage", self.lineage, scalars_only=True)
        _check_number(owner, "wall_time_s", self.wall_time_s)
        if self.created_at is not None and not isinstance(self.created_at, datetime):
            raise RecordError(f"{owner}.created_at = {self.created_at!r} must be a datetime or None (now).")

    @property
    def arch_identity(self) -> str:
        """What makes two architectures of one model the same: the fingerprint, else the params hash."""
        return self.fingerprint or f"params:{params_hash(self.params)}"


def split_value(value: Any) -> tuple[float | None, str | None]:
    """Split a value into the (num_value, text_value) pair of a key/value index row.

    Numbers and bools go to num_value (True -> 1.0); strings to text_value; lists and dicts to text_value
    as canonical JSON (so `task.input_shape = '[1,8,8]'` matches); None and NaN to neither.
    """
    if isinstance(value, list | dict):
        return None, canonical_json(value)[:TEXT_INDEX_CHARS]
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, int | float):
        number = float(value)
        return (None if math.isnan(number) else number), None
    if isinstance(value, str):
        return None, value[:TEXT_INDEX_CHARS]
    return None, None


def kv_rows(owner_column: str, owner_id: int, key_column: str, mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """The key/value index rows of `mapping` for one owner row."""
    rows = []
    for key, value in mapping.items():
        num, text = split_value(value)
        rows.append({owner_column: owner_id, key_column: key, "num_value": num, "text_value": text})
    return rows
