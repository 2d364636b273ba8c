"""Read-only raw SQL for power users."""

from __future__ import annotations

import pytest

from knowledge_base import KnowledgeBase, QueryError


def test_select_returns_columns_and_rows(four_evaluations: KnowledgeBase) -> None:
    result = four_evaluations.sql("select count(*) as n from evaluations")
    assert result.columns == ["n"] and result.rows == [(4,)]


def test_joins_and_text_with_colons_and_percent(four_evaluations: KnowledgeBase) -> None:
    result = four_evaluations.sql(
        "select t.name, m.value, 'a:b %s %' as odd, 5 % 3 as r from metrics m "
        "join evaluations e on e.id = m.evaluation_id join tasks t on t.id = e.task_id "
        "where m.name = 'val_accuracy' order by m.value desc"
    )
    assert result.columns == ["name", "value", "odd", "r"]
    assert [row[0] for row in result.rows] == ["digits"] * 4
    assert result.rows[0][2:] == ("a:b %s %", 2)


def test_with_clause_reads(four_evaluations: KnowledgeBase) -> None:
    assert four_evaluations.sql("with x as (select id from evaluations) select count(*) from x").rows == [(4,)]


@pytest.mark.parametrize(
    ("statement", "message"), [("", r"raw SQL must be a non-empty string"), ("selec 1", r"was rejected")]
)
def test_bad_sql(four_evaluations: KnowledgeBase, statement: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        four_evaluations.sql(statement)


def test_too_long_sql(four_evaluations: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match=r"raw SQL is 200013 characters long; the limit is 100000"):
        four_evaluations.sql("select 1 " + " " * 200_000 + "-- x")
