"""Query results and their output as an aligned text table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from knowledge_base.errors import QueryError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "json", "csv")
MAX_CELL_CHARS = 40
TABLE_WIDTH = 120  # a table keeps the most useful columns that fit in this many characters
_FIRST = ("id", "rank", "task", "name", "model", "kind", "state", "distance")
_SCORES = ("best_model", "best_metric", "best_value")
_COSTS = ("params", "flops", "latency_ms", "n_samples", "n_classes")
_LAST = ("fingerprint", "content_hash", "device", "wall_time_s", "created_at", "best_params")


def _usefulness(name: str) -> int:
    """How early a column is shown (0 first): names, scores, costs, architecture, the rest, then ids and lineage."""
    if name in _FIRST:
        return 0
    if name in _SCORES or name.startswith("metrics.") or name.endswith(("accuracy", "_loss")):
        return 1
    if name in _COSTS:
        return 2
    if name.startswith("arch."):
        return 3
    if name in _LAST or name.startswith(("settings.", "lineage.")):
        return 5
    return 4


@dataclass
class QueryResult:
    """Rows of a query: column names and one tuple per row."""

    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per row, keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        """The values of one column; QueryError names the columns when `name` is not one."""
        if name not in self.columns:
            raise QueryError(f"no column {name!r} in this result; columns: {', '.join(self.columns)}")
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def select(self, names: list[str]) -> QueryResult:
        """Only the columns ``names``, in that order; QueryError names the columns when one is not there."""
        indices = []
        for name in names:
            if name not in self.columns:
                raise QueryError(f"no column {name!r} in this result; columns: {', '.join(self.columns)}")
            indices.append(self.columns.index(name))
        return QueryResult(list(names), [tuple(row[i] for i in indices) for row in self.rows])

    def to_dataframe(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (pandas is imported on first use)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)


def _plain(value: Any) -> Any:
    """A JSON-friendly value: datetimes as ISO text, NaN and infinities as None."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(value: Any, short: bool = True) -> str:
    """A cell as text: '' for None, floats to 6 significant digits when `short`, JSON for lists and dicts."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and short:
        return f"{value:.6g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _fitted(result: QueryResult, width: int) -> tuple[QueryResult, list[str]]:
    """The most useful columns of ``result`` whose table fits in ``width`` characters, and the names left out."""
    order = sorted(range(len(result.columns)), key=lambda i: _usefulness(result.columns[i]))
    kept: list[int] = []
    used = -2  # no separator before the first column
    for i in order:
        needed = max([len(result.columns[i]), *(len(_cut(_text(row[i]))) for row in result.rows)]) + 2
        if used + needed > width and kept:
            continue
        kept.append(i)
        used += needed
    names = [result.columns[i] for i in kept]
    return result.select(names), [result.columns[i] for i in order if i not in kept]


def _table(result: QueryResult, width: int | None) -> str:
    left_out: list[str] = []
    if width is not None:
        result, left_out = _fitted(result, width)
    cells = [[_cut(_text(v)) for v in row] for row in result.rows]
    numeric = [
        all(
            isinstance(row[i], int | float) and not isinstance(row[i], bool)
            for row in result.rows
            if row[i] is not None
        )
        for i in range(len(result.columns))
    ]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    lines = [line(list(result.columns)), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    count = f"{len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
    more = f"; {len(left_out)} more columns: {', '.join(left_out)} (choose with --columns, all with --format json)"
    lines.append(textwrap.fill(f"({count}{more if left_out else ''})", width or TABLE_WIDTH, break_on_hyphens=False))
    return "\n".join(lines)


def format_result(result: QueryResult, fmt: str = "table", width: int | None = TABLE_WIDTH) -> str:
    """`result` as an aligned plain-text table, a JSON array of objects, or CSV with a header row.

    The table shows the most useful columns first (names, scores, costs, architecture, then ids and lineage)
    and only those that fit in ``width`` characters (``None``: every column, in the result's order); the last
    line names the columns left out. JSON and CSV hold every column.
    """
    if fmt == "table":
        return _table(result, width)
    if fmt == "json":
        rows = [{k: _plain(v) for k, v in row.items()} for row in result.to_dicts()]
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_text(v, short=False) for v in row] for row in result.rows)
        return buffer.getvalue()
    raise QueryError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}.")
