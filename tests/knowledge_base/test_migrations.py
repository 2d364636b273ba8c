"""Migrations: an older knowledge base upgraded to head keeps every record and becomes fully queryable."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from knowledge_base import BackendError, KnowledgeBase
from knowledge_base.migrate import MIGRATIONS_DIR, VERSION_TABLE, head_revision
from knowledge_base.schema import metadata
from tests.knowledge_base.kb_helpers import evaluation

OLD_ROWS = {
    "tasks": [
        {"id": 1, "name": "digits", "content_hash": "h1", "created_at": "2025-01-01 00:00:00",
         "meta_json": json.dumps(
             {"n_samples": 1797, "input_shape": [1, 8, 8], "n_classes": 10, "task_type": "classification"}
         )},
        {"id": 2, "name": "wine", "content_hash": "h2", "created_at": "2025-01-02 00:00:00", "meta_json": "{}"},
    ],
    "architectures": [
        {"id": 1, "model_name": "digits_cnn", "identity": "fp1", "fingerprint": "fp1", "params_hash": "p1",
         "params_json": json.dumps({"conv1.out_channels": 32}), "n_params": 1234, "flops": 5678, "latency_ms": 0.5,
         "device": "cpu", "created_at": "2025-01-01 00:00:00"},
    ],
    "arch_params": [{"architecture_id": 1, "label": "conv1.out_channels", "num_value": 32.0, "text_value": None}],
    "evaluations": [
        {"id": 1, "task_id": 1, "architecture_id": 1, "kind": "trial", "state": "complete", "wall_time_s": 2.5,
         "settings_json": json.dumps({"epochs": 5}), "lineage_json": json.dumps({"trial_number": 0}),
         "created_at": "2025-01-01 00:00:00"},
        {"id": 2, "task_id": 2, "architecture_id": 1, "kind": "retrain", "state": "complete", "wall_time_s": 9.0,
         "settings_json": "{}", "lineage_json": "{}", "created_at": "2025-01-02 00:00:00"},
    ],
    "metrics": [
        {"evaluation_id": 1, "name": "val_accuracy", "value": 0.97},
        {"evaluation_id": 2, "name": "test_accuracy", "value": 0.91},
    ],
    "settings": [{"evaluation_id": 1, "key": "epochs", "num_value": 5.0, "text_value": None}],
    "lineage": [{"evaluation_id": 1, "key": "trial_number", "num_value": 0.0, "text_value": None}],
}  # fmt: skip


def test_two_revisions_ship_in_the_package() -> None:
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))
    assert versions == ["0001_initial.py", "0002_query_indexes.py", "0003_partial_value_indexes.py"]
    assert head_revision() == "0003_partial_value_indexes"


def test_upgrade_from_first_revision_keeps_every_record(kb_url: str) -> None:
    old = KnowledgeBase(kb_url, upgrade=False)
    old.upgrade("0001_initial")
    assert old.revision() == "0001_initial"
    with old.engine.begin() as connection:
        for table, rows in OLD_ROWS.items():
            columns = list(rows[0])
            statement = sa.text(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
            )
            connection.execute(statement, rows)  # as the 0001 code wrote them: raw rows, no task_meta
        if connection.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("tasks", "architectures", "evaluations"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        inspector = sa.inspect(connection)
        assert "task_meta" not in inspector.get_table_names()
    old.close()

    kb = KnowledgeBase(kb_url)  # the constructor upgrades to head
    try:
        assert kb.revision() == head_revision()
        with kb.engine.connect() as connection:
            for table, rows in OLD_ROWS.items():
                count = connection.scalar(sa.select(sa.func.count()).select_from(metadata.tables[table]))
                assert count == len(rows), table
            indexes = {ix["name"] for ix in sa.inspect(connection).get_indexes("metrics")}
        assert "ix_metrics_name_value" in indexes
        with kb.engine.connect() as connection:
            settings_indexes = {ix["name"] for ix in sa.inspect(connection).get_indexes("settings")}
        assert {"ix_settings_num", "ix_settings_text"} <= settings_indexes
        assert kb.get(1).metrics == {"val_accuracy": 0.97}
        assert kb.get(1).task.meta["n_samples"] == 1797
        assert kb.get(2).kind == "retrain"
        assert [row["id"] for row in kb.query("task.n_classes = 10 and arch.conv1.out_channels = 32").to_dicts()] == [1]
        assert [row["id"] for row in kb.query("task = 'wine' and test_accuracy > 0.9").to_dicts()] == [2]
        assert kb.record(evaluation(1)) == 3
    finally:
        kb.close()


def test_downgrade_and_upgrade_again(kb_url: str) -> None:
    from alembic import command

    from knowledge_base.migrate import alembic_config

    kb = KnowledgeBase(kb_url)
    try:
        with kb.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0001_initial")
        assert kb.revision() == "0001_initial"
        kb.upgrade()
        assert kb.revision() == head_revision()
    finally:
        kb.close()


def test_unknown_revisions_are_clear_errors(kb_url: str) -> None:
    with KnowledgeBase(kb_url) as kb:
        with pytest.raises(
            BackendError, match=r"the requested revision '9999_future' .* is unknown .*pass a known revision or 'head'"
        ):
            kb.upgrade("9999_future")
        with kb.engine.begin() as connection:
            connection.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '0099_from_the_future'")
    with pytest.raises(BackendError, match=r"the database revision '0099_from_the_future' .*install a newer nasflow"):
        KnowledgeBase(kb_url)


def test_a_knowledge_base_with_the_legacy_alembic_version_table_moves_to_its_own(kb_url: str) -> None:
    kb = KnowledgeBase(kb_url, upgrade=False)
    try:
        kb.upgrade("0002_query_indexes")
        kb.record(evaluation(0))
        with kb.engine.begin() as connection:  # as nasflow wrote it before the KB had its own version table
            connection.exec_driver_sql(f"ALTER TABLE {VERSION_TABLE} RENAME TO alembic_version")
        assert kb.revision() is None
    finally:
        kb.close()
    with KnowledgeBase(kb_url) as kb:
        assert kb.revision() == head_revision()
        assert len(kb.query("")) == 1
        assert not sa.inspect(kb.engine).has_table("alembic_version")
