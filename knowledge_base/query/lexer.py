"""Tokenizer of the filter language: names, quoted strings, numbers, operators and keywords, with positions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.errors import QueryError

MAX_QUERY_CHARS = 10_000
KEYWORDS = frozenset({"and", "or", "not", "in", "like", "order", "by", "asc", "desc", "limit", "true", "false"})
OPERATORS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    """One token: kind is NAME, STRING, NUMBER, OP, KEYWORD, PUNCT or EOF; pos is its 0-based offset."""

    kind: str
    value: str | int | float
    pos: int


def pointer(text: str, pos: int, width: int = 60) -> str:
    """Two lines showing `text` around `pos` with a caret under it (long queries are cut to a window)."""
    start = max(0, pos - width // 2)
    window = text[start : start + width].replace("\n", " ").replace("\t", " ")
    prefix = "..." if start else ""
    return f"  {prefix}{window}\n  {' ' * (len(prefix) + pos - start)}^"


def error_at(text: str, pos: int, message: str, details: str = "") -> QueryError:
    """A QueryError naming the position (0-based offset) with a caret under the query, then any details."""
    return QueryError(f"position {pos}: {message}\n{pointer(text, pos)}" + (f"\n{details}" if details else ""))


def _quoted(text: str, pos: int, quote: str) -> tuple[str, int]:
    """The content of the quoted token starting at `pos` (a doubled quote escapes it) and the offset after it."""
    parts, i = [], pos + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            kind = "name" if quote == "`" else "string"
            raise error_at(text, pos, f"unterminated {kind}: add the closing {quote}")
        parts.append(text[i:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            i = end + 2
            continue
        return "".join(parts), end + 1


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raises QueryError at the first character that starts no token."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}: shorten it.")
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if space := _SPACE.match(text, pos):
            pos = space.end()
        elif char in "'\"":
            value, end = _quoted(text, pos, char)
            tokens.append(Token("STRING", value, pos))
            pos = end
        elif char == "`":
            value, end = _quoted(text, pos, char)
            if not value:
                raise error_at(text, pos, "empty quoted name ``: put a field name between the backquotes")
            tokens.append(Token("NAME", value, pos))
            pos = end
        elif char in "(),":
            tokens.append(Token("PUNCT", char, pos))
            pos += 1
        elif number := _NUMBER.match(text, pos):
            raw = number.group()
            number_value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if isinstance(number_value, int) and abs(number_value) >= 2**63:
                number_value = float(number_value)  # beyond 64-bit integers: compare as a float
            tokens.append(Token("NUMBER", number_value, pos))
            pos = number.end()
        elif name := _NAME.match(text, pos):
            word = name.group()
            if word.lower() in KEYWORDS:
                tokens.append(Token("KEYWORD", word.lower(), pos))
            else:
                tokens.append(Token("NAME", word, pos))
            pos = name.end()
        elif op := next((o for o in OPERATORS if text.startswith(o, pos)), None):
            tokens.append(Token("OP", {"==": "=", "<>": "!="}.get(op, op), pos))
            pos += len(op)
        else:
            raise error_at(text, pos, f"unexpected character {char!r}; quote text values like 'digits'")
    tokens.append(Token("EOF", "", len(text)))
    return tokens
