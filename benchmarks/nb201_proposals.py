"""Other nasflow samplers on NAS-Bench-201 beside the default (not run by default).

``python -m benchmarks --only nb201-proposals`` runs them with the same seeds as part 1, through the same
``run_search`` path with fingerprint reuse. What was tried before ``local`` became the default, and what it
reached, is in ``benchmarks/README.md``.
"""

from __future__ import annotations

from benchmarks.nb201_search import SearchLog, search_nasflow


def tpe_multivariate(seed: int, budget: int, signal: str = "cifar10") -> SearchLog:
    """``search.sampler=tpe``: multivariate TPE, the default before ``local``."""
    return search_nasflow(seed, budget, signal, sampler="tpe")


PROPOSALS = {"proposal: sampler tpe (previous default)": tpe_multivariate}
