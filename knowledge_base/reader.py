"""Reading back: run a compiled query into a QueryResult, load evaluations and tasks as records."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from knowledge_base.query.compiler import VIEW_COLUMNS, Compiled
from knowledge_base.records import EvaluationRecord, TaskRecord
from knowledge_base.result import QueryResult
from knowledge_base.schema import architectures, evaluations, metrics, tasks

_CHUNK = 500
VIEW_NAMES = [column.name for column in VIEW_COLUMNS]
TASK_META_COLUMNS = ("n_samples", "input_shape", "n_classes", "class_balance", "x_mean", "x_std", "task_type")


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _rows_for(connection: sa.Connection, columns: Iterable[Any], key: sa.Column, ids: Sequence[int]) -> list[sa.Row]:
    """Rows of `columns` whose `key` is one of `ids`, fetched in chunks of bound parameters."""
    rows: list[sa.Row] = []
    for chunk in _chunks(sorted(set(ids))):
        rows += connection.execute(sa.select(*columns).where(key.in_(chunk))).all()
    return rows


def metrics_by_evaluation(connection: sa.Connection, ids: Sequence[int]) -> dict[int, dict[str, float | None]]:
    """{evaluation id: {metric name: value}} for `ids`."""
    found: dict[int, dict[str, float | None]] = defaultdict(dict)
    for evaluation_id, name, value in _rows_for(connection, metrics.c, metrics.c.evaluation_id, ids):
        found[evaluation_id][name] = value
    return found


def _blobs(connection: sa.Connection, ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """{evaluation id: {"settings": {...}, "lineage": {...}, "task": meta}} for `ids`."""
    columns = [evaluations.c.id, evaluations.c.settings_json, evaluations.c.lineage_json, tasks.c.meta_json]
    found = {}
    for chunk in _chunks(sorted(set(ids))):
        statement = sa.select(*columns).join_from(evaluations, tasks).where(evaluations.c.id.in_(chunk))
        for evaluation_id, settings_json, lineage_json, meta_json in connection.execute(statement):
            found[evaluation_id] = {
                "settings": json.loads(settings_json),
                "lineage": json.loads(lineage_json),
                "task": json.loads(meta_json),
            }
    return found


def run_query(connection: sa.Connection, compiled: Compiled) -> QueryResult:
    """Execute a compiled query; add a column per metric and architecture label, and per other key field named."""
    rows = connection.execute(compiled.select).all()
    ids = [row.id for row in rows]
    metric_values = metrics_by_evaluation(connection, ids)
    arch_ids = [row.architecture_id for row in rows]
    arch_values = {
        arch_id: json.loads(params_json)
        for arch_id, params_json in _rows_for(
            connection, architectures.c["id", "params_json"], architectures.c.id, arch_ids
        )
    }
    metric_names = sorted({name for values in metric_values.values() for name in values})
    labels = sorted({label for values in arch_values.values() for label in values})
    extras = [field for field in compiled.key_fields if field.namespace.prefix in ("settings", "lineage", "task")]
    blobs = _blobs(connection, ids) if extras else {}
    columns = list(VIEW_NAMES)
    columns += [f"metrics.{n}" if n in VIEW_NAMES else n for n in metric_names]
    columns += [f"arch.{label}" for label in labels]
    columns += [field.name for field in extras]
    out = []
    for row in rows:
        values = list(row[: len(VIEW_NAMES)])
        values += [metric_values.get(row.id, {}).get(n) for n in metric_names]
        values += [arch_values.get(row.architecture_id, {}).get(label) for label in labels]
        values += [blobs[row.id][field.namespace.prefix].get(field.key) for field in extras]
        out.append(tuple(values))
    return QueryResult(columns, out)


def add_details(connection: sa.Connection, result: QueryResult) -> QueryResult:
    """``result`` (rows of evaluations, column ``id``) with a ``settings.<key>`` and a ``lineage.<key>`` column for
    every key its evaluations have, after the others (those the result already has are kept once)."""
    ids = result.column("id")
    blobs = _blobs(connection, ids)
    keys = [(prefix, key) for prefix in ("settings", "lineage")
            for key in sorted({k for blob in blobs.values() for k in blob[prefix]})
            if f"{prefix}.{key}" not in result.columns]
    rows = [(*row, *(blobs.get(id_, {}).get(prefix, {}).get(key) for prefix, key in keys))
            for id_, row in zip(ids, result.rows, strict=True)]
    return QueryResult([*result.columns, *(f"{prefix}.{key}" for prefix, key in keys)], rows)


def _task(row: sa.Row) -> TaskRecord:
    return TaskRecord(row.task_name, row.content_hash, json.loads(row.meta_json), id=row.task_id)


def load_evaluations(
    connection: sa.Connection, where: sa.ColumnElement[bool], limit: int | None = None
) -> list[EvaluationRecord]:
    """The evaluations matching `where` (newest first) as EvaluationRecords with their ids."""
    statement = (
        sa.select(
            evaluations,
            tasks.c.name.label("task_name"),
            tasks.c.content_hash,
            tasks.c.meta_json,
            architectures.c.model_name,
            architectures.c.fingerprint,
            architectures.c.params_json,
            architectures.c.n_params,
            architectures.c.flops,
            architectures.c.latency_ms,
            architectures.c.device,
        )
        .select_from(evaluations.join(tasks).join(architectures))
        .where(where)
        .order_by(evaluations.c.created_at.desc(), evaluations.c.id.desc())
        .limit(limit)
    )
    rows = connection.execute(statement).all()
    metric_values = metrics_by_evaluation(connection, [row.id for row in rows])
    records = []
    for row in rows:
        cost = {"params": row.n_params, "flops": row.flops, "latency_ms": row.latency_ms, "device": row.device}
        records.append(
            EvaluationRecord(
                task=_task(row),
                kind=row.kind,
                state=row.state,
                model_name=row.model_name,
                params=json.loads(row.params_json),
                fingerprint=row.fingerprint,
                cost={k: v for k, v in cost.items() if v is not None},
                metrics=metric_values.get(row.id, {}),
                settings=json.loads(row.settings_json),
                wall_time_s=row.wall_time_s,
                lineage=json.loads(row.lineage_json),
                created_at=row.created_at,
                id=row.id,
            )
        )
    return records


def load_tasks(connection: sa.Connection) -> list[TaskRecord]:
    """Every task, oldest first."""
    statement = sa.select(
        tasks.c.id.label("task_id"), tasks.c.name.label("task_name"), tasks.c.content_hash, tasks.c.meta_json
    ).order_by(tasks.c.id)
    return [_task(row) for row in connection.execute(statement)]


def tasks_result(connection: sa.Connection) -> QueryResult:
    """Tasks with their meta-features (the usual ones first, then any others) and evaluation counts."""
    counts: dict[int | None, int] = dict(
        connection.execute(sa.select(evaluations.c.task_id, sa.func.count()).group_by(evaluations.c.task_id)).all()
    )
    created = dict(connection.execute(sa.select(tasks.c.id, tasks.c.created_at)).all())
    records = load_tasks(connection)
    others = sorted({key for task in records for key in task.meta} - set(TASK_META_COLUMNS))
    meta_columns = [*TASK_META_COLUMNS, *others]
    columns = ["id", "name", "content_hash", *meta_columns, "evaluations", "created_at"]
    rows = [
        (
            task.id,
            task.name,
            task.content_hash,
            *(task.meta.get(k) for k in meta_columns),
            counts.get(task.id, 0),
            created[task.id],
        )
        for task in records
    ]
    return QueryResult(columns, rows)
