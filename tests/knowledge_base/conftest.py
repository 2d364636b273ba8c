"""Fixtures: one knowledge base per test on SQLite (a file under tmp_path) and on PostgreSQL (a fresh schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from knowledge_base import KnowledgeBase
from knowledge_base.backend import normalize_url

POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("NASFLOW_TEST_POSTGRES_URL", POSTGRES_DEFAULT)


def postgres_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("NASFLOW_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """An engine on the test PostgreSQL server; skips (or fails under CI) when none is reachable."""
    url = normalize_url(postgres_url())
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0]
        message = (
            f"no PostgreSQL server reachable at {url.render_as_string(hide_password=True)} ({reason}); "
            "start one or set NASFLOW_TEST_POSTGRES_URL"
        )
        if postgres_required():
            pytest.fail(message + " (required: CI=true or NASFLOW_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    yield engine
    engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def database_url(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """A URL for an empty knowledge base: a SQLite file in `folder`, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{folder}/kb.db"
        return
    admin: sa.Engine = request.getfixturevalue("pg_admin")
    schema = f"kb_test_{uuid.uuid4().hex[:16]}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = normalize_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def kb_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test, on each backend."""
    with database_url(request, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def module_kb_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database shared by the tests of one module (for tests that only read), on each backend."""
    with database_url(request, tmp_path_factory.mktemp("kb")) as url:
        yield url


@pytest.fixture
def make_kb(kb_url: str) -> Iterator[Callable[..., KnowledgeBase]]:
    """Open knowledge bases on this test's database; all are closed afterwards."""
    opened: list[KnowledgeBase] = []

    def make(**options: Any) -> KnowledgeBase:
        kb = KnowledgeBase(kb_url, **options)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()


@pytest.fixture
def kb(make_kb: Callable[..., KnowledgeBase]) -> KnowledgeBase:
    return make_kb()


@pytest.fixture(scope="module")
def four_evaluations(module_kb_url: str) -> Iterator[KnowledgeBase]:
    """A knowledge base shared by a module's read-only tests: the evaluations i = 0..3 of one task."""
    from tests.knowledge_base.kb_helpers import evaluation

    kb = KnowledgeBase(module_kb_url)
    kb.record_many([evaluation(i) for i in range(4)])
    yield kb
    kb.close()
