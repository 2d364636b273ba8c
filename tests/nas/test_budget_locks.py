"""The budget locks: a second release does nothing (PostgreSQL would warn "you don't own a lock")."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.budget import budget_lock
from nas.locks import FileLock, NoLock, PostgresLock, StudyLock
from tests.knowledge_base.conftest import pg_admin, postgres_url  # noqa: F401 - the server check (skip/fail)


def test_every_storage_gets_a_study_lock(tmp_path: Path) -> None:
    assert isinstance(budget_lock(None, "s"), NoLock)
    assert isinstance(budget_lock(f"sqlite:///{tmp_path}/o.db", "s"), FileLock)
    assert isinstance(budget_lock("postgresql://postgres@127.0.0.1/test", "s"), PostgresLock)
    assert all(issubclass(cls, StudyLock) for cls in (NoLock, FileLock, PostgresLock))
    assert not issubclass(PostgresLock, FileLock) and not issubclass(NoLock, FileLock)


@pytest.mark.postgres
def test_postgres_lock_release_is_idempotent(pg_admin) -> None:  # noqa: F811
    lock = PostgresLock(postgres_url(), "test_budget_locks_idempotent_17")
    notices: list[str] = []
    with lock:
        lock.connection.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))
        held = lock.connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).fetchone()[0]
        assert held == 1
    lock.release()  # the second release of the same trial
    lock.release()
    assert notices == []
    still = lock.connection.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    ).fetchone()[0]
    assert still == 0
    lock.connection.close()
