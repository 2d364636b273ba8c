"""nasflow's default sampler: a seeded random start, then best-first local search with restarts.

Architecture spaces are rugged but local: their best configurations tend to be one edit apart (White et al.,
"Local search is state of the art for neural architecture search benchmarks", 2020). After ``n_random``
uniform samples, :class:`LocalSearchSampler` proposes an untried neighbour of the best completed trial that
is still a candidate local optimum, i.e. no completed neighbour of it did as well. A neighbour changes one
discrete dimension: a categorical one to another choice, an integer range of at most ``FEW_VALUES`` values
to an adjacent value. Among the trial's untried neighbours it takes the one a Parzen density ratio ranks
highest (TPE's acquisition, one factor per dimension: the top ``gamma`` share of completed trials against
the rest). Continuous dimensions (floats, wide or log integer ranges) of a local proposal are drawn as
multivariate TPE draws them (:mod:`nas.parzen`): ``EI_CANDIDATES`` points around the good trials or from the
prior, the one with the highest density ratio kept.

Once every neighbour of the incumbent is tried without improvement, the next best undominated trial (one of
the random start, or the top of a climb of its own) is expanded, so a search stuck on a local optimum restarts
from elsewhere; when there is none, the same Parzen proposal over every dimension gives a new start, else
an untried neighbour of any trial is taken.

A training-free score of each configuration's model (``score``, see :mod:`nas.proxy`), when given, joins the
density ratio in ranking neighbours, weighted by how well it agrees with the evaluated trials: ``SCORE_WEIGHT``
times the Spearman correlation of score and value over the completed trials, standardized over the candidates.
A score that disagrees with the trials (or is noise) gets no weight; one that agrees steers the climb toward the
neighbours it ranks high. It never decides which trial is best: only evaluated values do.

A configuration already tried (completed, pruned, failed, or running in another worker) is never proposed
again while an untried neighbour of a tried one exists (in a finite space: until every configuration was
tried), so no trial of the budget is spent on a duplicate. Multi-objective studies are handed to TPE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas.parzen import ParzenSpace, from_unit, to_unit

FEW_VALUES = 16  # integer dimensions with at most this many values move to the adjacent values
EI_CANDIDATES = 24  # candidates per Parzen proposal (as Optuna's TPE)
SCORE_WEIGHT = 16.0  # log density-ratio units per standard deviation of the score, at full agreement
MIN_SCORED = 5  # completed trials with a score needed before the score's agreement is trusted
Key = tuple[Any, ...]
Score = Callable[[dict[str, Any]], "float | None"]


class LocalSearchSampler(BaseSampler):
    """Random start, then best-first local search over untried one-dimension neighbours (single objective).

    ``n_random`` is the number of trials (the study's enqueued first trials included) sampled uniformly
    among untried configurations; ``gamma`` the share of completed trials forming the "good" density that
    ranks neighbours; ``score`` an optional training-free score of a full configuration (higher = expected
    better; None = unknown) that helps rank neighbours as far as it agrees with the evaluated trials.
    """

    def __init__(self, seed: int | None = None, n_random: int = 10, gamma: float = 0.15,
                 score: Score | None = None) -> None:
        self._rng = np.random.RandomState(seed)
        self._tpe = TPESampler(seed=seed, multivariate=True)  # Pareto searches and conditional dimensions
        self._space = IntersectionSearchSpace(include_pruned=True)
        self.n_random, self.gamma, self.score = n_random, gamma, score

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._tpe.reseed_rng()

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if len(study.directions) > 1:
            return self._tpe.infer_relative_search_space(study, trial)
        return {name: dist for name, dist in self._space.calculate(study).items() if not dist.single()}

    def sample_relative(
        self, study: Any, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:
            return self._tpe.sample_relative(study, trial, search_space)
        if not search_space:
            return {}
        names = sorted(search_space)
        others = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and all(n in t.params for n in names)
        ]
        tried = {_key(t.params, names, search_space) for t in others}
        complete = [t for t in others if t.state == TrialState.COMPLETE]
        if len(others) >= self.n_random and complete:
            sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
            ranked = sorted(complete, key=lambda t: (-sign * t.value, t.number))
            discrete = [n for n in names if _is_discrete(search_space[n])]
            weight = self._score_weight(ranked, sign) if discrete else 0.0
            for undominated in (True, False):
                proposal = self._local(discrete, search_space, others, ranked, undominated, weight) if discrete else {}
                if proposal:
                    rest = [n for n in names if n not in proposal]
                    return {**proposal, **self._parzen(rest, search_space, ranked)}
                proposal = self._parzen(names, search_space, ranked, exclude=tried) if undominated else {}
                if proposal:
                    return proposal
        return self._untried_random(names, search_space, tried)

    def sample_independent(
        self, study: Any, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        self._tpe.before_trial(study, trial)

    def after_trial(self, study: Any, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._tpe.after_trial(study, trial, state, values)

    def _untried_random(self, names: list[str], space: dict[str, BaseDistribution], tried: set[Key]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for _ in range(100):
            params = {n: _uniform(space[n], self._rng) for n in names}
            if _key(params, names, space) not in tried:
                break
        return params

    def _local(
        self,
        names: list[str],
        space: dict[str, BaseDistribution],
        others: list[FrozenTrial],
        ranked: list[FrozenTrial],
        undominated: bool,
        weight: float,
    ) -> dict[str, Any]:
        """The best-ranked untried neighbour, over the discrete dimensions ``names``, of the best (undominated)
        of the completed trials ``ranked`` (best first) that has one ({} if none has); ``weight`` is the
        training-free score's weight in the ranking."""
        tried = {_key(t.params, names, space) for t in others}
        keys = [_key(t.params, names, space) for t in ranked]
        ratio = self._density_ratio(names, space, ranked)
        for i, parent in enumerate(ranked):
            if undominated and any(sum(a != b for a, b in zip(keys[i], keys[j])) == 1 for j in range(i)):
                continue  # a neighbour did at least as well: not a local optimum, its climb went on from there
            options = [
                child
                for name in names
                for value in _moves(space[name], parent.params[name])
                if _key(child := {**{n: parent.params[n] for n in names}, name: value}, names, space) not in tried
            ]
            if options:
                scores = np.array([ratio(child) for child in options]) + 1e-9 * self._rng.uniform(size=len(options))
                if weight and self.score is not None:
                    scores += weight * _standardized([self.score({**parent.params, **child}) for child in options])
                return options[int(np.argmax(scores))]
        return {}

    def _score_weight(self, ranked: list[FrozenTrial], sign: float) -> float:
        """The training-free score's weight: ``SCORE_WEIGHT`` times its rank correlation with the completed
        trials' values (oriented so that better is higher), 0 when it disagrees or too few trials have one."""
        if self.score is None:
            return 0.0
        pairs = [(s, sign * cast(float, t.value)) for t in ranked if (s := self.score(t.params)) is not None]
        if len(pairs) < MIN_SCORED:
            return 0.0
        return SCORE_WEIGHT * max(0.0, _spearman(*map(np.array, zip(*pairs))))

    def _split(self, ranked: list[FrozenTrial]) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        """The top ``gamma`` share of the completed trials (at least one) and the rest."""
        n_good = max(1, math.ceil(self.gamma * len(ranked)))
        return ranked[:n_good], ranked[n_good:]

    def _parzen(
        self,
        names: list[str],
        space: dict[str, BaseDistribution],
        ranked: list[FrozenTrial],
        exclude: set[Key] | None = None,
    ) -> dict[str, Any]:
        """Values of the dimensions ``names`` by multivariate TPE's proposal (best l(x) / g(x) of candidates
        drawn from l), outside the configurations ``exclude`` ({} if ten rounds of candidates found none)."""
        if not names:
            return {}
        encoding = ParzenSpace(names, space)
        good, bad = (encoding.encode(t.params for t in trials) for trials in self._split(ranked))
        for _ in range(10 if exclude else 1):
            for row in encoding.candidates(self._rng, good, bad, EI_CANDIDATES):
                params = encoding.decode(row)
                if not exclude or _key(params, names, space) not in exclude:
                    return params
        return {}

    def _density_ratio(
        self, names: list[str], space: dict[str, BaseDistribution], ranked: list[FrozenTrial]
    ) -> Callable[[dict[str, Any]], float]:
        """log l(x) - log g(x), one Parzen factor per dimension: l over the top ``gamma`` trials, g the rest."""
        good, bad = self._split(ranked)
        # name -> its encoding and the good and bad trials' points, encoded once per proposal
        numeric: dict[str, tuple[ParzenSpace, np.ndarray, np.ndarray]] = {}
        for name in names:
            if not isinstance(space[name], CategoricalDistribution):
                encoding = ParzenSpace([name], space)  # Gaussian kernels plus a wide prior kernel at the centre
                good_points, bad_points = (encoding.encode(t.params for t in trials) for trials in (good, bad))
                numeric[name] = (encoding, good_points, bad_points)

        def frequency(trials: list[FrozenTrial], name: str, value: Any) -> float:
            """Log frequency of ``value`` among the trials, with one uniform prior observation."""
            count = sum(1 for t in trials if t.params[name] == value)
            choices = cast(CategoricalDistribution, space[name]).choices
            return math.log((count + 1.0 / len(choices)) / (len(trials) + 1.0))

        def log_ratio(name: str, value: Any) -> float:
            if name not in numeric:
                return frequency(good, name, value) - frequency(bad, name, value)
            encoding, good_points, bad_points = numeric[name]
            at = encoding.encode([{name: value}])
            return float(encoding.log_density(at, good_points)[0] - encoding.log_density(at, bad_points)[0])

        def score(params: dict[str, Any]) -> float:
            return sum(log_ratio(n, params[n]) for n in names)

        return score


def _is_discrete(dist: BaseDistribution) -> bool:
    """Whether local search moves this dimension: choices, and linear integer ranges of few values."""
    return isinstance(dist, CategoricalDistribution) or (
        isinstance(dist, IntDistribution) and not dist.log and (dist.high - dist.low) // dist.step + 1 <= FEW_VALUES
    )


def _moves(dist: BaseDistribution, value: Any) -> list[Any]:
    """The values a neighbour may take in a discrete dimension: every other choice, or the adjacent integers."""
    if isinstance(dist, CategoricalDistribution):
        return [c for c in dist.choices if c != value]
    ints = cast(IntDistribution, dist)  # the other discrete dimensions (_is_discrete)
    return [v for v in (value - ints.step, value + ints.step) if ints.low <= v <= ints.high]


def _uniform(dist: BaseDistribution, rng: np.random.RandomState) -> Any:
    """A uniform sample (every value of a linear integer range equally likely; log ranges uniform in the log)."""
    if isinstance(dist, IntDistribution) and not dist.log:
        return int(dist.low + dist.step * rng.randint((dist.high - dist.low) // dist.step + 1))
    return from_unit(dist, rng.uniform())


def _standardized(values: list[float | None]) -> np.ndarray:
    """``values`` as z-scores (an unknown value at the mean; all zero when they do not vary)."""
    known = np.array([v for v in values if v is not None])
    if known.size < 2 or not known.std() > 0:
        return np.zeros(len(values))
    return np.array([(v - known.mean()) / known.std() if v is not None else 0.0 for v in values])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties share their average rank); 0 when either side is constant."""
    ra, rb = _ranks(a), _ranks(b)
    if not (ra.std() > 0 and rb.std() > 0):
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 0, equal values sharing the mean of their ranks."""
    positions = np.empty(len(values))
    positions[np.argsort(values, kind="stable")] = np.arange(len(values))
    _, group, size = np.unique(values, return_inverse=True, return_counts=True)
    return (np.bincount(group, weights=positions) / size)[group]


def _key(params: dict[str, Any], names: list[str], space: dict[str, BaseDistribution]) -> Key:
    """A hashable identity of a configuration (numeric values rounded in the unit cube)."""
    return tuple(
        params[n] if isinstance(space[n], CategoricalDistribution) else round(to_unit(space[n], params[n]), 6)
        for n in names
    )
