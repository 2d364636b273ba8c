"""Hostile input: query strings and raw SQL can never write, read another database or run a statement."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import KnowledgeBase, QueryError
from tests.knowledge_base.kb_helpers import evaluation, snapshot

INJECTIONS = [
    "task = 'digits'; DROP TABLE evaluations; --'",
    "task = 'x'' OR ''1''=''1'",
    "task = '' or 1=1 --",
    "task = 'digits' union select * from tasks",
    "task = 'digits' and (select count(*) from tasks) > 0",
    "task = 'digits' -- comment",
    "task = 'digits' /* comment */",
    "`evaluations; drop table tasks; --` = 1",
    "`task = 'x' or 1` = 1",
    "metrics.`x') or 1=1 --` = 1",
    "task = \"digits\" ; attach database '/tmp/evil.db' as evil",
    "task = 'digits' and pg_sleep(5) = 1",
    "task = 'é\u202e\u0000'",
    "task = '%' or task like '%'",
    "task in ('a', 'b'); delete from tasks",
    "order by (select 1)",
    "order by id; drop table tasks",
    "limit 1; drop table tasks",
    "limit 99999999999999999999",
    "arch.`'; drop table arch_params; --` >= 1",
    "task = '" + "a" * 5000 + "'",
    "task = '😀' and `arch.😀` = '😀'",
    "\x00",
    "task = 'digits' \\",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injections_fail_or_only_filter(four_evaluations: KnowledgeBase, text: str) -> None:
    before = snapshot(four_evaluations)
    try:
        result = four_evaluations.query(text)
    except QueryError:
        pass
    else:  # a query that parses only ever filters: it names one value and returns a subset of the rows
        assert len(result) <= 4
    assert snapshot(four_evaluations) == before


def test_quoted_injection_is_a_plain_value(four_evaluations: KnowledgeBase) -> None:
    assert four_evaluations.query("task = 'digits'' OR ''1''=''1'").rows == []
    assert four_evaluations.query("task = 'x'' or 1=1 --'").rows == []
    assert len(four_evaluations.query("task = 'digits'")) == 4


def test_huge_inputs_are_refused_without_touching_the_database(four_evaluations: KnowledgeBase) -> None:
    before = snapshot(four_evaluations)
    for text in [
        "task = 'digits' or " * 1000 + "task = 'x'",
        "(" * 5000,
        "a" * 1_000_000,
        "x in (" + "1," * 4000 + "1)",
    ]:
        with pytest.raises(QueryError):
            four_evaluations.query(text)
    assert snapshot(four_evaluations) == before


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE evaluations",
        "DELETE FROM tasks",
        "UPDATE metrics SET value = 1",
        "INSERT INTO tasks (name, content_hash, meta_json, created_at) VALUES ('x', 'y', '{}', '2026-01-01')",
        "CREATE TABLE evil (x int)",
        "select 1; drop table tasks",
        "select 1; commit; drop table tasks",
        "commit",
        "BEGIN",
        "ALTER TABLE tasks ADD COLUMN evil int",
        "WITH x AS (DELETE FROM tasks RETURNING *) SELECT * FROM x",
    ],
)
def test_raw_sql_cannot_write(four_evaluations: KnowledgeBase, statement: str) -> None:
    before = snapshot(four_evaluations)
    with pytest.raises(QueryError, match=r"was rejected: .*`kb.sql` runs one read-only statement"):
        four_evaluations.sql(statement)
    assert snapshot(four_evaluations) == before


def test_sqlite_raw_sql_cannot_attach_or_pragma(tmp_path: Path) -> None:
    with KnowledgeBase(f"sqlite:///{tmp_path}/kb.db") as kb:
        kb.record(evaluation())
        other = tmp_path / "other.db"
        for statement in [
            f"ATTACH DATABASE '{other}' AS other",
            "PRAGMA query_only = OFF",
            "PRAGMA writable_schema = ON",
            "VACUUM",
        ]:
            with pytest.raises(QueryError, match=r"not authorized|authorization denied"):
                kb.sql(statement)
        assert not other.exists()
        assert kb.sql("select count(*) from evaluations").rows == [(1,)]


def test_raw_sql_cannot_change_the_session_for_later_writes(kb: KnowledgeBase) -> None:
    kb.record(evaluation(1))
    if kb.backend == "postgresql":
        kb.sql("select set_config('search_path', 'pg_catalog', false)")
    kb.record(evaluation(2))
    assert len(kb.query("task = 'digits'")) == 2
    assert kb.sql("select count(*) from evaluations").rows == [(2,)]
