"""URLs, unreachable servers and concurrent processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from knowledge_base import BackendError, KnowledgeBase
from knowledge_base.backend import normalize_url
from knowledge_base.schema import evaluations, tasks
from tests.knowledge_base.kb_helpers import evaluation

REPO = Path(__file__).resolve().parents[2]


def test_plain_postgresql_url_maps_to_psycopg3() -> None:
    assert normalize_url("postgresql://u:secret@h:5432/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_relative_sqlite_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_url("sqlite:///kb.db").database == str(tmp_path / "kb.db")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(BackendError, match=r"is not a SQLite file.*use sqlite:////abs/path/kb.db"):
        normalize_url(url)


def test_unsupported_scheme_is_named() -> None:
    with pytest.raises(
        BackendError,
        match=r"unsupported knowledge-base URL scheme 'mysql'.*use sqlite:////abs/path/kb.db or postgresql://",
    ):
        normalize_url("mysql://user:pw@host/db")
    with pytest.raises(BackendError, match=r"cannot parse knowledge-base URL 'not a url'"):
        normalize_url("not a url")


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(
        BackendError,
        match=r"cannot open the knowledge base at postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db.*Connection refused"
        r".*check that the server is running",
    ):
        KnowledgeBase("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2")


def test_a_file_that_is_no_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "kb.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(
        BackendError, match=r"cannot open the knowledge base at sqlite:///.*kb.db \(file is not a database\)"
    ):
        KnowledgeBase(f"sqlite:///{tmp_path}/kb.db")


def test_sqlite_parent_folder_is_created(tmp_path: Path) -> None:
    with KnowledgeBase(f"sqlite:///{tmp_path}/deep/er/kb.db") as kb:
        assert kb.backend == "sqlite"
        assert "secret" not in repr(kb)
    assert (tmp_path / "deep" / "er" / "kb.db").exists()


def _run_processes(script: str, args: list[list[str]]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, *a], env=env, stderr=subprocess.PIPE, text=True) for a in args
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), errors


WRITER = textwrap.dedent(
    """
    import sys
    from knowledge_base import KnowledgeBase
    from tests.knowledge_base.kb_helpers import evaluation
    kb = KnowledgeBase(sys.argv[1])
    kb.record(evaluation(int(sys.argv[2]), fingerprint="shared"))
    """
)


def test_concurrent_processes_migrate_and_record(tmp_path: Path) -> None:
    """Three processes open one fresh SQLite knowledge base at once (racing the migration) and record."""
    url = f"sqlite:///{tmp_path}/kb.db"
    _run_processes(WRITER, [[url, str(worker)] for worker in range(3)])
    with KnowledgeBase(url) as kb:
        assert sorted(kb.get(i).settings["seed"] for i in (1, 2, 3)) == [0, 1, 2]
        assert kb.sql("select count(*) from architectures").rows == [(1,)]


def test_concurrent_writers_share_tasks_and_architectures(kb_url: str) -> None:
    """Four writers with their own connections race the migration and the task/architecture upserts."""

    def work(worker: int) -> None:
        with KnowledgeBase(kb_url) as kb:
            for i in range(10):
                kb.record(evaluation(i, fingerprint=f"shared{i % 5}", lineage={"worker": worker}))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    with KnowledgeBase(kb_url) as kb:
        with kb.engine.connect() as connection:
            assert connection.scalar(sa.select(sa.func.count()).select_from(evaluations)) == 40
            assert connection.scalar(sa.select(sa.func.count()).select_from(tasks)) == 1
        assert len(kb.query("arch.conv1.out_channels >= 8")) == 40
        assert len(kb.sql("select distinct identity from architectures").rows) == 5
