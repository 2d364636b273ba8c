"""A moved or copied workspace: point its MLflow store's artifact locations at the workspace where it is now.

MLflow keeps absolute ``file://`` artifact locations (experiments, runs, logged models, model versions) and has
no API to change them; the workspace's own SQLite store is rewritten in one transaction instead. A leaf of
``workflows``: it imports the workspace only.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from workflows.workspace import Workspace

#: the MLflow 3 columns that hold an artifact location (tables missing from an older schema are skipped)
LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                    ("logged_models", "artifact_location"), ("model_versions", "storage_location"),
                    ("model_versions", "source"))
ARTIFACTS = "mlartifacts"


def _own_store(ws: Workspace) -> Path | None:
    """The workspace's default SQLite store (``<root>/mlflow.db``) if it exists; a store named by tracking.uri is
    not the workspace's to rewrite."""
    path = Path(ws.mlflow_uri.removeprefix("sqlite:///")) if ws.mlflow_uri.startswith("sqlite:///") else None
    return path if path is not None and path.parent == ws.root and path.is_file() else None


def relocate_artifacts(ws: Workspace) -> str | None:
    """Rewrite the artifact locations of ``ws``'s store that name another workspace's ``mlartifacts`` (the one it
    was moved or copied from) to this one's; returns the note to show, None if nothing pointed elsewhere."""
    store = _own_store(ws)
    if store is None:
        return None
    new = ws.artifact_root.as_uri()
    with sqlite3.connect(store, timeout=60) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "experiments" not in tables:
            return None
        old = sorted({row[0] for row in connection.execute(
            "SELECT artifact_location FROM experiments WHERE artifact_location LIKE ? AND artifact_location != ?",
            (f"file://%/{ARTIFACTS}", new))})
        changed = 0
        for prefix in old:
            for table, column in LOCATION_COLUMNS:
                if table in tables:
                    changed += connection.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608 - fixed names
                        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                        (new, len(prefix) + 1, prefix, len(prefix) + 1, prefix + "/")).rowcount
    if not old:
        return None
    moved = ", ".join(prefix.removeprefix("file://").removesuffix(f"/{ARTIFACTS}") for prefix in old)
    return (f"nasflow: the workspace was moved or copied from {moved} to {ws.root}; {changed} MLflow artifact "
            f"locations now point at {ws.artifact_root}")


def follow_moved_workspace(ws: Workspace) -> None:
    """:func:`relocate_artifacts`, printing its note (one line on stderr) if it changed anything."""
    note = relocate_artifacts(ws)
    if note:
        print(note, file=sys.stderr)
