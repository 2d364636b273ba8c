"""Read-only raw SQL for power users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from knowledge_base import KnowledgeBase, QueryError
from tests.knowledge_base.kb_helpers import evaluation


@pytest.fixture(scope="module")
def filled(module_kb_url: str) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(module_kb_url)
    kb.record_many([evaluation(i) for i in range(3)])
    yield kb
    kb.close()


def test_select_returns_columns_and_rows(filled: KnowledgeBase) -> None:
    result = filled.sql("select count(*) as n from evaluations")
    assert result.columns == ["n"] and result.rows == [(3,)]


def test_joins_and_text_with_colons_and_percent(filled: KnowledgeBase) -> None:
    result = filled.sql(
        "select t.name, m.value, 'a:b %s %' as odd, 5 % 3 as r from metrics m "
        "join evaluations e on e.id = m.evaluation_id join tasks t on t.id = e.task_id "
        "where m.name = 'val_accuracy' order by m.value desc"
    )
    assert result.columns == ["name", "value", "odd", "r"]
    assert [row[0] for row in result.rows] == ["digits"] * 3
    assert result.rows[0][2:] == ("a:b %s %", 2)


def test_with_clause_reads(filled: KnowledgeBase) -> None:
    assert filled.sql("with x as (select id from evaluations) select count(*) from x").rows == [(3,)]


@pytest.mark.parametrize(
    ("statement", "message"), [("", r"raw SQL must be a non-empty string"), ("selec 1", r"was rejected")]
)
def test_bad_sql(filled: KnowledgeBase, statement: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        filled.sql(statement)


def test_too_long_sql(filled: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match=r"raw SQL is 200013 characters long; the limit is 100000"):
        filled.sql("select 1 " + " " * 200_000 + "-- x")
