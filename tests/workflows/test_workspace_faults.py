"""Workspace faults: a read-only workspace, a deleted MLflow store, a moved workspace (issue 15, item 12)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.knowledge_base.kb_helpers import evaluation
from tests.workflows.read_only import read_only
from tests.workflows.test_bad_input_suite import _run


def test_read_only_workspace_refuses_a_run_in_one_line_naming_the_folder(monkeypatch, capsys, tmp_path: Path,
                                                                         digits_folder: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "kept.txt").write_text("x")
    with read_only(workspace):
        for command in ("run", "search"):
            line = _run(monkeypatch, capsys, workspace, command, "--no-progress", f"data.path={digits_folder}")
            assert re.fullmatch(rf"nasflow: error: workspace {re.escape(str(workspace))} is read-only \((Read-only file "
                                r"system|Permission denied)\); make it writable \(chmod -R u\+w, or remount it read-write\) "
                                r"or point workspace= \(NASFLOW_WORKSPACE\) elsewhere; 'nasflow kb query' still reads its "
                                r"knowledge base", line), line
    assert [p.name for p in workspace.iterdir()] == ["kept.txt"]


def test_read_only_workspace_still_answers_knowledge_base_queries(monkeypatch, capsys, tmp_path: Path) -> None:
    from knowledge_base import KnowledgeBase
    from knowledge_base.errors import BackendError
    from workflows.cli import main

    workspace = tmp_path / "ws"
    with KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}") as kb:
        kb.record_many([evaluation(i) for i in range(3)])
    before = sorted(p.name for p in workspace.iterdir())
    monkeypatch.setenv("NASFLOW_WORKSPACE", str(workspace))
    with read_only(workspace):
        assert main(["kb", "query", "task = 'digits' order by id", "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [row["fingerprint"] for row in rows] == ["fp0000", "fp0001", "fp0002"]
        assert main(["kb", "sql", "SELECT count(*) AS n FROM evaluations", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out) == [{"n": 3}]
        with KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}") as kb, \
                pytest.raises(BackendError, match=r"failed: attempt to write a readonly database"):
            kb.record(evaluation(9))
    assert sorted(p.name for p in workspace.iterdir()) == before


def test_missing_workspace_under_a_read_only_folder_is_one_line(monkeypatch, capsys, tmp_path: Path,
                                                                digits_folder: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    with read_only(parent):
        line = _run(monkeypatch, capsys, parent / "ws", "search", "--no-progress", f"data.path={digits_folder}")
    assert line.startswith(f"nasflow: error: cannot create the workspace {parent / 'ws'} ("), line
    assert "make it writable" in line


def test_deleted_mlflow_store_is_named_with_what_it_orphans(monkeypatch, capsys, tmp_path: Path,
                                                            digits_folder: Path) -> None:
    from knowledge_base import KnowledgeBase
    from nas.study import SearchSettings, open_study
    from workflows.cli import main

    workspace = tmp_path / "ws"
    lineage = {"registered_model": "digits_cnn-digits", "study_name": "digits_cnn-digits"}
    with KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}") as kb:
        kb.record_many([evaluation(0, lineage={**lineage, "mlflow_run_id": "r0", "trial_number": 0}),
                        evaluation(1, kind="retrain", lineage={**lineage, "mlflow_run_id": "r1",
                                                               "mlflow_model_version": "1"}),
                        evaluation(2, kind="retrain", lineage={**lineage, "mlflow_run_id": "r2",
                                                               "mlflow_model_version": "2"})])
    settings = SearchSettings(storage=f"journal:///{workspace / 'optuna.journal'}", study_name="digits_cnn-digits")
    study = open_study(settings)
    study.optimize(lambda _trial: 0.5, n_trials=2)
    study.enqueue_trial({})  # waiting: it never had a run
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NASFLOW_WORKSPACE", str(workspace))
    assert main(["export", "--trial", "0", "--out", str(tmp_path / "out"), f"data.path={digits_folder}"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        f"nasflow: warning: the MLflow store {workspace / 'mlflow.db'} is missing and is created anew, empty; orphaned: "
        "3 knowledge-base records whose MLflow runs are gone; registered versions 1, 2 of 'digits_cnn-digits' named "
        "in the knowledge base (new versions will reuse those numbers); study 'digits_cnn-digits' with 2 finished trials "
        "whose runs are gone; restore mlflow.db from a backup to keep their lineage, or go on: new results are tracked in "
        "the new store"]
    from workflows.orphans import orphaned_by_lost_store
    from workflows.workspace import Workspace

    (workspace / "mlflow.db").write_bytes(b"")  # a store exists again: nothing to warn about
    ws = Workspace(workspace, "m", "d", settings.storage or "", f"sqlite:///{workspace / 'mlflow.db'}",
                   f"sqlite:///{workspace / 'kb.db'}", "digits_cnn-digits", "e", "digits_cnn-digits")
    assert orphaned_by_lost_store(ws) is None


def _artifact_locations(store: Path) -> list[str]:
    import sqlite3

    from workflows.relocation import LOCATION_COLUMNS

    with sqlite3.connect(store) as connection:
        return [row[0] for table, column in LOCATION_COLUMNS
                for row in connection.execute(f"SELECT {column} FROM {table}")  # noqa: S608 - fixed names
                if row[0] and str(row[0]).startswith("file:")]


def test_moved_workspace_keeps_its_artifacts_where_it_is_now(monkeypatch, capsys, tmp_path: Path,
                                                              digits_folder: Path) -> None:
    from workflows.cli import main

    monkeypatch.chdir(tmp_path)
    search = ["search", "--no-progress", f"data.path={digits_folder}", "train.epochs=1", "search.proxy=none"]
    old, new = tmp_path / "ws", tmp_path / "moved" / "ws"
    monkeypatch.setenv("NASFLOW_WORKSPACE", str(old))
    assert main([*search, "search.n_trials=1"]) == 0
    assert all(location.startswith(old.as_uri()) for location in _artifact_locations(old / "mlflow.db"))
    new.parent.mkdir()
    old.rename(new)
    capsys.readouterr()
    monkeypatch.setenv("NASFLOW_WORKSPACE", str(new))
    assert main([*search, "search.n_trials=2"]) == 0
    assert f"nasflow: the workspace was moved or copied from {old} to {new};" in capsys.readouterr().err
    locations = _artifact_locations(new / "mlflow.db")
    assert len(locations) >= 3 and all(location.startswith((new / "mlartifacts").as_uri()) for location in locations)
    assert not old.exists()  # nothing written where the workspace used to be
