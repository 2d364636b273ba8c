"""The workspace's SQLite MLflow store, created whole or not at all.

MLflow creates its schema with a long chain of migrations on the first connection; a process killed (or a disk
filled) half-way leaves a file whose next migration fails for good (``table logged_models already exists``). So a
new store is built beside its final name, under a lock, and renamed into place only once every table exists: an
interrupted creation leaves a ``.creating`` file that the next creator discards and builds again. A store left
half-made in place (by a nasflow from before this) is moved aside to ``mlflow.db.unfinished-<time>`` and built anew.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

from nas.locks import FileLock
from workflows.errors import WorkflowError


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI (None for any other store)."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def ensure_sqlite_store(uri: str, artifact_root: Path) -> bool:
    """Create the SQLite MLflow store at ``uri`` (WAL mode, every table) unless it exists; whether it created it."""
    path = sqlite_path(uri)
    if path is None or (path.exists() and not _unfinished(path)):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_name(path.name + ".lock"))
    lock.acquire()
    try:
        if path.exists() and _unfinished(path):
            aside = path.with_name(f"{path.name}.unfinished-{time.strftime('%Y%m%dT%H%M%S')}")
            for side in ("", "-wal", "-shm"):
                if Path(f"{path}{side}").exists():
                    os.replace(f"{path}{side}", f"{aside}{side}")
            print(f"nasflow: the MLflow store {path} was never fully created (a process stopped while creating it); "
                  f"moved it to {aside.name} and creating it again", file=sys.stderr)
        if path.exists():  # another process created it while this one waited
            return False
        building = path.with_name(path.name + ".creating")
        if building.exists():  # left by a creator that died (only the lock holder builds)
            print(f"nasflow: an earlier creation of the MLflow store {path} was interrupted; creating it again",
                  file=sys.stderr)
            _discard(building)
        try:
            _build(building, artifact_root)
            os.replace(building, path)
        except (OSError, sqlite3.Error, RuntimeError) as exc:
            _discard(building)
            raise WorkflowError(f"creating the MLflow store {path} failed ({exc}); free disk space or fix the "
                                "folder's permissions and rerun (nothing was kept half-made)") from exc
        return True
    finally:
        lock.release()


def _unfinished(path: Path) -> bool:
    """Whether the file at ``path`` is a store whose creation never finished: MLflow adds its Default experiment
    (and re-adds it whenever it is missing) only after its last migration, so a whole store is never without one."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return connection.execute("SELECT count(*) FROM experiments").fetchone()[0] == 0
    except sqlite3.OperationalError as exc:  # no experiments table: the first migration never ran
        return "no such table" in str(exc)  # else unreadable here (a read-only folder): MLflow will say why
    except sqlite3.DatabaseError:  # not a database at all
        return True


def _build(path: Path, artifact_root: Path) -> None:
    """Every MLflow table in a new SQLite file at ``path``, in WAL mode (readers such as the UI never block writes),
    with the write-ahead log folded back into the file so that it can be renamed."""
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    try:
        store = SqlAlchemyStore(f"sqlite:///{path}", artifact_root.as_uri())  # runs every migration
    except MlflowException as exc:  # MLflow wraps the database's own error (disk full, read-only)
        raise RuntimeError(str(exc).splitlines()[0]) from exc
    store.engine.dispose()
    SqlAlchemyStore._engine_map.pop(f"sqlite:///{path}", None)  # the cached engine of a name about to go away
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)


def _discard(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        name.unlink(missing_ok=True)
