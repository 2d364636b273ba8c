"""Writing evaluations: upsert their task and architecture, insert the evaluation and its key/value rows."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from knowledge_base.records import EvaluationRecord, TaskRecord, canonical_json, kv_rows, params_hash, utc
from knowledge_base.schema import arch_params, architectures, evaluations, lineage, metrics, settings, task_meta, tasks

_COST_COLUMNS = {"params": "n_params", "flops": "flops", "latency_ms": "latency_ms", "device": "device"}


def _insert_ignore_statements(table: sa.Table, keys: list[str], returning: bool = False) -> dict[str, sa.Insert]:
    """INSERT ... ON CONFLICT DO NOTHING [RETURNING id], for each backend."""
    statements: dict[str, sa.Insert] = {
        "postgresql": postgresql.insert(table).on_conflict_do_nothing(index_elements=keys),
        "sqlite": sqlite.insert(table).on_conflict_do_nothing(index_elements=keys),
    }
    return {name: s.returning(table.c.id) if returning else s for name, s in statements.items()}


# Built once: building a statement costs more than running it on SQLite.
_INSERT_IGNORE = {
    "tasks": _insert_ignore_statements(tasks, ["name", "content_hash"], returning=True),
    "architectures": _insert_ignore_statements(architectures, ["model_name", "identity"]),
    "arch_params": _insert_ignore_statements(arch_params, ["architecture_id", "label"]),
}
_INSERT = {table.name: sa.insert(table) for table in (task_meta, metrics, settings, lineage)}
_INSERT_EVALUATION = sa.insert(evaluations).returning(evaluations.c.id, sort_by_parameter_order=True)
_ARCH_COLUMNS = [architectures.c.id, architectures.c.model_name, architectures.c.identity]
_ARCH_COLUMNS += [architectures.c[column] for column in _COST_COLUMNS.values()]
_SELECT_ARCHITECTURES = sa.select(*_ARCH_COLUMNS).where(
    architectures.c.model_name == sa.bindparam("model_name"),
    architectures.c.identity.in_(sa.bindparam("ids", expanding=True)),
)
_CHUNK = 500
TaskCache = dict[tuple[str, str, str], int]


def _insert_ignore(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]] | dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING of one row or many."""
    return connection.execute(_INSERT_IGNORE[table.name][connection.dialect.name], rows)


def _upsert_task(connection: sa.Connection, task: TaskRecord, now: datetime) -> int:
    """The id of `task`, inserted if new; new meta-features of a known task are merged into its meta."""
    values = {"name": task.name, "content_hash": task.content_hash, "meta_json": canonical_json(task.meta)}
    task_id = _insert_ignore(connection, tasks, {**values, "created_at": now}).scalar()  # None: it existed
    if task_id is not None:
        if task.meta:
            connection.execute(_INSERT["task_meta"], kv_rows("task_id", task_id, "key", task.meta))
        return task_id
    where = (tasks.c.name == task.name) & (tasks.c.content_hash == task.content_hash)
    row = connection.execute(sa.select(tasks.c.id, tasks.c.meta_json).where(where)).one()
    merged = {**json.loads(row.meta_json), **task.meta}
    if canonical_json(merged) != row.meta_json:
        connection.execute(sa.update(tasks).where(tasks.c.id == row.id).values(meta_json=canonical_json(merged)))
        connection.execute(sa.delete(task_meta).where(task_meta.c.task_id == row.id))
        connection.execute(_INSERT["task_meta"], kv_rows("task_id", row.id, "key", merged))
    return row.id


def _cost_values(record: EvaluationRecord) -> dict[str, Any]:
    values = {}
    for key, column in _COST_COLUMNS.items():
        value = record.cost.get(key)
        if value is not None:
            values[column] = value if key in ("device", "latency_ms") else round(value)
    return values


def _upsert_architectures(connection: sa.Connection, records: Sequence[EvaluationRecord], now: datetime) -> dict:
    """{(model_name, identity): id} for the records' architectures, inserting new ones with their params.

    Concurrent writers are safe: rows are inserted with ON CONFLICT DO NOTHING and then read back. The
    latest measurement of a cost (params, FLOPs, latency, device) replaces the stored one.
    """
    costs: dict[tuple[str, str], dict[str, Any]] = {}
    new_rows: dict[tuple[str, str], dict[str, Any]] = {}
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (record.model_name, record.arch_identity)
        costs[key] = {**costs.get(key, {}), **_cost_values(record)}
        params[key] = record.params
        new_rows[key] = {
            "model_name": record.model_name,
            "identity": record.arch_identity,
            "fingerprint": record.fingerprint,
            "params_hash": params_hash(record.params),
            "params_json": canonical_json(record.params),
            "created_at": now,
        }
    for key, row in new_rows.items():
        row.update({column: costs[key].get(column) for column in _COST_COLUMNS.values()})
    _insert_ignore(connection, architectures, list(new_rows.values()))
    stored = {}
    for model_name in sorted({model_name for model_name, _ in new_rows}):
        identities = sorted(identity for name, identity in new_rows if name == model_name)
        for start in range(0, len(identities), _CHUNK):
            chunk = {"model_name": model_name, "ids": identities[start : start + _CHUNK]}
            stored.update(
                {(row.model_name, row.identity): row for row in connection.execute(_SELECT_ARCHITECTURES, chunk)}
            )
    param_rows = [row for key, p in params.items() for row in kv_rows("architecture_id", stored[key].id, "label", p)]
    if param_rows:
        _insert_ignore(connection, arch_params, param_rows)
    for key, cost in costs.items():
        changed = {column: value for column, value in cost.items() if stored[key]._mapping[column] != value}
        if changed:
            connection.execute(sa.update(architectures).where(architectures.c.id == stored[key].id).values(**changed))
    return {key: row.id for key, row in stored.items()}


def _metric_value(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def write_evaluations(connection: sa.Connection, records: Sequence[EvaluationRecord], task_ids: TaskCache) -> list[int]:
    """Insert `records` on `connection` (inside the caller's transaction); the new evaluation ids, in order.

    `task_ids` maps (name, content_hash, meta JSON) to the ids of tasks known to be stored as they are; the
    tasks written here are added to it, so pass a copy and keep it only once the transaction has committed.
    """
    if not records:
        return []
    now = utc(None)
    arch_ids = _upsert_architectures(connection, records, now)
    rows = []
    for record in records:
        task_key = (record.task.name, record.task.content_hash, canonical_json(record.task.meta))
        if task_key not in task_ids:
            task_ids[task_key] = _upsert_task(connection, record.task, now)
        rows.append(
            {
                "task_id": task_ids[task_key],
                "architecture_id": arch_ids[(record.model_name, record.arch_identity)],
                "kind": record.kind,
                "state": record.state,
                "wall_time_s": record.wall_time_s,
                "settings_json": canonical_json(record.settings),
                "lineage_json": canonical_json(record.lineage),
                "created_at": utc(record.created_at),
            }
        )
    statement = _INSERT_EVALUATION
    ids = list(connection.scalars(statement, rows)) if len(rows) > 1 else [connection.scalar(statement, rows[0])]
    metric_rows, settings_rows, lineage_rows = [], [], []
    for evaluation_id, record in zip(ids, records, strict=True):
        metric_rows += [
            {"evaluation_id": evaluation_id, "name": name, "value": _metric_value(value)}
            for name, value in record.metrics.items()
        ]
        settings_rows += kv_rows("evaluation_id", evaluation_id, "key", record.settings)
        lineage_rows += kv_rows("evaluation_id", evaluation_id, "key", record.lineage)
    for table, table_rows in ((metrics, metric_rows), (settings, settings_rows), (lineage, lineage_rows)):
        if table_rows:
            connection.execute(_INSERT[table.name], table_rows)
    return ids
