"""Database URLs and engines: SQLite files (WAL, busy timeout, explicit BEGIN) and PostgreSQL through psycopg 3."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from knowledge_base.errors import BackendError

BUSY_TIMEOUT_MS = 30_000
EXAMPLES = "sqlite:////abs/path/kb.db or postgresql://user@host:5432/dbname"
_POSTGRES_NAMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2", "postgres+psycopg"}
_SQLITE_NAMES = {"sqlite", "sqlite+pysqlite"}


def normalize_url(url: str | URL) -> URL:
    """Parse `url`; map plain postgresql:// to psycopg 3 and make SQLite paths absolute."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError as exc:
        raise BackendError(f"cannot parse knowledge-base URL {url!r} ({exc}); use {EXAMPLES}.") from exc
    name = parsed.drivername
    if name in _POSTGRES_NAMES:
        return parsed.set(drivername="postgresql+psycopg")
    if name in _SQLITE_NAMES:
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise BackendError(
                f"knowledge-base URL {url!r} is not a SQLite file; in-memory and file: URIs are not supported, "
                "use sqlite:////abs/path/kb.db."
            )
        return parsed.set(drivername="sqlite", database=str(Path(database).expanduser().resolve()))
    raise BackendError(f"unsupported knowledge-base URL scheme {name!r} in {redact(parsed)!r}; use {EXAMPLES}.")


def redact(url: URL) -> str:
    """The URL as text with any password hidden."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path:
    """The database file of a normalized SQLite URL."""
    return Path(url.database or "")


def sqlite_read_only(path: Path) -> bool:
    """Whether ``path`` is an existing SQLite file in a folder this process cannot write (a read-only folder or
    mount): it can only be read, opened immutable, since a reader of a WAL file creates files beside it."""
    return path.is_file() and not os.access(path.parent, os.W_OK)


def sqlite_read_uri(path: Path) -> str:
    """The URI that opens ``path`` read-only (immutable where its folder is read-only)."""
    return f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if sqlite_read_only(path) else "")


def _set_wal(cursor: Any) -> None:
    """Switch the file to WAL (kept by the file). The switch needs the database to itself and SQLite answers
    "locked" at once, without its busy handler, while a new file is being created by another connection."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" hook below emit BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _set_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_read_only_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA query_only = ON")


def _sqlite_on_begin(connection: sa.Connection) -> None:
    mode = connection.get_execution_options().get("kb_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: URL) -> Engine:
    """An engine for a normalized URL; SQLite gets WAL, a busy timeout and real transactions."""
    if url.drivername == "sqlite" and sqlite_read_only(sqlite_path(url)):
        uri = sqlite_read_uri(sqlite_path(url))
        engine = sa.create_engine(url, creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
        event.listen(engine, "connect", _sqlite_read_only_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if url.drivername == "sqlite":
        try:
            sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise connection_error(url, exc) from exc
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def writing(connection: sa.Connection) -> sa.Connection:
    """`connection` set up for a write transaction (SQLite: BEGIN IMMEDIATE, so writers queue, never deadlock)."""
    return connection.execution_options(kb_begin="IMMEDIATE")


def connection_error(url: URL, exc: Exception) -> BackendError:
    """A BackendError for a database that cannot be reached, naming the URL and the fix."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if url.drivername == "sqlite":
        folder = sqlite_path(url).parent
        return BackendError(
            f"cannot open the knowledge base at {redact(url)} ({reason}); check that {folder} exists and is "
            "writable (or that the file is there to read) and that kb.url is right."
        )
    return BackendError(
        f"cannot open the knowledge base at {redact(url)} ({reason}); check that the server is running "
        "and that kb.url is right."
    )


def sqlite_refresh_statistics(connection: sa.Connection, rows: int) -> int:
    """ANALYZE when the evaluations table has at least doubled since the last ANALYZE (or never had one).

    SQLite's planner needs the statistics to walk an index for `order by params limit 5` instead of sorting
    every row. Returns the row count at which to check again.
    """
    analyzed = 0
    if connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        stat = connection.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'evaluations' LIMIT 1").scalar()
        analyzed = int(str(stat).split()[0]) if stat else 0
    if rows >= 2 * analyzed:
        connection.exec_driver_sql("ANALYZE")
        analyzed = rows
    return 2 * analyzed
