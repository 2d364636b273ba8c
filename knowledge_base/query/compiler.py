"""Compile a parsed query into a SQLAlchemy SELECT over the evaluation view (bound parameters only)."""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from knowledge_base.query.fields import (
    COLUMNS,
    NAMESPACES,
    Column,
    KeyField,
    Resolved,
    distinct_keys,
    key_exists,
    known_fields_text,
    resolve,
)
from knowledge_base.query.lexer import error_at
from knowledge_base.query.parser import BoolOp, Condition, Expr, Not, OrderItem, Query, Value
from knowledge_base.records import TEXT_INDEX_CHARS, utc
from knowledge_base.schema import architectures, evaluations, tasks

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

ESTIMATE_CAP = 10_000
_KIND_NAMES = {"num": "number", "text": "text", "time": "timestamp"}

VIEW_COLUMNS = (
    evaluations.c.id,
    tasks.c.name.label("task"),
    architectures.c.model_name.label("model"),
    evaluations.c.kind,
    evaluations.c.state,
    architectures.c.fingerprint,
    architectures.c.n_params.label("params"),
    architectures.c.flops,
    architectures.c.latency_ms,
    architectures.c.device,
    evaluations.c.wall_time_s,
    evaluations.c.created_at,
)
VIEW_FROM = evaluations.join(tasks, evaluations.c.task_id == tasks.c.id).join(
    architectures, evaluations.c.architecture_id == architectures.c.id
)


@dataclass(frozen=True)
class Compiled:
    """A compiled query: the SELECT, and the key fields it named (shown as extra result columns)."""

    select: sa.Select
    key_fields: tuple[KeyField, ...]


@dataclass
class _Plan:
    """How the top-level key/value conditions run.

    `joined`: the condition on the first order key, tested on a joined alias of its key/value table, so the
    database can walk the (key, value) index in order and stop at the limit. `driver`: the condition that
    matches fewest rows, compiled as `IN (index range scan)`. Every other one is an EXISTS probe per row.
    """

    driver: Condition | None = None
    joined: Condition | None = None
    alias: sa.FromClause | None = None


def view_select(from_: sa.FromClause = VIEW_FROM) -> sa.Select:
    """SELECT of the evaluation view's columns (plus the hidden architecture_id) with no filter."""
    return sa.select(*VIEW_COLUMNS, evaluations.c.architecture_id).select_from(from_)


class _Compiler:
    def __init__(self, text: str, connection: sa.Connection | None) -> None:
        self.text = text
        self.connection = connection
        self.key_fields: dict[str, KeyField] = {}

    def field(self, name: str, pos: int) -> Resolved:
        resolved = resolve(name)
        if isinstance(resolved, KeyField) and name not in self.key_fields:
            if self.connection is not None and not key_exists(self.connection, resolved):
                raise self.unknown(resolved, pos)
            self.key_fields[name] = resolved
        return resolved

    def unknown(self, field: KeyField, pos: int) -> Exception:
        assert self.connection is not None
        known = {prefix: distinct_keys(self.connection, ns) for prefix, ns in NAMESPACES.items()}
        candidates = list(COLUMNS) + [f"{p}.{k}" for p, keys in known.items() for k in keys]
        elsewhere = [f"{p}.{field.key}" for p, keys in known.items() if field.key in keys]
        close = elsewhere or difflib.get_close_matches(field.name, candidates, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        where = f"{field.namespace.prefix} key" if field.name.startswith(f"{field.namespace.prefix}.") else "field"
        message = f"unknown {where} {field.name!r}: nothing recorded under that name{hint}"
        return error_at(self.text, pos, message, known_fields_text(known))

    def check_value(self, field: Resolved, op: str, value: Value, pos: int) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise error_at(self.text, pos, "text values cannot contain NUL characters: remove them")
        kind = field.kind if isinstance(field, Column) else "num" if field.namespace.numeric_only else "any"
        if op == "like" and kind not in ("text", "any"):
            raise error_at(self.text, pos, f"'like' needs a text field, but {field.name} is a {_KIND_NAMES[kind]}")
        if kind == "num" and isinstance(value, str | bool):
            raise error_at(self.text, pos, f"{field.name} is a number; compare it with a number, not {value!r}")
        if kind == "text" and not isinstance(value, str):
            raise error_at(self.text, pos, f"{field.name} is text; quote the value: {field.name} {op} '{value}'")
        if kind == "time":
            try:
                return utc(datetime.fromisoformat(str(value)))
            except ValueError as exc:
                example = "'2026-05-01' or '2026-05-01T12:00:00'"
                message = f"{field.name} needs an ISO date such as {example}, not {value!r}"
                raise error_at(self.text, pos, message) from exc
        return value

    def match(self, node: Condition, table: sa.FromClause | None = None) -> tuple[Resolved, sa.ColumnElement[bool]]:
        """The field of `node` and its test: on the column, or on the value columns of a key/value `table`."""
        field = self.field(node.field.name, node.field.pos)
        if node.op == "exists":  # built by the Python API only: the field has a (non-null) value
            if isinstance(field, Column):
                return field, field.column.is_not(None)
            return field, sa.or_(*(c.is_not(None) for c in field.namespace.value_columns(table)))
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        values = tuple(self.check_value(field, node.op, v, node.value_pos) for v in values)
        if isinstance(field, KeyField):
            return field, _key_value_match(field.namespace.value_columns(table), node.op, values)
        if node.op == "in":
            return field, field.column.in_(values)
        if node.op == "like":
            return field, field.column.ilike(values[0])
        return field, _OPS[node.op](field.column, values[0])

    def estimate(self, node: Condition) -> int:
        """How many key/value rows match `node`, counted up to ESTIMATE_CAP (one bounded index range scan)."""
        field, match = self.match(node)
        if self.connection is None or not isinstance(field, KeyField):
            return ESTIMATE_CAP
        namespace = field.namespace
        rows = sa.select(sa.literal(1)).select_from(namespace.table).where(namespace.key == field.key, match)
        count = self.connection.scalar(sa.select(sa.func.count()).select_from(rows.limit(ESTIMATE_CAP).subquery()))
        return int(count or 0)

    def plan(self, conjuncts: list[Expr], order: tuple[OrderItem, ...]) -> _Plan:
        key_conditions = [
            c for c in conjuncts if isinstance(c, Condition) and isinstance(resolve(c.field.name), KeyField)
        ]
        plan = _Plan()
        first = resolve(order[0].field.name) if order else None
        if isinstance(first, KeyField):
            plan.joined = next((c for c in key_conditions if _same_field(c, first)), None)
            if plan.joined is not None:
                plan.alias = first.namespace.table.alias("order_key")
        others = [c for c in key_conditions if c is not plan.joined]
        if not others:
            return plan
        if plan.joined is None and len(others) == 1:
            plan.driver = others[0]
            return plan
        counts = {id(c): self.estimate(c) for c in [*others, *([plan.joined] if plan.joined else [])]}
        best = min(others, key=lambda c: counts[id(c)])
        if plan.joined is None or counts[id(best)] < counts[id(plan.joined)]:
            plan.driver = best
        return plan

    def condition(self, node: Condition, plan: _Plan, in_or: bool) -> sa.ColumnElement[bool]:
        if node is plan.joined:
            return self.match(node, plan.alias)[1]
        field, match = self.match(node)
        if isinstance(field, Column):
            return match
        namespace = field.namespace
        if in_or or node is plan.driver:  # owners in the list of matching owners, from an index range scan
            return namespace.owner_of_evaluation.in_(
                sa.select(namespace.owner).where(namespace.key == field.key, match)
            )
        probe = sa.select(sa.literal(1)).where(  # one primary-key probe per candidate row, no list built
            namespace.owner == namespace.owner_of_evaluation, namespace.key == field.key, match
        )
        return probe.exists()

    def expr(self, node: Expr, plan: _Plan, in_or: bool = False) -> sa.ColumnElement[bool]:
        if isinstance(node, Condition):
            return self.condition(node, plan, in_or)
        if isinstance(node, Not):
            return sa.not_(self.expr(node.expr, plan, in_or))
        items = [self.expr(item, plan, in_or or node.op == "or") for item in node.items]
        return sa.and_(*items) if node.op == "and" else sa.or_(*items)

    def order_keys(self, item: OrderItem, table: sa.FromClause | None) -> list[sa.ColumnElement]:
        field = self.field(item.field.name, item.field.pos)
        if isinstance(field, Column):
            keys: list[sa.ColumnElement] = [field.column]
        elif table is not None:
            keys = list(field.namespace.value_columns(table))
        else:
            namespace = field.namespace
            keys = [
                sa.select(value)
                .where(namespace.owner == namespace.owner_of_evaluation, namespace.key == field.key)
                .scalar_subquery()
                for value in namespace.value_columns()
            ]
        return [(key.desc() if item.descending else key.asc()).nulls_last() for key in keys]


def _same_field(condition: Condition, field: KeyField) -> bool:
    resolved = resolve(condition.field.name)
    return isinstance(resolved, KeyField) and resolved.identity == field.identity


def _key_value_match(
    value_columns: tuple[sa.ColumnElement, ...], op: str, values: tuple[Value, ...]
) -> sa.ColumnElement[bool]:
    """The test on a key/value row's value columns: numbers (and bools) on num_value, text on text_value."""
    num_column, text_column = value_columns[0], value_columns[-1]
    numbers = [float(v) for v in values if not isinstance(v, str)]
    texts = [v[:TEXT_INDEX_CHARS] for v in values if isinstance(v, str)]
    if op == "like":
        return text_column.ilike(texts[0])
    if op == "in":
        parts = ([num_column.in_(numbers)] if numbers else []) + ([text_column.in_(texts)] if texts else [])
        return sa.or_(*parts)
    column, value = (num_column, numbers[0]) if numbers else (text_column, texts[0])
    return _OPS[op](column, value)


def _conjuncts(node: Expr) -> list[Expr]:
    """The top-level `and` operands of `node` (nested ands flattened)."""
    if isinstance(node, BoolOp) and node.op == "and":
        return [part for item in node.items for part in _conjuncts(item)]
    return [node]


def compile_query(text: str, query: Query, connection: sa.Connection | None) -> Compiled:
    """Compile `query` (parsed from `text`); unknown key fields are checked on `connection` when given."""
    compiler = _Compiler(text, connection)
    conjuncts = _conjuncts(query.where) if query.where is not None else []
    plan = compiler.plan(conjuncts, query.order)
    from_ = VIEW_FROM
    if plan.alias is not None and plan.joined is not None:
        field = resolve(plan.joined.field.name)
        assert isinstance(field, KeyField)
        namespace, alias = field.namespace, plan.alias
        on = sa.and_(
            alias.c[namespace.owner.name] == namespace.owner_of_evaluation, alias.c[namespace.key.name] == field.key
        )
        from_ = VIEW_FROM.join(alias, on)
    statement = view_select(from_).where(*(compiler.expr(item, plan) for item in conjuncts))
    order: list[sa.ColumnElement] = []
    for index, item in enumerate(query.order):
        order += compiler.order_keys(item, plan.alias if index == 0 else None)
    statement = statement.order_by(*order, evaluations.c.id)
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return Compiled(statement, tuple(compiler.key_fields.values()))
