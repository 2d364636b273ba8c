"""Alembic environment of the knowledge base: runs on the connection the caller passes in."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from knowledge_base.migrate import VERSION_TABLE

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the knowledge-base migrations move data and cannot run offline; run them on a connection.")

_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:  # e.g. `alembic -x` runs by hand: take the URL from the config
    _url = config.get_main_option("sqlalchemy.url")
    if _url is None:
        raise SystemExit("alembic: set sqlalchemy.url in alembic.ini or pass the knowledge base URL with -x")
    _engine = sa.create_engine(_url)
    with _engine.connect() as _conn:
        _run(_conn)
