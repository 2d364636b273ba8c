"""Alembic migrations shipped in the package, run programmatically and safely from several processes at once."""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from knowledge_base.backend import connection_error, writing
from knowledge_base.errors import BackendError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x6B625F6D6967  # "kb_mig": one advisory lock key for every knowledge-base migration
_ATTEMPTS = 5
VERSION_TABLE = "nasflow_kb_alembic_version"  # not Alembic's default: an Optuna study may share the database
LEGACY_VERSION_TABLE = "alembic_version"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic Config whose script_location is the package's migrations folder (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest migration revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _adopt_legacy_version(connection: sa.Connection) -> None:
    """Move a knowledge base's revision out of Alembic's default ``alembic_version`` into :data:`VERSION_TABLE`.

    Knowledge bases made before the own version table kept their revision there; a row that is not one of
    ours (e.g. Optuna's) stays where it is.
    """
    inspector = sa.inspect(connection)
    if inspector.has_table(VERSION_TABLE) or not inspector.has_table(LEGACY_VERSION_TABLE):
        return
    ours = {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    legacy = sa.table(LEGACY_VERSION_TABLE, sa.column("version_num", sa.String))
    rows = [r for (r,) in connection.execute(sa.select(legacy.c.version_num)) if r in ours]
    if not rows:
        return
    own = sa.Table(VERSION_TABLE, sa.MetaData(),
                   sa.Column("version_num", sa.String(32), primary_key=True))
    own.create(connection)
    connection.execute(own.insert().values(version_num=rows[0]))
    connection.execute(legacy.delete().where(legacy.c.version_num.in_(rows)))
    if connection.execute(sa.select(sa.func.count()).select_from(legacy)).scalar() == 0:
        connection.exec_driver_sql(f"DROP TABLE {LEGACY_VERSION_TABLE}")


def _revision_of(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    except sa.exc.DBAPIError as exc:  # unreachable server, unreadable or non-database file
        raise connection_error(engine.url, exc) from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision`; a no-op when it is there already.

    The migration runs in one write transaction: SQLite takes its write lock first (BEGIN IMMEDIATE),
    PostgreSQL an advisory lock, so concurrent callers queue and the later ones find nothing to do.
    """
    target = head_revision() if revision == "head" else revision
    current = _revision_of(engine)
    if current == target:
        return
    known = ScriptDirectory.from_config(alembic_config())
    for name, value in (("database", current), ("requested", target)):
        if value is not None and value not in {r.revision for r in known.walk_revisions()}:
            raise BackendError(
                f"the {name} revision {value!r} of the knowledge base at "
                f"{engine.url.render_as_string(hide_password=True)} "
                f"is unknown to this version of nasflow (newest: {head_revision()!r}); "
                + ("install a newer nasflow." if name == "database" else "pass a known revision or 'head'.")
            )
    for attempt in range(_ATTEMPTS):
        try:
            with engine.connect() as connection, writing(connection).begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
                _adopt_legacy_version(connection)
                command.upgrade(alembic_config(connection), revision)
            return
        except sa.exc.OperationalError as exc:
            locked = "locked" in str(exc) or "busy" in str(exc)
            if not locked or attempt == _ATTEMPTS - 1:
                raise BackendError(
                    f"migrating the knowledge base at {engine.url.render_as_string(hide_password=True)} to "
                    f"{revision!r} failed ({str(exc.orig).strip()}); check the database is writable and retry."
                ) from exc
            time.sleep(0.1 * 2**attempt)
        except sa.exc.IntegrityError as exc:
            raise BackendError(f"migrating the knowledge base to {revision!r} failed: {exc.orig}") from exc
