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
    for command in ("best", "similar"):
        unknown = nasflow("kb", command, "wine", f"kb.url={trials_only}")
        assert unknown.returncode == 2 and "unknown task 'wine'; known tasks: digits" in unknown.stderr


def test_kb_query_table_fits_120_columns_and_json_csv_hold_lineage_and_settings(nasflow, trials_only: str) -> None:
    query = ["kb", "query", "task = 'digits' order by val_accuracy desc", f"kb.url={trials_only}"]
    table = nasflow(*query)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert max(map(len, lines)) <= 120 and lines[0].split()[:6] == ["id", "task", "model", "kind", "state", "val_accuracy"]
    assert "more columns:" in table.stdout and "lineage.mlflow_run_id" in table.stdout
    rows = json.loads(nasflow(*query, "--format", "json").stdout)
    assert rows[0]["lineage.mlflow_run_id"] == "run2" and rows[0]["settings.epochs"] == 5
    header = nasflow(*query, "--format", "csv").stdout.splitlines()[0].split(",")
    assert {"lineage.study_name", "settings.optimizer", "arch.activation"} <= set(header)
    chosen = nasflow(*query, "--columns", "id,val_accuracy,lineage.trial_number,settings.seed")
    assert chosen.stdout.splitlines()[0].split() == ["id", "val_accuracy", "lineage.trial_number", "settings.seed"]
    best = json.loads(nasflow("kb", "best", "digits", "--format", "json", f"kb.url={trials_only}").stdout)
    assert best[0]["lineage.trial_number"] == 2
    bad = nasflow(*query, "--columns", "id,nope")
    assert bad.returncode == 2 and "no column 'nope' in this result; columns: id, task" in bad.stderr
