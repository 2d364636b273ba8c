"""Recording and reading back evaluations, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from knowledge_base import KnowledgeBase, KnowledgeBaseError, RecordError, writer
from knowledge_base.migrate import head_revision
from knowledge_base.schema import arch_params, architectures, evaluations, metrics, task_meta, tasks
from tests.knowledge_base.kb_helpers import digits_task, evaluation


def count(kb: KnowledgeBase, table: sa.Table) -> int:
    with kb.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(table))


def test_constructor_migrates_to_head_and_is_idempotent(make_kb: Callable[..., KnowledgeBase]) -> None:
    kb = make_kb()
    assert kb.revision() == head_revision()
    kb.upgrade()
    assert make_kb().revision() == head_revision()


def test_record_round_trip(kb: KnowledgeBase) -> None:
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    record = evaluation(3, created_at=when)
    evaluation_id = kb.record(record)
    stored = kb.get(evaluation_id)
    assert stored.id == evaluation_id
    assert stored.task.id is not None
    assert (stored.task.name, stored.task.content_hash, stored.task.meta) == ("digits", "ab12", record.task.meta)
    assert stored.params == record.params
    assert stored.metrics == pytest.approx(record.metrics)
    assert stored.settings == record.settings
    assert stored.lineage == record.lineage
    assert stored.cost == record.cost
    assert (stored.kind, stored.state, stored.model_name, stored.fingerprint) == (
        "trial",
        "complete",
        "digits_cnn",
        "fp0003",
    )
    assert stored.wall_time_s == pytest.approx(4.0)
    assert stored.created_at == when and stored.created_at.tzinfo is not None


def test_created_at_defaults_to_now_utc(kb: KnowledgeBase) -> None:
    before = datetime.now(UTC)
    stored = kb.get(kb.record(evaluation()))
    assert before - timedelta(seconds=5) <= stored.created_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_record_many_returns_ids_in_order_and_upserts(kb: KnowledgeBase) -> None:
    records = [evaluation(i) for i in range(6)] + [evaluation(2, kind="retrain")]
    ids = kb.record_many(records)
    assert len(ids) == 7 and ids == sorted(ids)
    assert [kb.get(i).lineage["trial_number"] for i in ids] == [0, 1, 2, 3, 4, 5, 2]
    assert count(kb, tasks) == 1
    assert count(kb, architectures) == 6  # the retrain of fp0002 is the same architecture
    assert count(kb, arch_params) == 18
    assert count(kb, evaluations) == 7
    assert count(kb, metrics) == 21
    assert kb.record_many([]) == []


def test_architecture_without_fingerprint_is_keyed_by_params(kb: KnowledgeBase) -> None:
    kb.record(evaluation(1, fingerprint=None, params={"a": 1, "b": "x"}))
    kb.record(evaluation(2, fingerprint=None, params={"b": "x", "a": 1}))
    kb.record(evaluation(3, fingerprint=None, params={"a": 2, "b": "x"}))
    kb.record(evaluation(4, fingerprint=None, model_name="other", params={"a": 2, "b": "x"}))
    assert count(kb, architectures) == 3


def test_latest_cost_measurement_wins(kb: KnowledgeBase) -> None:
    kb.record(evaluation(1, cost={"params": 100, "latency_ms": 2.0, "device": "cpu"}))
    second = kb.record(evaluation(1, cost={"latency_ms": 1.5, "device": "cuda"}))
    assert kb.get(second).cost == {"params": 100, "latency_ms": 1.5, "device": "cuda"}


def test_known_task_gets_new_meta_features_merged(make_kb: Callable[..., KnowledgeBase]) -> None:
    kb = make_kb()
    kb.record(evaluation(1, task=digits_task()))
    kb.record(evaluation(2, task=digits_task(extra_feature=7)))
    other = make_kb()  # another process with an empty task cache sees the merged meta too
    other.record(evaluation(3, task=digits_task(x_std=0.5)))
    assert count(kb, tasks) == 1
    meta = kb.get(other.record(evaluation(4))).task.meta
    assert meta["extra_feature"] == 7 and meta["x_std"] == 0.4
    with kb.engine.connect() as connection:
        keys = set(connection.scalars(sa.select(task_meta.c.key)))
    assert "extra_feature" in keys


def test_same_name_new_hash_is_a_new_task(kb: KnowledgeBase) -> None:
    kb.record(evaluation(1))
    kb.record(evaluation(2, task=digits_task(content_hash="cd34", n_samples=1500)))
    assert count(kb, tasks) == 2
    assert kb.task("digits").content_hash == "cd34"


def test_nan_metric_is_stored_as_missing(kb: KnowledgeBase) -> None:
    stored = kb.get(kb.record(evaluation(state="failed", metrics={"val_loss": math.nan, "val_accuracy": 0.1})))
    assert stored.metrics["val_loss"] is None
    assert stored.metrics["val_accuracy"] == pytest.approx(0.1)


def test_record_refuses_non_records(kb: KnowledgeBase) -> None:
    with pytest.raises(RecordError, match=r"record_many got dict .*; pass EvaluationRecord objects"):
        kb.record_many([{"task": "digits"}])  # type: ignore[list-item]


def test_get_unknown_id(kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeBaseError, match=r"no evaluation with id 999"):
        kb.get(999)


def test_unknown_task_names_the_known_ones(kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeBaseError, match=r"unknown task 'nope'; known tasks: \(none recorded yet\)"):
        kb.task("nope")
    kb.record(evaluation())
    with pytest.raises(KnowledgeBaseError, match=r"unknown task 'nope'; known tasks: digits"):
        kb.task("nope")


def test_failed_batch_keeps_nothing(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    kb.record(evaluation(1))
    real = writer.kv_rows

    def failing(owner_column: str, owner_id: int, key_column: str, mapping: dict) -> list[dict]:
        if mapping.get("seed") == 3:
            raise RuntimeError("disk on fire")
        return real(owner_column, owner_id, key_column, mapping)

    monkeypatch.setattr(writer, "kv_rows", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        kb.record_many([evaluation(2), evaluation(3)])
    assert (count(kb, evaluations), count(kb, architectures), count(kb, metrics)) == (1, 1, 3)


def test_lookup_fingerprint_finds_completed_trial(kb: KnowledgeBase) -> None:
    kb.record(evaluation(1, state="pruned", fingerprint="same"))
    assert kb.lookup_fingerprint("ab12", "same", "digits_cnn") is None
    wanted = kb.record(evaluation(2, fingerprint="same"))
    kb.record(evaluation(3, fingerprint="same", kind="retrain"))
    found = kb.lookup_fingerprint("ab12", "same", "digits_cnn")
    assert found is not None and found.id == wanted and found.metrics["val_accuracy"] == pytest.approx(0.92)
    assert kb.lookup_fingerprint("other-hash", "same", "digits_cnn") is None
    assert kb.lookup_fingerprint("ab12", "same", "other_model") is None
    assert kb.lookup_fingerprint("ab12", "same", "digits_cnn", kind="retrain").kind == "retrain"  # type: ignore[union-attr]
