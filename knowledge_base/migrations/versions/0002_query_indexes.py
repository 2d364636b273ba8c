"""Query indexes on every filterable key/value table, and task meta-features as an indexed table (backfilled).

Revision ID: 0002_query_indexes
Revises: 0001_initial
Create Date: 2026-05-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from knowledge_base.records import kv_rows

revision = "0002_query_indexes"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

KV_INDEXED = (  # (table, owner column, key column)
    ("arch_params", "architecture_id", "label"),
    ("settings", "evaluation_id", "key"),
    ("lineage", "evaluation_id", "key"),
    ("task_meta", "task_id", "key"),
)


def upgrade() -> None:
    task_meta = op.create_table(
        "task_meta",
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("num_value", sa.Float),
        sa.Column("text_value", sa.String(1000)),
    )
    for table, owner_column, key_column in KV_INDEXED:
        op.create_index(f"ix_{table}_num", table, [key_column, "num_value", owner_column])
        op.create_index(f"ix_{table}_text", table, [key_column, "text_value", owner_column])
    op.create_index("ix_metrics_name_value", "metrics", ["name", "value", "evaluation_id"])
    op.create_index("ix_evaluations_task", "evaluations", ["task_id", "state"])
    op.create_index("ix_evaluations_architecture", "evaluations", ["architecture_id"])
    op.create_index("ix_architectures_n_params", "architectures", ["n_params"])

    connection = op.get_bind()
    tasks = sa.table("tasks", sa.column("id", sa.Integer), sa.column("meta_json", sa.Text))
    rows = []
    for task_id, meta_json in connection.execute(sa.select(tasks.c.id, tasks.c.meta_json)):
        rows.extend(kv_rows("task_id", task_id, "key", json.loads(meta_json or "{}")))
    if rows:
        op.bulk_insert(task_meta, rows)


def downgrade() -> None:
    for name, table in (
        ("ix_architectures_n_params", "architectures"),
        ("ix_evaluations_architecture", "evaluations"),
        ("ix_evaluations_task", "evaluations"),
        ("ix_metrics_name_value", "metrics"),
    ):
        op.drop_index(name, table_name=table)
    for table, _owner_column, _key_column in KV_INDEXED[:-1]:
        op.drop_index(f"ix_{table}_text", table_name=table)
        op.drop_index(f"ix_{table}_num", table_name=table)
    op.drop_table("task_meta")
