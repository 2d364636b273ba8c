"""The filter language's tokenizer and parser: the syntax tree, and errors with their position."""

from __future__ import annotations

import pytest

from knowledge_base import QueryError
from knowledge_base.query.lexer import MAX_QUERY_CHARS, tokenize
from knowledge_base.query.parser import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    BoolOp,
    Condition,
    Field,
    Not,
    OrderItem,
    Query,
    parse,
)


def test_tokens_carry_kinds_values_and_positions() -> None:
    tokens = tokenize("arch.conv1.out_channels >= 32 and task = 'it''s' or x in (1.5, -2e3, true)")
    kinds = [(t.kind, t.value) for t in tokens]
    assert kinds[:3] == [("NAME", "arch.conv1.out_channels"), ("OP", ">="), ("NUMBER", 32)]
    assert ("STRING", "it's") in kinds
    assert ("NUMBER", -2000.0) in kinds
    assert ("KEYWORD", "true") in kinds
    assert tokens[1].pos == 24
    assert tokens[-1].kind == "EOF"


def test_operators_are_normalized() -> None:
    assert [t.value for t in tokenize("a == 1 and b <> 2") if t.kind == "OP"] == ["=", "!="]


def test_backquoted_names_and_keywords_in_any_case() -> None:
    tokens = tokenize("`arch.odd label` = 1 AND Not x LIKE 'a%'")
    assert tokens[0].kind == "NAME" and tokens[0].value == "arch.odd label"
    assert [t.value for t in tokens if t.kind == "KEYWORD"] == ["and", "not", "like"]


def test_parse_full_query() -> None:
    text = "task = 'digits' and (params < 1e5 or not kind in ('trial')) order by test_accuracy desc, params limit 5"
    at = text.index
    query = parse(text)
    assert query == Query(
        where=BoolOp(
            "and",
            (
                Condition(Field("task", 0), "=", "digits", at("'digits'")),
                BoolOp(
                    "or",
                    (
                        Condition(Field("params", at("params")), "<", 100000.0, at("1e5")),
                        Not(Condition(Field("kind", at("kind")), "in", ("trial",), at("('trial')"))),
                    ),
                ),
            ),
        ),
        order=(
            OrderItem(Field("test_accuracy", at("test_accuracy")), True),
            OrderItem(Field("params", text.rindex("params"))),
        ),
        limit=5,
    )


def test_not_in_and_not_like() -> None:
    text = "state not in ('failed', 'pruned') and model not like 'x%'"
    query = parse(text)
    assert isinstance(query.where, BoolOp)
    assert query.where.items[0] == Not(Condition(Field("state", 0), "in", ("failed", "pruned"), text.index("(")))
    assert query.where.items[1] == Not(Condition(Field("model", text.index("model")), "like", "x%", text.index("'x%'")))


def test_empty_query_and_order_only() -> None:
    assert parse("") == Query()
    assert parse("   order by params limit 0") == Query(None, (OrderItem(Field("params", 12)),), 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("task = digits", r"position 7: expected a value but found the name 'digits'; quote text values: 'digits'"),
        ("(task = 'x'", r"position 11: expected '\)' to close the parenthesis but found the end of the query"),
        ("task = 'x", r"position 7: unterminated string: add the closing '"),
        ("params >", r"position 8: expected a value"),
        ("params 5", r"position 7: expected a comparison \(=, !=, <, <=, >, >=, in, like\)"),
        ("and x = 1", r"position 0: expected a field name"),
        ("x = 1 limit -1", r"position 12: expected a whole number >= 0 after 'limit'"),
        ("x = 1 limit 2.5", r"position 12: expected a whole number"),
        ("x = 1 order params", r"position 12: expected 'by' after 'order'"),
        ("x = 1 garbage", r"position 6: expected 'and', 'or', 'order by', 'limit' or the end of the query"),
        ("x like 5", r"position 7: expected a quoted pattern after 'like'"),
        ("x not = 5", r"position 6: expected 'in' or 'like' after 'not'"),
        ("x in 1, 2", r"position 5: expected '\(' to start the list after 'in'"),
        ("x = 1; drop table tasks", r"position 5: unexpected character ';'"),
        ("tâche = 1", r"position 1: unexpected character 'â'"),
        ("x = ``", r"position 4: empty quoted name"),
    ],
)
def test_syntax_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_error_shows_a_caret_under_the_problem() -> None:
    with pytest.raises(QueryError) as info:
        parse("task = digits")
    lines = str(info.value).splitlines()
    assert lines[1] == "  task = digits"
    assert lines[2] == "         ^"


def test_huge_and_deep_inputs_are_refused_quickly() -> None:
    with pytest.raises(QueryError, match=rf"the limit is {MAX_QUERY_CHARS}"):
        parse("x = 1 and " * 2000 + "x = 1")
    with pytest.raises(QueryError, match=rf"nests deeper than {MAX_DEPTH} levels"):
        parse("(" * 100 + "x = 1" + ")" * 100)
    with pytest.raises(QueryError, match=rf"nests deeper than {MAX_DEPTH} levels"):
        parse("not " * 100 + "x = 1")
    with pytest.raises(QueryError, match=rf"more than {MAX_CONDITIONS} conditions"):
        parse(" or ".join(["x = 1"] * (MAX_CONDITIONS + 1)))
    with pytest.raises(QueryError, match=r"'in' list has more than 1000 values"):
        parse("x in (" + ",".join("1" * 1 for _ in range(1001)) + ")")


def test_unicode_inside_strings_is_kept() -> None:
    query = parse("task = 'données-😀' and `arch.größe` = 'ü'")
    assert isinstance(query.where, BoolOp)
    assert query.where.items[0] == Condition(Field("task", 0), "=", "données-😀", 7)
    assert query.where.items[1].field.name == "arch.größe"  # type: ignore[union-attr]


def test_huge_integers_become_floats() -> None:
    query = parse("params > 99999999999999999999999")
    assert isinstance(query.where, Condition) and query.where.value == 1e23
