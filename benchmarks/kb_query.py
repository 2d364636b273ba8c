"""Benchmark: an indexed filter query over many evaluation records in a temporary SQLite knowledge base.

python benchmarks/kb_query.py [n_records]     # default 100000; prints the figures as JSON
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge_base import EvaluationRecord, KnowledgeBase, TaskRecord

QUERY = "task = 'digits' and val_accuracy >= 0.99 and arch.conv1.out_channels >= 32 order by val_accuracy desc limit 10"
TASKS = [
    TaskRecord(
        "digits", "d1", {"n_samples": 1797, "input_shape": [1, 8, 8], "n_classes": 10, "task_type": "classification"}
    ),
    TaskRecord("digits_noisy", "d2", {"n_samples": 1797, "input_shape": [1, 8, 8], "n_classes": 10}),
    TaskRecord("breast_cancer", "b1", {"n_samples": 569, "input_shape": [30], "n_classes": 2}),
]


def _record(rng: random.Random, i: int) -> EvaluationRecord:
    channels = rng.choice([8, 16, 32, 64])
    return EvaluationRecord(
        task=TASKS[i % len(TASKS)],
        kind="trial",
        state=rng.choice(["complete"] * 8 + ["pruned", "failed"]),
        model_name="digits_cnn",
        params={
            "conv1.out_channels": channels,
            "dropout": round(rng.random() / 2, 3),
            "activation": rng.choice(["relu", "gelu"]),
        },
        fingerprint=f"fp{i}",
        cost={
            "params": channels * 1000 + rng.randrange(1000),
            "flops": channels * 50_000,
            "latency_ms": rng.random(),
            "device": "cpu",
        },
        metrics={"val_accuracy": rng.random(), "val_loss": rng.random()},
        settings={"epochs": 5, "batch_size": 64, "lr": 0.001, "optimizer": "adam", "seed": i},
        wall_time_s=rng.random() * 5,
        lineage={"study_name": "bench", "trial_number": i},
    )


def _record_ms(kb: KnowledgeBase, rng: random.Random, first: int, n: int = 100) -> float:
    """Mean milliseconds of one kb.record() call (a trial as a search records it), after 10 warm-up calls."""
    records = [_record(rng, first + i) for i in range(n + 10)]
    for record in records[:10]:
        kb.record(record)
    records = records[10:]
    start = time.perf_counter()
    for record in records:
        kb.record(record)
    return (time.perf_counter() - start) / n * 1000


def run(n_records: int = 100_000, repeats: int = 25, seed: int = 0) -> dict:
    """Build `n_records` evaluations in a temporary SQLite KB; time record() and the indexed filter query."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        small = KnowledgeBase(f"sqlite:///{folder}/small.db")
        record_ms_small = _record_ms(small, rng, 0)
        small.close()
        kb = KnowledgeBase(f"sqlite:///{folder}/kb.db")
        start = time.perf_counter()
        batch = 5000
        for first in range(0, n_records, batch):
            kb.record_many([_record(rng, i) for i in range(first, min(first + batch, n_records))])
        build_s = time.perf_counter() - start
        record_ms = _record_ms(kb, rng, n_records)
        timings, rows = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            rows = len(kb.query(QUERY))
            timings.append((time.perf_counter() - start) * 1000)
        kb.close()
    return {
        "n_records": n_records,
        "build_s": round(build_s, 2),
        "record_many_ms_per_record": round(build_s / max(n_records, 1) * 1000, 3),
        "record_ms_empty_kb": round(record_ms_small, 3),
        "record_ms": round(record_ms, 3),
        "query": QUERY,
        "query_rows": rows,
        "query_median_ms": round(statistics.median(timings), 2),
        "query_min_ms": round(min(timings), 2),
        "query_target_ms": 20,
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
