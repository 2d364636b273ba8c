"""Pick the configuration to retrain: the best feasible trial, or the Pareto front filtered by a declared rule."""

from __future__ import annotations

from typing import Any

from nas.constraints import COST_ATTR
from nas.errors import SearchError
from nas.study import SearchSettings


def _feasible(trial: Any) -> bool:
    return all(value <= 0 for value in trial.constraints.values())


def pareto_front(study: Any) -> list[Any]:
    """The study's Pareto-optimal feasible completed trials (the best trial for a single objective)."""
    return [t for t in study.best_trials if _feasible(t)]


def select_trial(study: Any, settings: SearchSettings) -> Any:
    """The trial to retrain: best metric among feasible (Pareto-front) trials that meet ``settings.select``."""
    from optuna.trial import TrialState

    if settings.multi_objective:
        candidates = pareto_front(study)
    else:
        candidates = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if _feasible(t)]
    if not candidates:
        raise SearchError(
            f"study '{study.study_name}' has no completed feasible trial; run 'nasflow search' first, "
            "raise search.n_trials or relax search.constraints"
        )
    allowed = [t for t in candidates if not settings.select.violations(t.user_attrs.get(COST_ATTR, {}))]
    if not allowed:
        rule = ", ".join(f"{k} {v:g}" for k, v in settings.select.active().items())
        raise SearchError(f"no trial of study '{study.study_name}' meets search.select ({rule}); relax the rule")
    maximize = settings.directions[0] == "maximize"
    return (max if maximize else min)(allowed, key=lambda t: t.values[0])


def trial_by_number(study: Any, number: int) -> Any:
    """Trial ``number`` of ``study``; a :class:`SearchError` naming the trials there if it has none of that number."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number in trials:
        return trials[number]
    there = f"pick one of {min(trials)}..{max(trials)}" if trials else "it has no trials; run 'nasflow search' first"
    raise SearchError(f"study '{study.study_name}' has no trial {number}; {there}")


def best_params(study: Any, settings: SearchSettings | None = None) -> dict[str, Any]:
    """The parameters of the selected trial (see :func:`select_trial`)."""
    return dict(select_trial(study, settings or SearchSettings(study_name=study.study_name)).params)


def pruning_report(study: Any, epochs: int) -> dict[str, int]:
    """How many trials were pruned (by the pruner, constraints or duplicates) and how many epochs that saved."""
    from optuna.trial import TrialState

    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    saved = sum(epochs - len(t.intermediate_values) for t in pruned)
    reused = sum(1 for t in study.get_trials(deepcopy=False) if "reused_from" in t.user_attrs)
    return {"pruned": len(pruned), "epochs_saved": saved, "reused": reused,
            "infeasible": sum(1 for t in pruned if "constraint_violation" in t.user_attrs)}
