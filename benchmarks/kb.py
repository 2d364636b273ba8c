"""Part 6: the knowledge base. Query latency at 100,000 records, the warm-start gain on NAS-Bench-201, and
whether task similarity ranks a digits variant above an unrelated tabular task.

Warm start: nasflow searches on CIFAR-10 (the lookup standing in for training) are recorded in a temporary
knowledge base by ``KnowledgeBaseObserver``; a search on CIFAR-100 or ImageNet16-120 (their 12-epoch validation
columns) then starts from ``KnowledgeBase.warm_start`` (the top configurations of the most similar past task)
or cold. Per seed: how many evaluations the cold search needed to reach its final best, and how many the warm
one needed to reach that same value.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.kb_query import run as query_benchmark
from benchmarks.nb201_search import search_nasflow
from benchmarks.parallel import parallel_map
from benchmarks.table import Figure, PartResult

QUERY_TARGET_MS, WARM_TARGET = 20.0, 1 / 3
MODEL = "nb201_cell"
NB201_TASKS = {
    "cifar10": {"n_samples": 50000, "input_shape": [3, 32, 32], "n_classes": 10},
    "cifar100": {"n_samples": 50000, "input_shape": [3, 32, 32], "n_classes": 100},
    "imagenet16_120": {"n_samples": 151700, "input_shape": [3, 16, 16], "n_classes": 120},
}
TARGETS = ("cifar100", "imagenet16_120")


def nb201_task(name: str) -> Any:
    """The knowledge-base task of one NAS-Bench-201 data set."""
    from knowledge_base import TaskRecord

    meta = {"task_type": "classification", "modality": "image", "class_balance": 1.0, **NB201_TASKS[name]}
    return TaskRecord(f"nb201-{name}", f"nb201-{name}", meta)


def record_sources(kb: Any, seeds: int, budget: int) -> int:
    """CIFAR-10 searches recorded trial by trial into ``kb``; returns the number of evaluations made."""
    from workflows.kb_records import KnowledgeBaseObserver

    made = 0
    for seed in range(seeds):
        observer = KnowledgeBaseObserver(kb, nb201_task("cifar10"), MODEL, {"epochs": 12},
                                         {"study_name": f"nb201-cifar10-{seed}"})
        made += len(search_nasflow(100 + seed, budget, "cifar10", observer=observer).evaluations)
    return made


def evaluations_to_reach(values: list[float], level: float) -> int | None:
    """1-based index of the first value ≥ ``level`` (None if never)."""
    return next((i + 1 for i, v in enumerate(values) if v >= level), None)


def _pair(signal: str, seed: int, budget: int, warm: list[dict[str, Any]]) -> dict[str, Any]:
    cold = [e.val for e in search_nasflow(seed, budget, signal).evaluations]
    warmed = [e.val for e in search_nasflow(seed, budget, signal, warm_start=warm).evaluations]
    best = max(cold)
    return {"seed": seed, "cold_best": best, "cold_n": evaluations_to_reach(cold, best),
            "warm_n": evaluations_to_reach(warmed, best), "warm_best": max(warmed)}


def warm_start_gain(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    """Cold against warm-started searches on each target task, over seeds."""
    from knowledge_base import KnowledgeBase

    seeds, budget, sources = (1, 10, 1) if quick else (10, 100, 3)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(f"sqlite:///{Path(tmp) / 'kb.db'}")
        recorded = record_sources(kb, sources, budget)
        starts = {t: kb.warm_start(nb201_task(t).meta, MODEL, k=5, exclude_hash=nb201_task(t).content_hash)
                  for t in TARGETS}
        kb.close()
    jobs = [(t, s, budget, [w.params for w in starts[t]]) for t in TARGETS for s in range(seeds)]
    rows = parallel_map(_pair, jobs, 1 if quick else None)
    figures, details = [], {"seeds": seeds, "budget": budget, "source_evaluations": recorded,
                            "warm_start_from": {t: [(w.task, round(w.distance, 3), w.value) for w in starts[t]]
                                                for t in TARGETS}}
    for i, target in enumerate(TARGETS):
        mine = rows[i * seeds : (i + 1) * seeds]
        missed = sum(r["warm_n"] is None for r in mine)
        warm = statistics.fmean(r["warm_n"] or budget for r in mine)
        cold = statistics.fmean(r["cold_n"] for r in mine)
        figures.append(Figure(
            f"warm start from CIFAR-10: evals to cold's best on {target}", warm, "evals", baseline=cold,
            baseline_name="cold start", target=WARM_TARGET, target_on="ratio", higher_is_better=False, decimals=1,
            note=f"{seeds} seeds, budget {budget}; {missed} warm searches never reached it (counted as {budget}); "
                 f"KB holds {recorded} CIFAR-10 evaluations from {sources} search(es)"))
        details[target] = mine
    return figures, details


def similarity(folder: Path) -> tuple[Figure, dict[str, Any]]:
    """Digits, a noisy subset of digits (.npz) and breast-cancer (CSV) as data folders; rank them from digits."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer, load_digits

    from knowledge_base import EvaluationRecord, KnowledgeBase
    from nas.data import export_digits, load_data_folder
    from workflows.kb_records import task_record

    rng = np.random.default_rng(0)
    digits = load_digits()
    keep = rng.permutation(len(digits.target))[:1500]
    noisy = np.clip(digits.images[keep] / 16 + rng.normal(0, 0.1, (len(keep), 8, 8)), 0, 1).astype(np.float32)
    (folder / "digits_noisy").mkdir(parents=True)
    np.savez(folder / "digits_noisy" / "data.npz", x=noisy[:, None], y=digits.target[keep])
    cancer = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "label"})
    (folder / "breast_cancer").mkdir()
    cancer.to_csv(folder / "breast_cancer" / "data.csv", index=False)
    sets = {name: load_data_folder(path, name=name) for name, path in
            (("digits", export_digits(folder / "digits")), ("digits_noisy", folder / "digits_noisy"),
             ("breast_cancer", folder / "breast_cancer"))}
    kb = KnowledgeBase(f"sqlite:///{folder / 'similar.db'}")
    for data in sets.values():
        kb.record(EvaluationRecord(task=task_record(data), kind="trial", state="complete", model_name="any",
                                   params={}, metrics={"val_accuracy": 0.5}))
    ranked = [(task.name, distance) for task, distance in kb.similar_tasks("digits", k=5)]
    kb.close()
    distance = dict(ranked)
    figure = Figure("kb similar_tasks(digits): distance to digits variant vs tabular", distance["digits_noisy"],
                    baseline=distance["breast_cancer"], baseline_name="breast_cancer", target=1.0,
                    target_on="ratio", higher_is_better=False, decimals=3,
                    note="ranking: " + ", ".join(f"{n} {d:.3f}" for n, d in ranked))
    return figure, {"ranking": ranked}


def run(quick: bool = False) -> PartResult:
    """Query latency, warm-start gain and task similarity."""
    query = query_benchmark(1_000 if quick else 100_000, repeats=3 if quick else 25)
    figures = [Figure(f"kb indexed query at {query['n_records']:,} records", query["query_median_ms"], "ms",
                      target=QUERY_TARGET_MS, higher_is_better=False, decimals=1,
                      note=f"median of repeats; record() {query['record_ms']:.1f} ms per trial at that size")]
    warm_figures, warm = warm_start_gain(quick)
    with tempfile.TemporaryDirectory() as tmp:
        similar, ranking = similarity(Path(tmp))
    return PartResult("kb", [*figures, *warm_figures, similar], {"query": query, "warm_start": warm, **ranking})
