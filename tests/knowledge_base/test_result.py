"""QueryResult and format_result: aligned table, JSON, CSV, pandas."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime

import pytest

from knowledge_base import QueryError, QueryResult, format_result

RESULT = QueryResult(
    ["id", "task", "test_accuracy", "input_shape", "created_at", "ok"],
    [
        (1, "digits", 0.973456789, [1, 8, 8], datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), True),
        (12, "a much longer task name that goes on and on and on", None, None, None, False),
        (3, "wine", math.nan, [13], None, None),
    ],
)


def test_a_wide_table_keeps_the_most_useful_columns_within_120_characters() -> None:
    wide = QueryResult(["id", "created_at", "fingerprint", *(f"arch.layer{i}" for i in range(12)), "test_accuracy",
                        "lineage.mlflow_run_id"],
                       [(1, "2026-01-02T03:04:05", "f" * 40, *range(12), 0.98, "r" * 32)])
    lines = format_result(wide, "table").splitlines()
    assert max(len(line) for line in lines) <= 120
    assert lines[0].split()[:3] == ["id", "test_accuracy", "arch.layer0"]
    footer = " ".join(lines[lines.index(next(line for line in lines if line.startswith("(1 row; "))):])
    assert "lineage.mlflow_run_id" in footer and "--columns" in footer
    assert format_result(wide, "table", width=None).splitlines()[0].split() == wide.columns
    chosen = wide.select(["test_accuracy", "id"])
    assert chosen.columns == ["test_accuracy", "id"] and chosen.rows == [(0.98, 1)]
    with pytest.raises(QueryError, match=r"no column 'nope' in this result; columns: id, created_at"):
        wide.select(["nope"])


def test_table_is_aligned_plain_text() -> None:
    lines = format_result(RESULT, "table").splitlines()
    assert lines[0].split() == ["id", "task", "test_accuracy", "input_shape", "ok", "created_at"]  # most useful first
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].startswith(" 1  digits")  # numbers right-aligned, text left-aligned
    assert "0.973457" in lines[2] and "[1,8,8]" in lines[2] and "2026-01-02T03:04:05+00:00" in lines[2]
    assert "a much longer task name that goes on an…" in lines[3]  # long cells are cut
    assert lines[-1] == "(3 rows)"
    assert lines[0].index("task") == lines[2].index("digits") == lines[1].index("  -") + 2


def test_json_is_an_array_of_objects() -> None:
    rows = json.loads(format_result(RESULT, "json"))
    assert rows[0] == {
        "id": 1,
        "task": "digits",
        "test_accuracy": 0.973456789,
        "input_shape": [1, 8, 8],
        "created_at": "2026-01-02T03:04:05+00:00",
        "ok": True,
    }
    assert rows[2]["test_accuracy"] is None  # NaN is not JSON


def test_csv_has_a_header_and_full_precision() -> None:
    rows = list(csv.reader(io.StringIO(format_result(RESULT, "csv"))))
    assert rows[0] == RESULT.columns
    assert rows[1] == ["1", "digits", "0.973456789", "[1,8,8]", "2026-01-02T03:04:05+00:00", "true"]
    assert rows[2][2:] == ["", "", "", "false"]


def test_empty_result() -> None:
    empty = QueryResult(["id"], [])
    assert format_result(empty, "table").splitlines()[-1] == "(0 rows)"
    assert format_result(empty, "json") == "[]"
    assert format_result(empty, "csv") == "id\n"
    assert empty.to_dataframe().empty


def test_dataframe_and_columns() -> None:
    frame = RESULT.to_dataframe()
    assert list(frame.columns) == RESULT.columns and len(frame) == 3
    assert RESULT.column("task")[0] == "digits"
    with pytest.raises(QueryError, match=r"no column 'nope' in this result; columns: id, task"):
        RESULT.column("nope")


def test_unknown_format() -> None:
    with pytest.raises(QueryError, match=r"unknown output format 'xml'; use one of table, json, csv"):
        format_result(RESULT, "xml")
