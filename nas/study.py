"""Optuna studies: samplers, pruners, storages and the total trial budget across restarts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.errors import SearchError

SAMPLERS = ("tpe", "random", "gp", "cmaes")
PRUNERS = ("median", "hyperband", "successive_halving", "none")
COUNTED_STATES = ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class SearchSettings:
    """How to search: budget, sampler, pruner, storage and the metric to maximize."""

    n_trials: int = 20
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    storage: str | None = None
    study_name: str = "nasflow"
    metric: str = "val_accuracy"


def make_sampler(name: str, seed: int) -> Any:
    """The seeded Optuna sampler called ``name``."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise SearchError(f"unknown sampler '{name}'; use one of {', '.join(SAMPLERS)} (search.sampler=...)")


def make_pruner(name: str) -> Any:
    """The Optuna pruner called ``name`` (per-epoch validation metric)."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SearchError(f"unknown pruner '{name}'; use one of {', '.join(PRUNERS)} (search.pruner=...)")


def open_study(settings: SearchSettings) -> Any:
    """Create the study, or load it if it exists in ``settings.storage`` (resume)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(
            study_name=settings.study_name,
            storage=settings.storage,
            sampler=make_sampler(settings.sampler, settings.seed),
            pruner=make_pruner(settings.pruner),
            direction="maximize",
            load_if_exists=True,
        )
    except SearchError:
        raise
    except Exception as exc:
        raise SearchError(
            f"cannot open study '{settings.study_name}' in storage '{settings.storage}': {exc}; "
            "check search.storage (a sqlite:///path, a journal file or a postgresql:// URL)"
        ) from None


def counted_trials(study: Any) -> int:
    """Trials that count toward the budget: completed or pruned ones, from every run of the study."""
    from optuna.trial import TrialState

    states = tuple(getattr(TrialState, s) for s in COUNTED_STATES)
    return len(study.get_trials(deepcopy=False, states=states))
