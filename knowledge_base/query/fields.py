"""The fields a query can name: evaluation columns, and the key/value namespaces (metrics, arch, task, ...)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from knowledge_base.schema import arch_params, architectures, evaluations, lineage, metrics, settings, task_meta, tasks


@dataclass(frozen=True)
class Column:
    """A field that is one column of the evaluation view; kind is num, text or time."""

    name: str
    column: sa.ColumnElement
    kind: str


@dataclass(frozen=True)
class Namespace:
    """A key/value table: `<prefix>.<key>` filters the rows whose owner has that key with a matching value."""

    prefix: str
    table: sa.Table
    key: sa.Column
    owner: sa.Column  # the table's owner column
    owner_of_evaluation: sa.ColumnElement  # the evaluations-side column the owner matches
    numeric_only: bool = False

    def value_columns(self, table: sa.FromClause | None = None) -> tuple[sa.ColumnElement, ...]:
        """(value,) for metrics; (num_value, text_value) for the others; of `table` (an alias) when given."""
        source = self.table if table is None else table
        if self.numeric_only:
            return (source.c.value,)
        return (source.c.num_value, source.c.text_value)


@dataclass(frozen=True)
class KeyField:
    """A field that is one key of a namespace, e.g. metrics.val_accuracy or arch.conv1.out_channels."""

    name: str
    namespace: Namespace
    key: str

    @property
    def identity(self) -> tuple[str, str]:
        """(namespace, key): `val_accuracy` and `metrics.val_accuracy` are the same field."""
        return (self.namespace.prefix, self.key)


Resolved = Column | KeyField

COLUMNS: dict[str, Column] = {
    spec.name: spec
    for spec in (
        Column("id", evaluations.c.id, "num"),
        Column("task", tasks.c.name, "text"),
        Column("task.name", tasks.c.name, "text"),
        Column("task.content_hash", tasks.c.content_hash, "text"),
        Column("model", architectures.c.model_name, "text"),
        Column("model_name", architectures.c.model_name, "text"),
        Column("kind", evaluations.c.kind, "text"),
        Column("state", evaluations.c.state, "text"),
        Column("fingerprint", architectures.c.fingerprint, "text"),
        Column("params", architectures.c.n_params, "num"),
        Column("flops", architectures.c.flops, "num"),
        Column("latency_ms", architectures.c.latency_ms, "num"),
        Column("device", architectures.c.device, "text"),
        Column("wall_time_s", evaluations.c.wall_time_s, "num"),
        Column("created_at", evaluations.c.created_at, "time"),
    )
}

NAMESPACES: dict[str, Namespace] = {
    ns.prefix: ns
    for ns in (
        Namespace("metrics", metrics, metrics.c.name, metrics.c.evaluation_id, evaluations.c.id, numeric_only=True),
        Namespace(
            "arch", arch_params, arch_params.c.label, arch_params.c.architecture_id, evaluations.c.architecture_id
        ),
        Namespace("task", task_meta, task_meta.c.key, task_meta.c.task_id, evaluations.c.task_id),
        Namespace("settings", settings, settings.c.key, settings.c.evaluation_id, evaluations.c.id),
        Namespace("lineage", lineage, lineage.c.key, lineage.c.evaluation_id, evaluations.c.id),
    )
}


def resolve(name: str) -> Resolved:
    """The field `name` denotes: a column, `<namespace>.<key>`, or (bare) a metric name."""
    if name in COLUMNS:
        return COLUMNS[name]
    prefix, dot, key = name.partition(".")
    if dot and key and prefix in NAMESPACES:
        return KeyField(name, NAMESPACES[prefix], key)
    return KeyField(name, NAMESPACES["metrics"], name)


def known_fields_text(known_keys: dict[str, list[str]]) -> str:
    """The field names a query may use, for error messages: columns, then each namespace's recorded keys."""
    lines = ["known fields: " + ", ".join(COLUMNS)]
    for prefix in NAMESPACES:
        keys = known_keys.get(prefix, [])
        shown = ", ".join(f"{prefix}.{k}" for k in keys[:30]) + (
            f", ... ({len(keys)} in all)" if len(keys) > 30 else ""
        )
        lines.append(f"{prefix}.<key>: {shown or '(none recorded yet)'}")
    lines.append(
        "bare names are metric names (test_accuracy = metrics.test_accuracy); quote odd names with `backquotes`"
    )
    return "\n".join(lines)


def distinct_keys(connection: sa.Connection, namespace: Namespace) -> list[str]:
    """The distinct keys recorded in a namespace, read by a loose index scan (one probe per key)."""
    column = namespace.key
    seed = sa.select(sa.func.min(column).label("k")).cte("keys", recursive=True)
    step = sa.select(sa.select(sa.func.min(column)).where(column > seed.c.k).scalar_subquery()).where(
        seed.c.k.is_not(None)
    )
    keys = seed.union_all(step)
    return [k for (k,) in connection.execute(sa.select(keys.c.k).where(keys.c.k.is_not(None)))]


def key_exists(connection: sa.Connection, field: KeyField) -> bool:
    """Whether any row records `field`'s key (one index probe)."""
    namespace = field.namespace
    statement = sa.select(sa.literal(1)).select_from(namespace.table).where(namespace.key == field.key).limit(1)
    return connection.execute(statement).first() is not None
