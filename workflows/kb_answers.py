"""Knowledge-base answers for the CLI, each with the reason when it is empty (``nasflow kb best`` / ``kb similar``)."""

from __future__ import annotations

from typing import Any

METRICS = ("test_accuracy", "val_accuracy")  # retrains record the first, trials only the second


def best_answer(kb: Any, task: str, metric: str | None, max_params: int | None,
                max_latency_ms: float | None) -> tuple[Any, str | None]:
    """The best records of ``task`` (by ``metric``, else the first of :data:`METRICS` it has) and why it is empty."""
    chosen = metric or next((m for m in METRICS if len(kb.best(task, metric=m, limit=1))), METRICS[0])
    result = kb.best(task, max_params=max_params, max_latency_ms=max_latency_ms, metric=chosen, details=True)
    if len(result):
        return result, None
    unbounded = kb.best(task, metric=chosen, limit=1)
    if not len(unbounded):
        return result, (f"no complete record of task '{task}' has metric '{chosen}'; pick another with --metric "
                        f"(e.g. {', '.join(m for m in METRICS if m != chosen)})")
    budget = " and ".join(f"{flag} {value}" for flag, value in (("--max-params", max_params),
                                                                 ("--max-latency-ms", max_latency_ms)) if value is not None)
    top = {c: unbounded.column(c)[0] for c in ("params", "latency_ms")}
    return result, (f"no record of task '{task}' is within {budget}; the best one without a budget has "
                    f"params {top['params']} and latency_ms {top['latency_ms']}")


def similar_answer(kb: Any, task: str, k: int) -> tuple[Any, str | None]:
    """The tasks most similar to ``task`` and, when there are none, why."""
    result = kb.similar(task, k=k)
    if len(result):
        return result, None
    return result, (f"'{task}' is the only task in the knowledge base; kb similar ranks other tasks (record a search "
                    "on another data folder first)")
