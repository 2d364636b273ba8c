"""A store left half-made in place by MLflow's own first migration (a kill mid-way) is moved aside and made anew.

Killed where this test kills it (the ``logged_models`` table just created), MLflow itself often can never open the
file again (``table logged_models already exists``); whether it can depends on the instant, so only nasflow's
answer is asserted: the file set aside, a whole store in its place.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.workflows.conftest import REPO

MIGRATE = "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; S(sys.argv[1], sys.argv[2])"


def _has_table(path: Path, name: str) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as connection:
            return bool(connection.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchall())
    except sqlite3.Error:  # not created yet, or mid-write
        return False


def test_a_store_killed_during_mlflows_first_migration_is_moved_aside_and_created_again(tmp_path: Path, capfd) -> None:
    from mlflow import MlflowClient

    from workflows.mlflow_store import ensure_sqlite_store

    path, uri = tmp_path / "mlflow.db", f"sqlite:///{tmp_path / 'mlflow.db'}"
    migrating = subprocess.Popen([sys.executable, "-c", MIGRATE, uri, (tmp_path / "art").as_uri()], cwd=REPO,
                                 stderr=subprocess.DEVNULL)  # what every MLflow client does on a new file
    while not _has_table(path, "logged_models"):  # a migration half-way through the chain
        assert migrating.poll() is None, "the migration ended before it could be cut short"
        time.sleep(0.01)
    os.kill(migrating.pid, signal.SIGKILL)
    migrating.wait()

    assert ensure_sqlite_store(uri, tmp_path / "art")
    assert "was never fully created (a process stopped while creating it); moved it to mlflow.db.unfinished-" \
        in capfd.readouterr().err
    assert len(list(tmp_path.glob("mlflow.db.unfinished-*"))) == 1
    client = MlflowClient(uri)
    assert client.get_experiment_by_name("Default") is not None
    assert client.create_experiment("after", artifact_location=(tmp_path / "art").as_uri())
    assert not ensure_sqlite_store(uri, tmp_path / "art")  # a whole store is left as it is
