"""Knowledge-base records for trials and retrained models, and the observer that writes them."""

from __future__ import annotations

from typing import Any

from nas.observer import SearchObserver, TrialResult


def task_record(dataset: Any) -> Any:
    """The knowledge-base task of a loaded data folder."""
    from knowledge_base import TaskRecord

    return TaskRecord(name=dataset.name, content_hash=dataset.content_hash, meta=dict(dataset.meta))


def kb_cost(cost: Any) -> dict[str, Any]:
    """The cost figures the knowledge base stores (params, FLOPs, latency and its device)."""
    from knowledge_base import COST_KEYS

    return {k: v for k, v in cost.as_dict().items() if k in COST_KEYS} if cost is not None else {}


def recorded(kb: Any, query: str) -> list[dict[str, Any]]:
    """The evaluations matching ``query`` (a query on ``lineage.<key>``: none while nothing records that key)."""
    from knowledge_base import QueryError

    try:
        return kb.query(query).to_dicts()
    except QueryError as exc:
        if "unknown lineage key" in str(exc):
            return []
        raise


class KnowledgeBaseObserver(SearchObserver):
    """Records every finished trial (complete, pruned, failed, reused) with its lineage.

    With ``run_ids`` (an MLflow tracker's :class:`workflows.tracking.TrialRunIds`) the record carries the trial's
    MLflow run id; if that run is not created yet, the record is written by the tracker's writer thread right
    after it, so a trial never waits for MLflow.
    """

    def __init__(self, kb: Any, task: Any, model_name: str, settings: dict[str, Any], lineage: dict[str, Any],
                 run_ids: Any = None) -> None:
        self.kb, self.task, self.model_name = kb, task, model_name
        self.settings, self.lineage = settings, lineage
        self.run_ids = run_ids

    def trial_ended(self, result: TrialResult) -> None:
        if self.run_ids is None:
            self.record(result, None)
        else:
            self.run_ids.then(result.number, lambda run_id: self.record(result, run_id))

    def record(self, result: TrialResult, run_id: str | None) -> None:
        """Write the record of one finished trial (``run_id``: its MLflow run)."""
        from knowledge_base import EvaluationRecord

        self.kb.record(EvaluationRecord(
            task=self.task, kind="trial", state=result.state, model_name=self.model_name,
            params=dict(result.params), fingerprint=result.fingerprint,
            cost=kb_cost(result.cost), metrics=dict(result.metrics),
            settings=self.settings, wall_time_s=result.wall_time_s,
            lineage={**self.lineage, "trial_number": result.number, "mlflow_run_id": run_id},
        ))
