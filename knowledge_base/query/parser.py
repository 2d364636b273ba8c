"""Recursive-descent parser of the filter language into a small syntax tree.

query      := [expr] [ORDER BY order_item {"," order_item}] [LIMIT integer]
expr       := and_expr {OR and_expr}
and_expr   := not_expr {AND not_expr}
not_expr   := NOT not_expr | "(" expr ")" | condition
condition  := field op value | field [NOT] IN "(" value {"," value} ")" | field [NOT] LIKE string
order_item := field [ASC | DESC]
value      := string | number | TRUE | FALSE
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge_base.query.lexer import Token, error_at, tokenize

MAX_DEPTH = 50
MAX_CONDITIONS = 200
MAX_IN_VALUES = 1000

Value = str | int | float | bool


@dataclass(frozen=True)
class Field:
    """A field name as written, with its position."""

    name: str
    pos: int


@dataclass(frozen=True)
class Condition:
    """`field op value` with op one of = != < <= > >= like in; for `in`, value is a tuple of values.

    The Python API also builds op "exists" (the field has a value; `value` is ignored), which no query text can.
    """

    field: Field
    op: str
    value: Value | tuple[Value, ...]
    value_pos: int


@dataclass(frozen=True)
class Not:
    """Negation of an expression."""

    expr: Expr


@dataclass(frozen=True)
class BoolOp:
    """`and` / `or` over two or more expressions."""

    op: str
    items: tuple[Expr, ...]


Expr = Condition | Not | BoolOp


@dataclass(frozen=True)
class OrderItem:
    """One `order by` key."""

    field: Field
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query: an optional filter, the order keys and an optional limit."""

    where: Expr | None = None
    order: tuple[OrderItem, ...] = ()
    limit: int | None = None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.conditions = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        token = self.token
        if token.kind == kind and (value is None or token.value == value):
            return self.advance()
        return None

    def fail(self, expected: str) -> Exception:
        token = self.token
        found = "the end of the query" if token.kind == "EOF" else repr(self.text[token.pos : token.pos + 30])
        return error_at(self.text, token.pos, f"expected {expected} but found {found}")

    def expect(self, kind: str, value: str, expected: str) -> Token:
        token = self.accept(kind, value)
        if token is None:
            raise self.fail(expected)
        return token

    def parse(self) -> Query:
        where = None
        if self.token.kind != "EOF" and not (self.token.kind == "KEYWORD" and self.token.value in ("order", "limit")):
            where = self.expr()
        order: list[OrderItem] = []
        if self.accept("KEYWORD", "order"):
            self.expect("KEYWORD", "by", "'by' after 'order'")
            order.append(self.order_item())
            while self.accept("PUNCT", ","):
                order.append(self.order_item())
        limit = None
        if self.accept("KEYWORD", "limit"):
            token = self.token
            if token.kind != "NUMBER" or not isinstance(token.value, int) or token.value < 0:
                raise self.fail("a whole number >= 0 after 'limit'")
            limit = int(self.advance().value)
        if self.token.kind != "EOF":
            raise self.fail("'and', 'or', 'order by', 'limit' or the end of the query")
        return Query(where, tuple(order), limit)

    def expr(self) -> Expr:
        items = [self.and_expr()]
        while self.accept("KEYWORD", "or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.accept("KEYWORD", "and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise error_at(self.text, self.token.pos, f"query nests deeper than {MAX_DEPTH} levels: simplify it")
        try:
            if self.accept("KEYWORD", "not"):
                return Not(self.not_expr())
            if self.accept("PUNCT", "("):
                inner = self.expr()
                self.expect("PUNCT", ")", "')' to close the parenthesis")
                return inner
            return self.condition()
        finally:
            self.depth -= 1

    def field(self) -> Field:
        token = self.token
        if token.kind != "NAME":
            raise self.fail("a field name such as task, params or metrics.val_accuracy")
        self.advance()
        return Field(str(token.value), token.pos)

    def condition(self) -> Expr:
        field = self.field()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise error_at(self.text, field.pos, f"query has more than {MAX_CONDITIONS} conditions: simplify it")
        negated = self.accept("KEYWORD", "not") is not None
        if self.accept("KEYWORD", "in"):
            condition = self.in_list(field)
        elif self.accept("KEYWORD", "like"):
            token = self.token
            if token.kind != "STRING":
                raise self.fail("a quoted pattern after 'like', e.g. 'digits%'")
            condition = Condition(field, "like", str(self.advance().value), token.pos)
        elif negated:
            raise self.fail("'in' or 'like' after 'not'")
        else:
            token = self.token
            if token.kind != "OP":
                raise self.fail("a comparison (=, !=, <, <=, >, >=, in, like)")
            self.advance()
            value_pos = self.token.pos
            condition = Condition(field, str(token.value), self.value(), value_pos)
        return Not(condition) if negated else condition

    def in_list(self, field: Field) -> Condition:
        start = self.expect("PUNCT", "(", "'(' to start the list after 'in'")
        values = [self.value()]
        while self.accept("PUNCT", ","):
            values.append(self.value())
            if len(values) > MAX_IN_VALUES:
                raise error_at(self.text, self.token.pos, f"'in' list has more than {MAX_IN_VALUES} values")
        self.expect("PUNCT", ")", "',' or ')' in the 'in' list")
        return Condition(field, "in", tuple(values), start.pos)

    def value(self) -> Value:
        token = self.token
        if token.kind in ("STRING", "NUMBER"):
            return self.advance().value
        if token.kind == "KEYWORD" and token.value in ("true", "false"):
            return self.advance().value == "true"
        if token.kind == "NAME":
            message = f"expected a value but found the name {token.value!r}; quote text values: '{token.value}'"
            raise error_at(self.text, token.pos, message)
        raise self.fail("a value: a 'quoted string', a number, true or false")

    def order_item(self) -> OrderItem:
        field = self.field()
        if self.accept("KEYWORD", "desc"):
            return OrderItem(field, True)
        self.accept("KEYWORD", "asc")
        return OrderItem(field, False)


def parse(text: str) -> Query:
    """Parse a filter query; raises QueryError with the position and what was expected."""
    return _Parser(text).parse()
