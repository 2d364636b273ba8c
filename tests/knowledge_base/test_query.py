"""The filter language end to end: every kind of field, boolean logic, ordering, limits and errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from knowledge_base import KnowledgeBase, QueryError
from tests.knowledge_base.kb_helpers import digits_task, evaluation

WINE = digits_task(
    name="wine", content_hash="w1", n_samples=178, input_shape=[13], n_classes=3, task_type="classification"
)


@pytest.fixture(scope="module")
def filled(module_kb_url: str) -> Iterator[KnowledgeBase]:
    """8 digits evaluations (i = 0..7, one pruned, one retrain) and 2 wine ones (i = 8, 9) of another model."""
    kb = KnowledgeBase(module_kb_url)
    records = [evaluation(i) for i in range(6)]
    records.append(evaluation(6, state="pruned", metrics={"val_accuracy": 0.5}))
    records.append(evaluation(7, kind="retrain", lineage={"mlflow_model_version": "2", "trial_number": 5}))
    for i in (8, 9):
        created = datetime(2025, 1, i, tzinfo=UTC)
        records.append(
            evaluation(
                i, task=WINE, model_name="wine_mlp", created_at=created, params={"hidden": 16 * i, "act": "tanh"}
            )
        )
    kb.record_many(records)
    yield kb
    kb.close()


def ids(kb: KnowledgeBase, text: str) -> list[int]:
    return [
        row["lineage.trial_number"] if "lineage.trial_number" in row else row["id"] - 1
        for row in kb.query(text).to_dicts()
    ]


def seeds(kb: KnowledgeBase, text: str) -> list[int]:
    """The `i` of each matching evaluation (its settings.seed), in result order."""
    return [kb.get(row["id"]).settings["seed"] for row in kb.query(text).to_dicts()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task = 'digits' and test_accuracy >= 0.95 order by params limit 5", [4, 5, 7]),
        ("task = 'wine'", [8, 9]),
        ("task != 'digits'", [8, 9]),
        ("model = 'wine_mlp' or kind = 'retrain'", [7, 8, 9]),
        ("model_name like 'WINE%'", [8, 9]),
        ("state = 'pruned'", [6]),
        ("state in ('pruned', 'failed')", [6]),
        ("not state in ('complete')", [6]),
        ("state not in ('complete')", [6]),
        ("task = 'digits' and not (kind = 'trial')", [7]),
        ("fingerprint = 'fp0003'", [3]),
        ("params <= 2000", [0, 1]),
        ("flops > 400000", [8, 9]),
        ("latency_ms < 0.25", [0, 1]),
        ("wall_time_s >= 9.5", [9]),
        ("device = 'cpu' and id <= 2", [0, 1]),
        ("created_at < '2025-01-09'", [8]),
        ("created_at >= '2025-01-09T00:00:00+00:00' and created_at < '2026-01-01'", [9]),
        ("metrics.val_accuracy > 0.945", [5, 7, 8, 9]),
        ("val_loss < 0.25", [8, 9]),
        ("val_accuracy = 0.5", [6]),
        ("arch.conv1.out_channels >= 32", [2, 3, 6, 7]),
        ("arch.activation = 'gelu' and arch.dropout = 0.2", [5]),
        ("arch.activation in ('tanh', 'gelu') and task = 'digits'", [1, 3, 5, 7]),
        ("arch.conv1.out_channels in (8, 'x')", [0, 4]),
        ("arch.hidden > 130", [9]),
        ("arch.act like 't%'", [8, 9]),
        ("task.n_classes = 3", [8, 9]),
        ("task.input_shape = '[13]'", [8, 9]),
        ("task.task_type = 'classification' and task.n_samples > 1000", list(range(8))),
        ("task.content_hash = 'w1'", [8, 9]),
        ("settings.optimizer = 'adam' and settings.seed in (2, 9)", [2, 9]),
        ("lineage.trial_number = 5", [5, 7]),
        ("lineage.mlflow_model_version = '2'", [7]),
        ("lineage.git_commit like 'abc%' and lineage.study_name = 's1' and id < 3", [0, 1]),
        ("", list(range(10))),
        ("order by wall_time_s desc limit 3", [9, 8, 7]),
        ("task = 'digits' order by arch.conv1.out_channels desc, params limit 3", [3, 7, 2]),
        ("task = 'digits' order by test_accuracy desc limit 2", [7, 5]),
        ("val_accuracy > 0.9 order by val_accuracy limit 2", [1, 2]),
        ("order by val_accuracy limit 1", [6]),
        ("limit 0", []),
        ("`arch.conv1.out_channels` = 64", [3, 7]),
        ("task = 'digits' and not arch.activation = 'relu'", [1, 3, 5, 7]),
        ("arch.activation = 'gelu' and (val_loss < 0.35 or settings.seed = 0)", [7]),
        ("not (val_accuracy > 0.5 or arch.hidden > 0)", [6]),
        ("arch.conv1.out_channels = true", []),
        (
            "task = 'digits' and val_accuracy > 0.9 and arch.dropout >= 0.1 and settings.seed >= 3 "
            "order by val_accuracy desc",
            [7, 5, 4],
        ),
    ],
)
def test_filters(filled: KnowledgeBase, text: str, expected: list[int]) -> None:
    got = seeds(filled, text)
    assert (got if "order by" in text else sorted(got)) == expected


def test_result_columns_include_metrics_arch_and_named_fields(filled: KnowledgeBase) -> None:
    result = filled.query("settings.optimizer = 'adam' and lineage.trial_number = 3 and task.n_classes = 10")
    assert result.columns[:12] == [
        "id", "task", "model", "kind", "state", "fingerprint", "params", "flops", "latency_ms", "device",
        "wall_time_s", "created_at",
    ]  # fmt: skip
    assert result.columns[12:] == [
        "test_accuracy", "val_accuracy", "val_loss",
        "arch.activation", "arch.conv1.out_channels", "arch.dropout",
        "settings.optimizer", "lineage.trial_number", "task.n_classes",
    ]  # fmt: skip
    row = result.to_dicts()[0]
    assert row["task"] == "digits" and row["params"] == 4000 and row["arch.conv1.out_channels"] == 64
    assert row["settings.optimizer"] == "adam" and row["lineage.trial_number"] == 3 and row["task.n_classes"] == 10
    assert row["test_accuracy"] == pytest.approx(0.94)
    assert row["created_at"].tzinfo is not None


def test_dataframe(filled: KnowledgeBase) -> None:
    frame = filled.query("task = 'wine' order by params").to_dataframe()
    assert list(frame["arch.hidden"]) == [128, 144]
    assert frame.shape == (2, 12 + 3 + 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tset_accuracy > 0.9",
            r"position 0: unknown field 'tset_accuracy': nothing recorded under that name; "
            r"did you mean .*metrics.test_accuracy",
        ),
        (
            "conv1.out_channels > 3",
            r"position 0: unknown field 'conv1.out_channels'.*did you mean arch.conv1.out_channels\?",
        ),
        ("task = 'x' and arch.nope = 1", r"position 15: unknown arch key 'arch.nope'"),
        ("settings.epoch = 5", r"unknown settings key 'settings.epoch'.*did you mean settings.epochs"),
        ("order by lineage.nope", r"position 9: unknown lineage key"),
        ("params > 'big'", r"position 9: params is a number; compare it with a number, not 'big'"),
        ("params = true", r"params is a number; compare it with a number, not True"),
        ("task = 3", r"position 7: task is text; quote the value: task = '3'"),
        ("params like '1%'", r"'like' needs a text field, but params is a number"),
        ("val_accuracy like '1%'", r"'like' needs a text field, but val_accuracy is a number"),
        ("val_accuracy = 'high'", r"val_accuracy is a number; compare it with a number, not 'high'"),
        ("created_at > 'yesterday'", r"created_at needs an ISO date such as '2026-05-01'"),
        ("created_at like '2025%'", r"'like' needs a text field, but created_at is a timestamp"),
        ("task = 'a\x00b'", r"text values cannot contain NUL characters"),
    ],
)
def test_query_errors(filled: KnowledgeBase, text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        filled.query(text)


def test_unknown_field_lists_known_fields(filled: KnowledgeBase) -> None:
    with pytest.raises(QueryError) as info:
        filled.query("accuracy > 0.9")
    message = str(info.value)
    assert "known fields: id, task, task.name, task.content_hash, model" in message
    assert "metrics.<key>: metrics.test_accuracy, metrics.val_accuracy, metrics.val_loss" in message
    assert "arch.<key>: arch.act, arch.activation, arch.conv1.out_channels, arch.dropout, arch.hidden" in message
    assert "lineage.<key>: lineage.git_commit, lineage.mlflow_model_version" in message


def test_empty_knowledge_base_says_nothing_is_recorded(kb: KnowledgeBase) -> None:
    assert kb.query("task = 'digits'").rows == []
    with pytest.raises(QueryError, match=r"metrics.<key>: \(none recorded yet\)"):
        kb.query("test_accuracy > 0.5")


def test_query_must_be_text(kb: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match=r"query must be a string, got int 5"):
        kb.query(5)  # type: ignore[arg-type]
