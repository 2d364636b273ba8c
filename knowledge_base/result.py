"""Query results and their output as an aligned text table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from knowledge_base.errors import QueryError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "json", "csv")
MAX_CELL_CHARS = 40


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


def _table(result: QueryResult) -> str:
    def cut(text: str) -> str:
        return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"

    cells = [[cut(_text(v)) for v in row] for row in result.rows]
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
    lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(lines)


def format_result(result: QueryResult, fmt: str = "table") -> str:
    """`result` as an aligned plain-text table, a JSON array of objects, or CSV with a header row."""
    if fmt == "table":
        return _table(result)
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
