"""Initial knowledge base: tasks, architectures with their params, evaluations with metrics, settings, lineage.

Revision ID: 0001_initial
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

KV_TABLES = (  # (table, owner table, owner column, key column)
    ("arch_params", "architectures", "architecture_id", "label"),
    ("settings", "evaluations", "evaluation_id", "key"),
    ("lineage", "evaluations", "evaluation_id", "key"),
)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("meta_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "content_hash", name="uq_tasks_name_hash"),
    )
    op.create_table(
        "architectures",
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("model_name", "identity", name="uq_architectures_model_identity"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("architecture_id", sa.Integer, sa.ForeignKey("architectures.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("wall_time_s", sa.Float),
        sa.Column("settings_json", sa.Text, nullable=False),
        sa.Column("lineage_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "metrics",
        sa.Column("evaluation_id", sa.Integer, sa.ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Float),
    )
    for table, owner, owner_column, key_column in KV_TABLES:
        op.create_table(
            table,
            sa.Column(owner_column, sa.Integer, sa.ForeignKey(f"{owner}.id", ondelete="CASCADE"), primary_key=True),
            sa.Column(key_column, sa.String(300), primary_key=True),
            sa.Column("num_value", sa.Float),
            sa.Column("text_value", sa.String(1000)),
        )


def downgrade() -> None:
    for table in ("lineage", "settings", "arch_params", "metrics", "evaluations", "architectures", "tasks"):
        op.drop_table(table)
