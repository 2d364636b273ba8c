"""The kb_query benchmark runs (on a small knowledge base here; the real figure uses 100,000 records)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "kb_query.py"


def test_benchmark_reports_latencies() -> None:
    spec = importlib.util.spec_from_file_location("kb_query", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.run(n_records=300, repeats=3)
    assert figures["n_records"] == 300
    assert figures["query_rows"] <= 10
    assert figures["query_median_ms"] > 0 and figures["record_ms"] > 0
