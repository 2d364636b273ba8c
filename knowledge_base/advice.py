"""Knowledge within and between tasks: best under a budget, Pareto fronts, warm-start configurations, reuse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from knowledge_base.errors import QueryError
from knowledge_base.query.compiler import compile_query
from knowledge_base.query.fields import COLUMNS
from knowledge_base.query.parser import BoolOp, Condition, Field, OrderItem, Query, Value
from knowledge_base.reader import load_tasks, run_query
from knowledge_base.records import TaskRecord, canonical_json
from knowledge_base.result import QueryResult
from knowledge_base.schema import architectures, evaluations, metrics, tasks
from knowledge_base.similarity import rank_by_similarity

COST_FIELDS = ("params", "flops", "latency_ms", "wall_time_s")


@dataclass(frozen=True)
class WarmStart:
    """One warm-start configuration and where it comes from.

    `value` is the best `metric` the architecture reached on `task`; `evaluation_id` its newest evaluation there.
    """

    params: dict[str, Any]
    task: str
    content_hash: str
    distance: float
    metric: str
    value: float
    evaluation_id: int


def _condition(name: str, op: str, value: Value | tuple[Value, ...] | None = None) -> Condition:
    return Condition(Field(name, 0), op, value if value is not None else "", 0)


def _check_budget(name: str, value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
        raise QueryError(f"{name} = {value!r} must be a number >= 0 (or None for no limit).")


def _task_evaluations(
    connection: sa.Connection,
    task: str,
    metric: str,
    *,
    kind: str | None,
    order: tuple[OrderItem, ...],
    limit: int | None = None,
    extra: tuple[Condition, ...] = (),
) -> QueryResult:
    """Complete evaluations of `task` that have `metric` and meet the `extra` conditions."""
    conditions = [_condition("task", "=", task), _condition("state", "=", "complete")]
    conditions += [_condition(f"metrics.{metric}", "exists"), *extra]
    if kind is not None:
        conditions.append(_condition("kind", "=", kind))
    query = Query(BoolOp("and", tuple(conditions)), order, limit)
    return run_query(connection, compile_query("", query, None))


def best(
    connection: sa.Connection, task: str, budget: dict[str, float | None], metric: str, **options: Any
) -> QueryResult:
    """The best complete evaluations of `task` by `metric` within `budget` ({cost field: maximum or None}).

    Options: kind (None: any), maximize (True), limit (10).
    """
    kind, maximize, limit = options.get("kind"), options.get("maximize", True), options.get("limit", 10)
    order = (OrderItem(Field(f"metrics.{metric}", 0), descending=maximize), OrderItem(Field("params", 0)))
    within = []
    for field, maximum in budget.items():
        _check_budget(f"max_{field}", maximum)
        if maximum is not None:
            within.append(_condition(field, "<=", maximum))
    return _task_evaluations(connection, task, metric, kind=kind, order=order, limit=limit, extra=tuple(within))


def pareto(
    connection: sa.Connection, task: str, metric: str, cost: str, kind: str | None, maximize: bool
) -> QueryResult:
    """The Pareto front of `task`: evaluations no other beats on both `metric` and `cost`, cheapest first.

    The front is found on (id, cost, metric) rows only; the full rows are then read for its members.
    """
    if cost not in COST_FIELDS:
        raise QueryError(f"cost {cost!r} is not a cost field; use one of {', '.join(COST_FIELDS)}.")
    cost_column, value = COLUMNS[cost].column, metrics.c.value
    lean = (
        sa.select(evaluations.c.id, value)
        .select_from(evaluations.join(tasks).join(architectures).join(metrics))
        .where(tasks.c.name == task, evaluations.c.state == "complete", metrics.c.name == metric)
        .where(value.is_not(None), cost_column.is_not(None), evaluations.c.kind == kind if kind else sa.true())
        .order_by(cost_column, value.desc() if maximize else value, evaluations.c.id)
    )
    front, best_value = [], None
    for evaluation_id, metric_value in connection.execute(lean):
        if best_value is None or (metric_value > best_value if maximize else metric_value < best_value):
            front.append(evaluation_id)
            best_value = metric_value
    order = (OrderItem(Field(cost, 0)), OrderItem(Field(f"metrics.{metric}", 0), descending=maximize))
    members = _condition("id", "in", tuple(front)) if front else _condition("id", "=", -1)
    return _task_evaluations(connection, task, metric, kind=kind, order=order, extra=(members,))


SIMILAR_COLUMNS = ["rank", "task", "content_hash", "distance", "n_samples", "input_shape", "n_classes", "task_type"]
SIMILAR_COLUMNS += ["evaluations", "best_model", "best_metric", "best_value", "best_params"]


def _best_of_task(connection: sa.Connection, task_id: int, metric: str) -> sa.Row | None:
    statement = (
        sa.select(architectures.c.model_name, architectures.c.params_json, metrics.c.value)
        .select_from(evaluations.join(architectures).join(metrics))
        .where(
            evaluations.c.task_id == task_id,
            evaluations.c.state == "complete",
            metrics.c.name == metric,
            metrics.c.value.is_not(None),
        )
        .order_by(metrics.c.value.desc(), evaluations.c.id)
        .limit(1)
    )
    return connection.execute(statement).first()


def similar_result(
    connection: sa.Connection, ranked: list[tuple[TaskRecord, float]], metrics_: tuple[str, ...]
) -> QueryResult:
    """Ranked tasks with their main meta-features and best architecture (by the first of `metrics_` recorded)."""
    counts: dict[int | None, int] = dict(
        connection.execute(sa.select(evaluations.c.task_id, sa.func.count()).group_by(evaluations.c.task_id)).all()
    )
    rows = []
    for rank, (task, distance) in enumerate(ranked, start=1):
        best_row, best_metric = None, None
        for metric in metrics_:
            best_row = _best_of_task(connection, task.id or 0, metric)
            if best_row is not None:
                best_metric = metric
                break
        meta = [task.meta.get(key) for key in ("n_samples", "input_shape", "n_classes", "task_type")]
        best = (
            [best_row.model_name, best_metric, best_row.value, json.loads(best_row.params_json)]
            if best_row
            else [None] * 4
        )
        rows.append((rank, task.name, task.content_hash, round(distance, 4), *meta, counts.get(task.id, 0), *best))
    return QueryResult(list(SIMILAR_COLUMNS), rows)


def warm_starts(
    connection: sa.Connection, task_meta: dict[str, Any], model_name: str, k: int, **options: Any
) -> list[WarmStart]:
    """Up to `k` distinct configurations of `model_name`: the best of the most similar task first, then the next.

    Options: exclude_hash (skip the task with this content hash), metric ("val_accuracy"), maximize (True).
    """
    exclude_hash, metric = options.get("exclude_hash"), options.get("metric", "val_accuracy")
    maximize = options.get("maximize", True)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise QueryError(f"k = {k!r} must be a whole number >= 1.")
    candidates = [task for task in load_tasks(connection) if task.content_hash != exclude_hash]
    found: list[WarmStart] = []
    seen: set[str] = set()
    for task, distance in rank_by_similarity(task_meta, candidates):
        value = sa.func.max(metrics.c.value) if maximize else sa.func.min(metrics.c.value)
        statement = (
            sa.select(architectures.c.params_json, value.label("value"), sa.func.max(evaluations.c.id).label("eid"))
            .select_from(evaluations.join(architectures).join(metrics))
            .where(
                evaluations.c.task_id == task.id,
                evaluations.c.state == "complete",
                architectures.c.model_name == model_name,
                metrics.c.name == metric,
                metrics.c.value.is_not(None),
            )
            .group_by(architectures.c.id, architectures.c.params_json)
            .order_by(value.desc() if maximize else value.asc(), architectures.c.id)
            .limit(k)
        )
        for params_json, best_value, evaluation_id in connection.execute(statement):
            params = json.loads(params_json)
            if canonical_json(params) in seen:
                continue
            seen.add(canonical_json(params))
            found.append(WarmStart(params, task.name, task.content_hash, distance, metric, best_value, evaluation_id))
            if len(found) == k:
                return found
    return found
