"""Read-only raw SQL: one statement on a connection that cannot write.

SQLite opens with mode=ro plus an authorizer; PostgreSQL runs the statement READ ONLY.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.engine import Engine

from knowledge_base.backend import BUSY_TIMEOUT_MS, sqlite_path, sqlite_read_uri
from knowledge_base.errors import QueryError
from knowledge_base.result import QueryResult

MAX_SQL_CHARS = 100_000
STATEMENT_TIMEOUT_MS = 60_000
_SQLITE_READ_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}


def _authorize(action: int, *_args: Any) -> int:
    """SQLite authorizer: allow reading only (no writes, ATTACH, PRAGMA, transactions)."""
    return sqlite3.SQLITE_OK if action in _SQLITE_READ_ACTIONS else sqlite3.SQLITE_DENY


def _rejected(statement: str, exc: Exception) -> QueryError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    shown = statement if len(statement) <= 80 else statement[:77] + "..."
    return QueryError(
        f"raw SQL {shown!r} was rejected: {reason}. `kb.sql` runs one read-only statement (SELECT or WITH ... SELECT); "
        "record data with KnowledgeBase.record instead."
    )


def _result(statement: str, cursor: Any) -> QueryResult:
    if cursor.description is None:  # e.g. COMMIT: it changed nothing (read-only), but it is not a query
        raise _rejected(statement, QueryError("the statement returns no rows"))
    return QueryResult([d[0] for d in cursor.description], [tuple(row) for row in cursor.fetchall()])


def _sqlite(engine: Engine, statement: str) -> QueryResult:
    connection = sqlite3.connect(sqlite_read_uri(sqlite_path(engine.url)), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_authorize)
        cursor = connection.execute(statement)
        return _result(statement, cursor)
    except (sqlite3.Error, sqlite3.Warning, OverflowError, ValueError) as exc:
        raise _rejected(statement, exc) from exc
    finally:
        connection.close()


def _postgres(engine: Engine, statement: str) -> QueryResult:
    import psycopg

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET TRANSACTION READ ONLY")
        cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        # A prepared statement holds exactly one command: "select 1; commit; drop ..." fails to prepare.
        cursor.execute(statement, prepare=True)  # type: ignore[call-arg]  # psycopg's cursor takes prepare=
        return _result(statement, cursor)
    except (psycopg.Error, ValueError) as exc:
        raise _rejected(statement, exc) from exc
    finally:
        raw.invalidate()  # never hand back to the pool a session the statement may have changed (set_config)


def run_readonly(engine: Engine, statement: str) -> QueryResult:
    """Run one SQL statement on a read-only connection; QueryError when it fails or tries to write."""
    if not isinstance(statement, str) or not statement.strip():
        raise QueryError(
            f"raw SQL must be a non-empty string, got {statement!r}; e.g. 'select count(*) from evaluations'"
        )
    if len(statement) > MAX_SQL_CHARS:
        raise QueryError(f"raw SQL is {len(statement)} characters long; the limit is {MAX_SQL_CHARS}: shorten it.")
    if engine.dialect.name == "sqlite":
        return _sqlite(engine, statement)
    if engine.dialect.name == "postgresql":
        return _postgres(engine, statement)
    raise QueryError(f"raw SQL is not supported on {engine.dialect.name!r}; use SQLite or PostgreSQL.")
