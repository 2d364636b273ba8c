"""A pick among cells tied at the best validation value scores their mean test accuracy, whatever the order."""

from __future__ import annotations

import pytest

from benchmarks.nb201 import picks
from benchmarks.nb201_search import Evaluation, SearchLog


def test_tied_cells_score_their_mean_in_either_order() -> None:
    a, b, c = Evaluation("a", 90.0, 93.0), Evaluation("b", 90.0, 94.0), Evaluation("c", 80.0, 99.0)
    forward = picks(SearchLog([c, a, b, a], 4), budgets=(1, 2, 4))
    backward = picks(SearchLog([c, b, a, b], 4), budgets=(1, 2, 4))
    assert forward[0] == backward[0] == 99.0
    assert forward[1] == 93.0 and backward[1] == 94.0  # one best cell seen so far: its own test accuracy
    assert forward[2] == backward[2] == pytest.approx(93.5)  # a cell met twice counts once


def test_another_tasks_table_gets_no_cifar10_targets_or_notes(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from benchmarks import nb201

    stats = {"trials_mean": 10.0, "evaluations_mean": 8.0}
    assert nb201.cifar10_table() == (nb201.TABLE_DIR.resolve() == nb201.DEFAULT_TABLE_DIR.resolve())
    monkeypatch.setattr(nb201, "TABLE_DIR", tmp_path)  # what NASFLOW_NB201_DIR=<another table> gives
    assert not nb201.cifar10_table()
    note = nb201._note("nasflow", stats, 2)
    assert "94.36" not in note and note == "2 seeds; 10 trials for 8 evaluations"
