"""Partial value indexes: a key/value row goes into the numeric or the text index, not both.

Revision ID: 0003_partial_value_indexes
Revises: 0002_query_indexes
Create Date: 2026-05-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_partial_value_indexes"
down_revision = "0002_query_indexes"
branch_labels = None
depends_on = None

KV_INDEXED = (  # (table, owner column, key column)
    ("arch_params", "architecture_id", "label"),
    ("settings", "evaluation_id", "key"),
    ("lineage", "evaluation_id", "key"),
    ("task_meta", "task_id", "key"),
)


def _create(partial: bool) -> None:
    for table, owner_column, key_column in KV_INDEXED:
        for kind in ("num", "text"):
            where = sa.text(f"{kind}_value IS NOT NULL") if partial else None
            op.create_index(
                f"ix_{table}_{kind}",
                table,
                [key_column, f"{kind}_value", owner_column],
                sqlite_where=where,
                postgresql_where=where,
            )


def _drop() -> None:
    for table, _owner_column, _key_column in KV_INDEXED:
        for kind in ("num", "text"):
            op.drop_index(f"ix_{table}_{kind}", table_name=table)


def upgrade() -> None:
    _drop()
    _create(partial=True)


def downgrade() -> None:
    _drop()
    _create(partial=False)
