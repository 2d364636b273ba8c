"""``nasflow kb best`` / ``kb similar`` / ``kb query`` on a real knowledge base: empty answers say why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base import KnowledgeBase
from tests.knowledge_base.kb_helpers import evaluation


@pytest.fixture
def trials_only(tmp_path: Path) -> str:
    """A knowledge base of one task whose records are trials (val_accuracy, no test_accuracy)."""
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    kb = KnowledgeBase(url)
    kb.record_many([evaluation(i, metrics={"val_accuracy": 0.9 + i / 100}) for i in range(3)])
    kb.close()
    return url


def test_kb_best_of_a_task_with_only_trials_ranks_by_val_accuracy(nasflow, trials_only: str) -> None:
    proc = nasflow("kb", "best", "digits", "--format", "json", f"kb.url={trials_only}")
    assert proc.returncode == 0, proc.stderr
    assert [row["val_accuracy"] for row in json.loads(proc.stdout)] == [0.92, 0.91, 0.9]
    chosen = nasflow("kb", "best", "digits", "--metric", "test_accuracy", f"kb.url={trials_only}")
    assert chosen.returncode == 0 and "has metric 'test_accuracy'; pick another with --metric" in chosen.stderr


def test_empty_answers_say_why(nasflow, trials_only: str) -> None:
    budget = nasflow("kb", "best", "digits", "--max-params", "10", f"kb.url={trials_only}")
    assert budget.returncode == 0 and "(0 rows)" in budget.stdout
    assert "no record of task 'digits' is within --max-params 10; the best one without a budget has params" in budget.stderr
    alone = nasflow("kb", "similar", "digits", "--format", "json", f"kb.url={trials_only}")
    assert alone.returncode == 0 and json.loads(alone.stdout) == []
    assert "'digits' is the only task in the knowledge base" in alone.stderr
