"""Knowledge within and between tasks: task listing, similarity, best under a budget, Pareto fronts, warm start."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from knowledge_base import KnowledgeBase, KnowledgeBaseError, QueryError, TaskRecord
from tests.knowledge_base.kb_helpers import evaluation


def meta(
    n_samples: int, shape: list[int], n_classes: int, balance: float, mean: float, std: float, modality: str
) -> dict[str, Any]:
    """Meta-features shaped like the ones nas.data computes for a data folder."""
    features = 1
    for d in shape:
        features *= d
    return {
        "task_type": "classification", "format": "images" if modality == "image" else "csv", "modality": modality,
        "n_samples": n_samples, "input_shape": shape, "n_features": features, "n_classes": n_classes,
        "classes": [str(i) for i in range(n_classes)], "class_balance": balance, "x_mean": mean, "x_std": std,
        "class_counts": {str(i): n_samples // n_classes for i in range(n_classes)},
    }  # fmt: skip


DIGITS = TaskRecord("digits", "h-digits", meta(1797, [1, 8, 8], 10, 0.94, 0.30, 0.38, "image"))
DIGITS_VARIANT = TaskRecord("digits_noisy", "h-noisy", meta(1500, [1, 8, 8], 10, 0.90, 0.33, 0.41, "image"))
CANCER = TaskRecord("breast_cancer", "h-cancer", meta(569, [30], 2, 0.59, 0.0, 1.0, "table"))
FASHION = TaskRecord("fashion_small", "h-fashion", meta(6000, [1, 28, 28], 10, 1.0, 0.29, 0.35, "image"))


@pytest.fixture(scope="module")
def filled(module_kb_url: str) -> Iterator[KnowledgeBase]:
    """Trials on the variant, cancer and fashion (digits itself is the new task), plus one retrain each."""
    kb = KnowledgeBase(module_kb_url)
    records = []
    for offset, task in enumerate([DIGITS_VARIANT, CANCER, FASHION]):
        for i in range(6):
            params = {"conv1.out_channels": 8 * (i + 1), "dropout": 0.1 * offset, "activation": "relu"}
            records.append(
                evaluation(
                    i,
                    task=task,
                    params=params,
                    fingerprint=f"{task.name}-{i}",
                    cost={
                        "params": [500, 900, 1200, 1500, 3000, 6000][i],
                        "latency_ms": [0.5, 0.4, 0.9, 0.8, 1.2, 2.0][i],
                    },
                    metrics={
                        "val_accuracy": [0.80, 0.86, 0.85, 0.93, 0.95, 0.94][i] - 0.1 * offset,
                        "test_accuracy": [0.81, 0.87, 0.84, 0.92, 0.96, 0.95][i],
                    },
                )
            )
        records.append(
            evaluation(9, task=task, state="pruned", fingerprint=f"{task.name}-pruned", metrics={"val_accuracy": 0.99})
        )
    records.append(
        evaluation(7, task=DIGITS_VARIANT, model_name="other_model", fingerprint="o", metrics={"val_accuracy": 0.999})
    )
    kb.record_many(records)
    yield kb
    kb.close()


def test_tasks_lists_meta_features(filled: KnowledgeBase) -> None:
    result = filled.tasks()
    assert result.columns[:10] == [
        "id",
        "name",
        "content_hash",
        "n_samples",
        "input_shape",
        "n_classes",
        "class_balance",
        "x_mean",
        "x_std",
        "task_type",
    ]
    assert result.columns[-2:] == ["evaluations", "created_at"]
    assert {"modality", "n_features", "class_counts"} <= set(result.columns)
    rows = {row["name"]: row for row in result.to_dicts()}
    assert set(rows) == {"digits_noisy", "breast_cancer", "fashion_small"}
    assert rows["digits_noisy"]["evaluations"] == 8
    assert rows["breast_cancer"]["input_shape"] == [30]


def test_digits_variant_ranks_above_unrelated_tabular_task(filled: KnowledgeBase) -> None:
    ranked = filled.similar_tasks(DIGITS.meta, k=5)
    names = [task.name for task, _ in ranked]
    assert names == ["digits_noisy", "fashion_small", "breast_cancer"]
    distances = [distance for _, distance in ranked]
    assert distances == sorted(distances) and distances[0] < 0.15 and distances[-1] > 0.5


def test_similar_by_name_excludes_the_task_itself(filled: KnowledgeBase) -> None:
    ranked = filled.similar_tasks("digits_noisy", k=1)
    assert [task.name for task, _ in ranked] == ["fashion_small"]
    with pytest.raises(
        KnowledgeBaseError, match=r"unknown task 'digits'; known tasks: breast_cancer, digits_noisy, fashion_small"
    ):
        filled.similar_tasks("digits")


def test_similar_table_shows_best_architectures(filled: KnowledgeBase) -> None:
    result = filled.similar(DIGITS.meta, k=2)
    assert result.columns[:4] == ["rank", "task", "content_hash", "distance"]
    first = result.to_dicts()[0]
    assert (first["rank"], first["task"], first["best_metric"]) == (1, "digits_noisy", "test_accuracy")
    assert first["best_value"] == pytest.approx(0.96)
    assert first["best_params"]["conv1.out_channels"] == 40


def test_best_under_budget(filled: KnowledgeBase) -> None:
    best = filled.best("digits_noisy")
    assert [row["params"] for row in best.to_dicts()][:3] == [3000, 6000, 1500]
    budget = filled.best("digits_noisy", max_params=2000, max_latency_ms=0.85)
    assert [row["params"] for row in budget.to_dicts()] == [1500, 900, 500]
    assert [row["params"] for row in filled.best("digits_noisy", metric="val_accuracy", limit=2).to_dicts()] == [
        8000,
        3000,
    ]
    assert filled.best("digits_noisy", max_params=100).rows == []
    with pytest.raises(KnowledgeBaseError, match=r"unknown task 'nope'; known tasks: breast_cancer, digits_noisy"):
        filled.best("nope")
    assert filled.best("digits_noisy", metric="never_recorded").rows == []
    assert len(filled.best("digits_noisy", kind="retrain")) == 0


def test_best_rejects_bad_budget(filled: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match=r"max_params = -5 must be a number >= 0"):
        filled.best("digits_noisy", max_params=-5)


def test_pareto_front(filled: KnowledgeBase) -> None:
    front = filled.pareto("digits_noisy")
    assert [row["params"] for row in front.to_dicts()] == [500, 900, 1500, 3000]
    assert front.column("test_accuracy") == pytest.approx([0.81, 0.87, 0.92, 0.96])
    latency = filled.pareto("digits_noisy", metric="val_accuracy", cost="latency_ms")
    assert [row["latency_ms"] for row in latency.to_dicts()] == pytest.approx(
        [0.4, 0.8]
    )  # other_model: 0.999 at 0.8 ms
    with pytest.raises(
        QueryError, match=r"cost 'colour' is not a cost field; use one of params, flops, latency_ms, wall_time_s"
    ):
        filled.pareto("digits_noisy", cost="colour")


def test_warm_start_from_the_most_similar_task(filled: KnowledgeBase) -> None:
    configs = filled.warm_start_configs(DIGITS.meta, "digits_cnn", k=3)
    assert configs == [
        {"activation": "relu", "conv1.out_channels": 40, "dropout": 0.0},
        {"activation": "relu", "conv1.out_channels": 48, "dropout": 0.0},
        {"activation": "relu", "conv1.out_channels": 32, "dropout": 0.0},
    ]
    starts = filled.warm_start(DIGITS.meta, "digits_cnn", k=8)
    assert [s.task for s in starts] == ["digits_noisy"] * 6 + ["fashion_small"] * 2
    assert starts[0].metric == "val_accuracy" and starts[0].value == pytest.approx(0.95)
    assert starts[0].distance < starts[-1].distance


def test_warm_start_excludes_the_current_data_and_other_models(filled: KnowledgeBase) -> None:
    starts = filled.warm_start(DIGITS_VARIANT.meta, "digits_cnn", k=2, exclude_hash="h-noisy")
    assert [s.task for s in starts] == ["fashion_small"] * 2
    assert filled.warm_start_configs(DIGITS.meta, "other_model", k=5) == [
        {"activation": "gelu", "conv1.out_channels": 64, "dropout": 0.1}
    ]
    assert filled.warm_start_configs(DIGITS.meta, "unknown_model") == []
    with pytest.raises(QueryError, match=r"k = 0 must be a whole number >= 1"):
        filled.warm_start_configs(DIGITS.meta, "digits_cnn", k=0)
