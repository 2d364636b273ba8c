"""Candidate default samplers for nasflow, tried on NAS-Bench-201 under nasflow's rules (not run by default).

``python -m benchmarks --only nb201-proposals`` compares them with the same seeds as part 1. None of them is
wired into ``nas.study.make_sampler``; the README and the benchmark report say what each one reached.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import TrialState

from benchmarks.nb201_baselines import search_ask_tell
from benchmarks.nb201_search import SearchLog


class BestFirstSampler(BaseSampler):
    """Best-first local search over categorical spaces: after ``n_startup`` random trials, propose an untried
    neighbour (one dimension changed) of the best trial that still has one, the neighbour a ridge model on
    one-hot features ranks highest. Other spaces are left to the independent (random) sampler."""

    def __init__(self, seed: int | None = None, n_startup: int = 5, ridge: float = 1.0) -> None:
        self.rng, self.n_startup, self.ridge = random.Random(seed), n_startup, ridge
        self.independent = RandomSampler(seed=seed)

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        space = optuna.search_space.intersection_search_space(study.get_trials(deepcopy=False))
        return space if space and all(isinstance(d, CategoricalDistribution) for d in space.values()) else {}

    def sample_relative(self, study: Any, trial: Any, space: dict[str, Any]) -> dict[str, Any]:
        if not space:
            return {}
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if set(t.params) >= set(space)]
        tried = {tuple(t.params[k] for k in sorted(space)) for t in study.get_trials(deepcopy=False) if t.params}
        if len(tried) < self.n_startup:
            return {}
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        names = sorted(space)
        for parent in sorted(done, key=lambda t: -sign * t.value):
            options = []
            for name in names:
                for choice in space[name].choices:
                    child = {**{k: parent.params[k] for k in names}, name: choice}
                    if choice != parent.params[name] and tuple(child[k] for k in names) not in tried:
                        options.append(child)
            if options:
                self.rng.shuffle(options)
                return max(options, key=self._model(done, space, names, sign))
        return {}

    def _model(self, done: list[Any], space: dict[str, Any], names: list[str], sign: float) -> Any:
        columns = [(n, c) for n in names for c in space[n].choices]

        def features(params: dict[str, Any]) -> np.ndarray:
            return np.array([float(params[n] == c) for n, c in columns])

        x = np.array([features(t.params) for t in done])
        y = sign * np.array([t.value for t in done])
        w = np.linalg.solve(x.T @ x + self.ridge * np.eye(len(columns)), x.T @ (y - y.mean()))
        return lambda params: float(features(params) @ w)

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        return self.independent.sample_independent(study, trial, name, dist)


def best_first(seed: int, budget: int, signal: str = "cifar10") -> SearchLog:
    """:class:`BestFirstSampler` under nasflow's rules."""
    return search_ask_tell(lambda s: BestFirstSampler(seed=s), seed, budget, signal)


def gp(seed: int, budget: int, signal: str = "cifar10") -> SearchLog:
    """Optuna's GPSampler (categorical-aware) under nasflow's rules."""
    return search_ask_tell(lambda s: optuna.samplers.GPSampler(seed=s), seed, budget, signal, max_trials=3 * budget)


def tpe_startup5(seed: int, budget: int, signal: str = "cifar10") -> SearchLog:
    """nasflow's TPE (multivariate) with 5 instead of 10 random start-up trials."""
    return search_ask_tell(lambda s: optuna.samplers.TPESampler(seed=s, multivariate=True, n_startup_trials=5),
                           seed, budget, signal)


PROPOSALS = {"proposal: best-first local search": best_first, "proposal: GPSampler": gp,
             "proposal: TPE n_startup_trials=5": tpe_startup5}
