"""Part 1: NAS-Bench-201 search quality, nasflow's default search against three baselines in the same run.

Protocol (``../shared/benchmarks/nb201/README.md``): search on the CIFAR-10 12-epoch validation accuracy,
report the 200-epoch test accuracy of the best-validation cell seen after 25, 50 and 100 evaluations, mean ±
std over seeds. Only evaluations actually made count: a cell nasflow's fingerprint knows is reused for free.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks.nb201_baselines import optuna_tpe, random_search, regularized_evolution
from benchmarks.nb201_proposals import PROPOSALS
from benchmarks.nb201_search import SearchLog, search_nasflow
from benchmarks.nb201_table import DEFAULT_TABLE_DIR, TABLE_DIR
from benchmarks.parallel import parallel_map
from benchmarks.table import Figure, PartResult

BUDGETS = (25, 50, 100)
# The targets and the notes about particular cells hold for the CIFAR-10 tables only: a table of another task swapped
# in through NASFLOW_NB201_DIR gets neither.
TARGETS = {50: 94.20, 100: 94.30}


def search_nasflow_without_proxy(seed: int, budget: int) -> SearchLog:
    """nasflow's default search with ``search.proxy=none``: what the training-free score adds, same run."""
    return search_nasflow(seed, budget, proxy="none")


METHODS: dict[str, Callable[..., SearchLog]] = {
    "nasflow": search_nasflow,
    "nasflow, search.proxy=none": search_nasflow_without_proxy,
    "Optuna TPE": optuna_tpe,
    "REA": regularized_evolution,
    "random": random_search,
}


def picks(log: SearchLog, budgets: tuple[int, ...] = BUDGETS) -> list[float]:
    """The score of each budget ``b``: the mean test accuracy of all cells tied at the best validation value among
    the first ``b`` evaluations (the expected value of a random tie-break, so the order in which a method meets
    tied cells cannot decide its score)."""
    out = []
    for b in budgets:
        seen = log.evaluations[:b]
        if not seen:
            out.append(float("nan"))
            continue
        best = max(e.val for e in seen)
        tied = {e.arch: e.test for e in seen if e.val == best}  # each cell once, however often it was met
        out.append(statistics.fmean(tied.values()))
    return out


def cifar10_table() -> bool:
    """Whether the table searched is the CIFAR-10 one the targets and notes were written for."""
    return TABLE_DIR.resolve() == DEFAULT_TABLE_DIR.resolve()


def _run(method: str, seed: int, budgets: tuple[int, ...]) -> tuple[str, int, list[float], int, int]:
    log = {**METHODS, **PROPOSALS}[method](seed, budgets[-1])
    return method, seed, picks(log, budgets), len(log.evaluations), log.trials


def summarize(rows: list[tuple[str, int, list[float], int, int]], budgets: tuple[int, ...]) -> dict[str, Any]:
    """Per method: mean and std of the pick at each budget, evaluations and trials per search."""
    out: dict[str, Any] = {}
    for method in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == method]
        per_budget = list(zip(*[r[2] for r in mine]))
        out[method] = {
            "seeds": len(mine),
            **{f"at_{b}": {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0}
               for b, v in zip(budgets, per_budget)},
            "evaluations_mean": statistics.fmean(r[3] for r in mine),
            "trials_mean": statistics.fmean(r[4] for r in mine),
        }
    return out


def run(quick: bool = False, seeds: int | None = None, methods: tuple[str, ...] = tuple(METHODS)) -> PartResult:
    """Every method over ``seeds`` seeds (30, or 2 in quick mode) with a budget of 100 (10 in quick mode)."""
    n_seeds = seeds or (2 if quick else 30)
    budgets = (5, 10, 20) if quick else BUDGETS
    rows = parallel_map(_run, [(m, s, budgets) for m in methods for s in range(n_seeds)], 1 if quick else None)
    summary = summarize(rows, budgets)
    figures = []
    base = summary.get("Optuna TPE")
    for method in methods:
        if method == "Optuna TPE" and "nasflow" in methods:
            continue
        for budget in budgets:
            if method in ("nasflow, search.proxy=none", "REA", "random") and budget == budgets[0]:
                continue
            stats = summary[method][f"at_{budget}"]
            own = cifar10_table()
            target = TARGETS.get(budget) if own and (method == "nasflow" or method.startswith("proposal")) else None
            figures.append(Figure(
                f"NB201 test acc @{budget} evals: {method}", stats["mean"], "%", stats["std"],
                base[f"at_{budget}"]["mean"] if base and method != "Optuna TPE" else None, "Optuna TPE", target,
                note=_note(method, summary[method], n_seeds) if budget == budgets[-1] else ""))
    return PartResult("nb201", figures, {"seeds": n_seeds, "budgets": budgets, "summary": summary})


def _note(method: str, stats: dict[str, Any], n_seeds: int) -> str:
    trials = f"{stats['trials_mean']:.0f} trials for {stats['evaluations_mean']:.0f} evaluations"
    if method == "nasflow" and cifar10_table():
        return (f"{n_seeds} seeds, sampler 'local' with search.proxy=synflow (the defaults: SynFlow of each built "
                f"candidate cell, no training, helps rank neighbours as far as it agrees with the evaluations), "
                f"fingerprint reuse; first trial a seeded random cell, not the model file's default (the table's #2 "
                f"cell, test 94.36: with it every budget scores >= 94.36); {trials}")
    return f"{n_seeds} seeds; {trials}"
