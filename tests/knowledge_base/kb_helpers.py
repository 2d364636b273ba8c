"""Records and checks shared by the knowledge-base tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from knowledge_base import EvaluationRecord, KnowledgeBase, TaskRecord
from knowledge_base.migrate import VERSION_TABLE
from knowledge_base.schema import metadata

DIGITS_META = {
    "n_samples": 1797,
    "input_shape": [1, 8, 8],
    "n_classes": 10,
    "class_balance": 0.98,
    "x_mean": 0.3,
    "x_std": 0.4,
    "task_type": "classification",
}


def digits_task(**changes: Any) -> TaskRecord:
    return TaskRecord(
        name=changes.pop("name", "digits"),
        content_hash=changes.pop("content_hash", "ab12"),
        meta={**DIGITS_META, **changes},
    )


def evaluation(i: int = 0, **changes: Any) -> EvaluationRecord:
    """An evaluation whose values follow from `i`; keyword arguments replace fields."""
    values: dict[str, Any] = {
        "task": digits_task(),
        "kind": "trial",
        "state": "complete",
        "model_name": "digits_cnn",
        "params": {
            "conv1.out_channels": [8, 16, 32, 64][i % 4],
            "dropout": round(0.1 * (i % 3), 1),
            "activation": ["relu", "gelu"][i % 2],
        },
        "fingerprint": f"fp{i:04d}",
        "cost": {"params": 1000 * (i + 1), "flops": 50_000 * (i + 1), "latency_ms": 0.1 * (i + 1), "device": "cpu"},
        "metrics": {"val_accuracy": 0.90 + i / 100, "test_accuracy": 0.91 + i / 100, "val_loss": 1.0 - i / 10},
        "settings": {"epochs": 5, "batch_size": 64, "lr": 0.001, "optimizer": "adam", "seed": i},
        "wall_time_s": 1.0 + i,
        "lineage": {"mlflow_run_id": f"run{i}", "study_name": "s1", "trial_number": i, "git_commit": "abc123"},
    }
    values.update(changes)
    return EvaluationRecord(**values)


def snapshot(kb: KnowledgeBase) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a database is unchanged."""
    with kb.engine.connect() as connection:
        tables = {
            name: connection.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            for name, table in metadata.tables.items()
        }
        tables[VERSION_TABLE] = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()
    return tables
