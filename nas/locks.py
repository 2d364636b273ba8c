"""Locks that make a study operation atomic across workers: a file lock (one host), a PostgreSQL advisory lock
(many hosts) or none (one process), behind one protocol with an idempotent release."""

from __future__ import annotations

import fcntl
import hashlib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any


class StudyLock(AbstractContextManager):
    """The budget lock's protocol: ``acquire``, then ``release`` (idempotent: a second call does nothing)."""

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> StudyLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class FileLock(StudyLock):
    """An exclusive ``flock`` on a file beside the study's storage (one host); released if the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a")  # noqa: SIM115 - held open until release(), which closes it
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class PostgresLock(StudyLock):
    """A PostgreSQL advisory lock keyed by the study name (workers on many hosts); released if the session ends."""

    def __init__(self, url: str, study_name: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.key = int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:8], "big", signed=True)
        self.connection: Any = None
        self.held = False

    def acquire(self) -> None:
        import psycopg

        if self.connection is None:
            self.connection = psycopg.connect(self.url, autocommit=True)
        self.connection.execute("SELECT pg_advisory_lock(%s)", (self.key,))
        self.held = True

    def release(self) -> None:
        """Unlock once: unlocking a lock not held makes PostgreSQL warn "you don't own a lock"."""
        if self.connection is not None and self.held:
            self.connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            self.held = False


class NoLock(StudyLock):
    """In-memory studies live in one process: nothing to lock."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass


__all__ = ["FileLock", "NoLock", "PostgresLock", "StudyLock"]
