"""Validation of TaskRecord and EvaluationRecord: bad values are refused with the value and the fix."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from knowledge_base import EvaluationRecord, RecordError, TaskRecord
from knowledge_base.records import params_hash, split_value
from tests.knowledge_base.kb_helpers import digits_task, evaluation


def test_task_needs_name_and_hash() -> None:
    with pytest.raises(RecordError, match=r"TaskRecord.name = '' must be a non-empty string"):
        TaskRecord(name="", content_hash="x")
    with pytest.raises(RecordError, match=r"TaskRecord.content_hash = None must be a non-empty string"):
        TaskRecord(name="digits", content_hash=None)  # type: ignore[arg-type]


def test_task_meta_must_be_json() -> None:
    with pytest.raises(RecordError, match=r"TaskRecord.meta must be a dict, got list"):
        TaskRecord("digits", "h", meta=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(RecordError, match=r"not JSON-serializable"):
        TaskRecord("digits", "h", meta={"when": datetime.now()})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "train"}, r"EvaluationRecord.kind = 'train' is not one of trial, retrain"),
        ({"state": "done"}, r"EvaluationRecord.state = 'done' is not one of complete, pruned, failed, reused"),
        ({"model_name": " "}, r"EvaluationRecord.model_name = ' ' must be a non-empty string"),
        ({"params": {"layers": [1, 2]}}, r"params\['layers'\] = \[1, 2\] is a list; values must be str, int"),
        ({"params": {3: 1}}, r"params has key 3; keys must be non-empty strings"),
        ({"cost": {"memory": 3}}, r"cost has unknown keys \['memory'\]; known keys: params, flops, latency_ms, device"),
        ({"cost": {"params": -1}}, r"cost\['params'\] = -1 is negative"),
        ({"cost": {"flops": 2**70}}, r"cost\['flops'\] = 1180591620717411303424 does not fit in 64 bits"),
        ({"cost": {"latency_ms": "fast"}}, r"cost\['latency_ms'\] = 'fast' is not a number"),
        ({"metrics": {"acc": "high"}}, r"metrics\['acc'\] = 'high' is not a number"),
        ({"wall_time_s": -2.0}, r"wall_time_s = -2.0 is negative"),
        ({"created_at": "2026-01-01"}, r"created_at = '2026-01-01' must be a datetime"),
        ({"task": "digits"}, r"task = 'digits' must be a TaskRecord"),
        ({"fingerprint": "x" * 200}, r"fingerprint 'x+'... is 200 characters; the limit is 128"),
        ({"settings": {"note": "a\x00b"}}, r"holds a NUL character"),
        ({"params": {"p": math.nan}}, r"params = .* is not JSON-serializable"),
    ],
)
def test_evaluation_rejects_bad_values(changes: dict, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        evaluation(**changes)


def test_record_errors_are_value_errors() -> None:
    assert issubclass(RecordError, ValueError)


def test_metrics_may_be_nan_or_none() -> None:
    record = evaluation(metrics={"val_loss": math.nan, "val_accuracy": None})
    assert record.metrics["val_accuracy"] is None


def test_arch_identity_is_fingerprint_or_params_hash() -> None:
    assert evaluation(fingerprint="abc").arch_identity == "abc"
    unfingerprinted = evaluation(fingerprint=None, params={"b": 1, "a": 2})
    assert unfingerprinted.arch_identity == "params:" + params_hash({"a": 2, "b": 1})


def test_split_value_puts_numbers_and_text_apart() -> None:
    assert split_value(True) == (1.0, None)
    assert split_value(3) == (3.0, None)
    assert split_value("relu") == (None, "relu")
    assert split_value([1, 8, 8]) == (None, "[1,8,8]")
    assert split_value(math.nan) == (None, None)
    assert split_value(None) == (None, None)


def test_example_record_from_the_brief_is_valid() -> None:
    record = EvaluationRecord(
        task=digits_task(),
        kind="retrain",
        state="complete",
        model_name="digits_cnn",
        params={"conv1.out_channels": 32, "dropout": 0.2, "activation": "relu"},
        fingerprint=None,
        cost={"params": 12345, "flops": 67890, "latency_ms": 0.8, "device": "cpu"},
        metrics={"val_accuracy": 0.97, "test_accuracy": 0.98, "val_loss": 0.1},
        settings={"epochs": 5, "batch_size": 64, "lr": 0.001, "optimizer": "adam", "seed": 0},
        wall_time_s=3.2,
        lineage={"mlflow_run_id": "r", "mlflow_model_version": "2", "trial_number": 3},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert record.id is None
