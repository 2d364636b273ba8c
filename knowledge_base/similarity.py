"""Task similarity: a normalized distance between tasks' meta-features."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from knowledge_base.records import TaskRecord

# The smallest scale of each derived feature: differences below it count as small even if they span the
# whole range of the known tasks (two digits variants of 1797 and 1700 samples are close, not opposite).
FEATURE_SCALES = {
    "log_n_samples": 1.0,  # a decade of samples
    "log_input_size": 1.0,  # a decade of input values per sample
    "input_rank": 1.0,
    "log_n_classes": 0.5,
    "class_balance": 0.5,
    "x_mean": 1.0,
    "x_std": 1.0,
}
_DERIVED_FROM = {"n_samples", "input_shape", "n_classes", "n_features"}  # replaced by their logs above


def _log10(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return math.log10(value + 1)


def numeric_features(meta: dict[str, Any]) -> dict[str, float]:
    """Numeric features of a task: logs of sizes, the input rank, and every other numeric meta-feature."""
    features: dict[str, float | None] = {
        "log_n_samples": _log10(meta.get("n_samples")),
        "log_n_classes": _log10(meta.get("n_classes")),
    }
    shape = meta.get("input_shape")
    if isinstance(shape, list | tuple) and all(isinstance(d, int) and d > 0 for d in shape):
        features["log_input_size"] = _log10(math.prod(shape))
        features["input_rank"] = float(len(shape))
    for key, value in meta.items():
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if key not in _DERIVED_FROM and numeric and math.isfinite(value):
            features[key] = float(value)
    return {key: value for key, value in features.items() if value is not None}


def categorical_features(meta: dict[str, Any]) -> dict[str, str]:
    """Text meta-features (e.g. task_type), compared by equality."""
    return {key: value for key, value in meta.items() if isinstance(value, str)}


def rank_by_similarity(meta: dict[str, Any], candidates: Sequence[TaskRecord]) -> list[tuple[TaskRecord, float]]:
    """`candidates` with their distance to `meta`, nearest first.

    Each numeric feature's difference is divided by max(its range over the query and candidates, its minimum
    scale); a feature known on one side only, or differing text features, count 1. The distance is the root
    mean square over the features compared (0 = same meta-features).
    """
    query_num, query_cat = numeric_features(meta), categorical_features(meta)
    cand_num = [numeric_features(task.meta) for task in candidates]
    cand_cat = [categorical_features(task.meta) for task in candidates]
    scales: dict[str, float] = {}
    for key in set(query_num).union(*cand_num):
        values = [f[key] for f in (query_num, *cand_num) if key in f]
        scales[key] = max(max(values) - min(values), FEATURE_SCALES.get(key, 0.0)) or 1.0
    ranked = []
    for task, num, cat in zip(candidates, cand_num, cand_cat, strict=True):
        diffs = [
            1.0 if (key not in query_num or key not in num) else abs(query_num[key] - num[key]) / scales[key]
            for key in set(query_num) | set(num)
        ]
        diffs += [0.0 if query_cat.get(key) == cat.get(key) else 1.0 for key in set(query_cat) | set(cat)]
        distance = math.sqrt(sum(d * d for d in diffs) / len(diffs)) if diffs else 1.0
        ranked.append((task, distance))
    ranked.sort(key=lambda pair: (pair[1], pair[0].name, pair[0].content_hash))
    return ranked
