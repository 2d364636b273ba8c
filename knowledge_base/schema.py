"""SQLAlchemy Core tables of the knowledge base at the head migration (the migrations create them)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from knowledge_base.records import TEXT_INDEX_CHARS


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC (naive on SQLite, aware on PostgreSQL) and always read back aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()


def _kv_table(name: str, owner: str, owner_column: str, key_column: str) -> sa.Table:
    """A key/value index table: one row per (owner, key) with a numeric or a text value, each partially indexed."""
    return sa.Table(
        name,
        metadata,
        sa.Column(owner_column, sa.Integer, sa.ForeignKey(f"{owner}.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(key_column, sa.String(300), primary_key=True),
        sa.Column("num_value", sa.Float),
        sa.Column("text_value", sa.String(TEXT_INDEX_CHARS)),
        *(
            sa.Index(
                f"ix_{name}_{kind}",
                key_column,
                f"{kind}_value",
                owner_column,
                sqlite_where=present,
                postgresql_where=present,
            )
            for kind, present in (
                ("num", sa.text("num_value IS NOT NULL")),
                ("text", sa.text("text_value IS NOT NULL")),
            )
        ),
    )


tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=False),
    sa.Column("meta_json", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("name", "content_hash", name="uq_tasks_name_hash"),
)

architectures = sa.Table(
    "architectures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("identity", sa.String(200), nullable=False),
    sa.Column("fingerprint", sa.String(128)),
    sa.Column("params_hash", sa.String(64), nullable=False),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("n_params", sa.BigInteger),
    sa.Column("flops", sa.BigInteger),
    sa.Column("latency_ms", sa.Float),
    sa.Column("device", sa.String(64)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("model_name", "identity", name="uq_architectures_model_identity"),
    sa.Index("ix_architectures_n_params", "n_params"),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), nullable=False),
    sa.Column("architecture_id", sa.Integer, sa.ForeignKey("architectures.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("wall_time_s", sa.Float),
    sa.Column("settings_json", sa.Text, nullable=False),
    sa.Column("lineage_json", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_evaluations_task", "task_id", "state"),
    sa.Index("ix_evaluations_architecture", "architecture_id"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("evaluation_id", sa.Integer, sa.ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Float),
    sa.Index("ix_metrics_name_value", "name", "value", "evaluation_id"),
)

arch_params = _kv_table("arch_params", "architectures", "architecture_id", "label")
settings = _kv_table("settings", "evaluations", "evaluation_id", "key")
lineage = _kv_table("lineage", "evaluations", "evaluation_id", "key")
task_meta = _kv_table("task_meta", "tasks", "task_id", "key")
