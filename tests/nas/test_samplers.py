"""The default sampler (``search.sampler=local``): seeded, no duplicates, mixed spaces, better than random."""

from __future__ import annotations

import itertools
import random
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import torch

from nas.factory import ConstructorFactory, DataShape
from nas.model_file import ModelSpec
from nas.proxy import SynflowScore, synflow
from nas.samplers import LocalSearchSampler, _spearman
from nas.search import run_search
from nas.space import Dimension, SearchSpace
from nas.study import SearchSettings, make_sampler
from nas.training import TrainSettings

REPO = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)

MIXED = SearchSpace({
    "channels": Dimension("int", low=8, high=64, log=True, default=32),
    "depth": Dimension("int", low=1, high=3, default=2),
    "kernel_size": Dimension("categorical", choices=(3, 5), default=3),
    "hidden": Dimension("int", low=16, high=256, log=True, default=64),
    "dropout": Dimension("float", low=0.0, high=0.5, default=0.2),
    "lr": Dimension("float", low=1e-4, high=1e-1, log=True, default=1e-3),
    "activation": Dimension("categorical", choices=("relu", "gelu", "silu"), default="relu"),
    "batch_norm": Dimension("categorical", choices=(True, False), default=True),
})
OPS = ("a", "b", "c", "d", "e")


def mixed_objective(p: dict[str, Any]) -> float:
    """A smooth-ish made-up score over MIXED (an optimum inside the ranges)."""
    return (-abs(p["channels"] - 40) / 40 - (p["depth"] - 2) ** 2 - abs(p["dropout"] - 0.1)
            - abs(torch.log10(torch.tensor(p["lr"])).item() + 2.5) + (p["activation"] == "gelu") + p["batch_norm"])


def run(sampler: Any, space: SearchSpace, objective: Any, n_trials: int, direction: str = "maximize",
        first: dict[str, Any] | None = None) -> optuna.Study:
    study = optuna.create_study(direction=direction, sampler=sampler)
    if first is not None:
        study.enqueue_trial(first)
    study.optimize(lambda trial: objective(space.sample(trial)), n_trials=n_trials)
    return study


def nk_landscape(seed: int) -> Any:
    """Six categorical dimensions of five choices, each scored with its right-hand neighbour (rugged, epistatic)."""
    rng = random.Random(seed)
    table = {(i, a, b): rng.gauss(0, 1) for i in range(6) for a in OPS for b in OPS}
    return lambda p: sum(table[i, p[f"x{i}"], p[f"x{(i + 1) % 6}"]] for i in range(6))


CATEGORICAL = SearchSpace({f"x{i}": Dimension("categorical", choices=OPS) for i in range(6)})


def test_same_seed_same_trials_other_seed_other_trials() -> None:
    def params(seed: int) -> list[dict[str, Any]]:
        return [t.params for t in run(LocalSearchSampler(seed=seed), MIXED, mixed_objective, 25).trials]

    assert params(3) == params(3)
    assert params(3) != params(4)


def test_never_proposes_a_tried_configuration_until_the_space_is_exhausted() -> None:
    space = SearchSpace({"a": Dimension("categorical", choices=("x", "y", "z")),
                         "b": Dimension("int", low=1, high=3),
                         "c": Dimension("categorical", choices=(True, False))})  # 18 configurations
    study = run(LocalSearchSampler(seed=0, n_random=4), space, lambda p: len(p["a"]) * p["b"] + p["c"], 18,
                first={"a": "x", "b": 1, "c": False})
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(keys)) == 18


def test_after_the_random_start_every_proposal_is_an_untried_neighbour_of_a_trial() -> None:
    study = run(LocalSearchSampler(seed=1, n_random=10), CATEGORICAL, nk_landscape(1), 60)
    trials = study.trials
    for i, trial in enumerate(trials[10:], start=10):
        before = [t.params for t in trials[:i]]
        assert trial.params not in before
        assert any(sum(trial.params[k] != p[k] for k in trial.params) == 1 for p in before), i


def test_mixed_space_samples_stay_in_range_and_improve_on_the_start() -> None:
    study = run(LocalSearchSampler(seed=2), MIXED, mixed_objective, 40, first=MIXED.defaults())
    for trial in study.trials:
        for label, value in trial.params.items():
            dim = MIXED[label]
            assert dim.contains(value), (label, value)
            if dim.kind == "int":
                assert isinstance(value, int)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 40
    discrete = ("depth", "kernel_size", "activation", "batch_norm")  # the rest (floats, log ranges) is TPE's
    for i, trial in enumerate(study.trials[10:], start=10):
        assert any(sum(trial.params[k] != t.params[k] for k in discrete) == 1 for t in study.trials[:i]), i
    assert study.best_value > study.trials[0].value
    assert max(t.value for t in study.trials[10:]) > max(t.value for t in study.trials[:10])  # local search helped


def test_minimizing_finds_the_optimum_of_a_separable_function() -> None:
    weights = {f"x{i}": {op: (i * 7 + j * 3) % 5 for j, op in enumerate(OPS)} for i in range(6)}
    objective = lambda p: sum(weights[k][v] for k, v in p.items())  # noqa: E731
    for seed in range(3):
        study = run(LocalSearchSampler(seed=seed), CATEGORICAL, objective, 80, direction="minimize")
        assert study.best_value == 0, seed


def test_beats_random_search_on_a_rugged_categorical_problem() -> None:
    def best_rank(sampler_of_seed: Any, seed: int) -> int:
        objective = nk_landscape(100 + seed)
        values = sorted((objective(dict(zip(CATEGORICAL, ops))) for ops in itertools.product(OPS, repeat=6)),
                        reverse=True)
        best = run(sampler_of_seed(seed), CATEGORICAL, objective, 60).best_value
        return values.index(best)

    local = [best_rank(lambda s: LocalSearchSampler(seed=s), s) for s in range(8)]
    uniform = [best_rank(lambda s: optuna.samplers.RandomSampler(seed=s), s) for s in range(8)]
    assert statistics.fmean(local) < statistics.fmean(uniform) / 2, (local, uniform)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_score_that_disagrees_with_the_trials_or_is_unknown_changes_nothing(seed: int) -> None:
    objective = nk_landscape(seed)

    def params(score: Any) -> list[dict[str, Any]]:
        return [t.params for t in run(LocalSearchSampler(seed=seed, score=score), CATEGORICAL, objective, 40).trials]

    plain = params(None)
    assert params(lambda p: -objective(p)) == plain  # anti-correlated: weight 0
    assert params(lambda p: None) == plain  # no configuration scored
    assert params(lambda p: objective(p)) != plain  # the check can fail: an agreeing score does change the climb


def test_an_agreeing_score_ranks_the_first_neighbours_by_itself() -> None:
    """The first local proposal, among the 24 neighbours of the best random trial: with the objective itself as
    the score (perfect agreement) it is one of the very best; without a score it is a density-ratio guess."""
    def rank_of_first_proposal(scored: bool, seed: int) -> int:
        objective = nk_landscape(300 + seed)
        sampler = LocalSearchSampler(seed=seed, score=objective if scored else None)
        trials = run(sampler, CATEGORICAL, objective, 11).trials
        parent = max(trials[:10], key=lambda t: t.value)
        neighbours = [{**parent.params, k: op} for k in parent.params for op in OPS if op != parent.params[k]]
        values = sorted((objective(n) for n in neighbours), reverse=True)
        return values.index(trials[10].value)

    scored = [rank_of_first_proposal(True, seed) for seed in range(10)]
    plain = [rank_of_first_proposal(False, seed) for seed in range(10)]
    assert statistics.fmean(scored) < 2 and statistics.fmean(plain) > 4, (scored, plain)


def test_spearman_matches_scipy_with_ties() -> None:
    from scipy.stats import spearmanr

    rng = random.Random(0)
    for _ in range(20):
        a = [rng.choice([1, 2, 2, 3, 5]) for _ in range(30)]
        b = [x + rng.choice([-2, 0, 1]) for x in a]
        assert _spearman(np.array(a), np.array(b)) == pytest.approx(spearmanr(a, b)[0])
    assert _spearman(np.ones(5), np.arange(5.0)) == 0.0


def test_pareto_searches_use_tpe_and_the_sampler_delegates_them() -> None:
    assert isinstance(make_sampler("local", 0), LocalSearchSampler)
    assert isinstance(make_sampler("local", 0, multi_objective=True), optuna.samplers.TPESampler)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=LocalSearchSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("y", 1, 9)), n_trials=15)
    assert len(study.trials) == 15 and study.best_trials


class _Data:
    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long)


def test_run_search_with_the_default_sampler_never_trains_a_configuration_twice() -> None:
    space = SearchSpace({k: MIXED[k] for k in ("channels", "depth", "kernel_size", "hidden", "activation")})
    factory = ConstructorFactory(
        ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"), DataShape((1, 8, 8), 10), space
    )
    evaluated: list[dict[str, Any]] = []

    def evaluator(model: Any, params: dict[str, Any], settings: Any, on_epoch: Any) -> None:
        evaluated.append(params)
        on_epoch(0, {"val_accuracy": mixed_objective({**MIXED.defaults(), **params})})

    settings = SearchSettings(n_trials=15, sampler="local", pruner="none", seed=5)
    study = run_search(factory, _Data(), TrainSettings(epochs=1, batch_size=2), settings, evaluator=evaluator)
    assert len(study.trials) == 15 and study.trials[0].params == space.defaults()
    assert len({tuple(sorted(p.items())) for p in evaluated}) == len(evaluated) == 15
    assert isinstance(study.sampler.score, SynflowScore)  # search.proxy=synflow, the default
    torch.manual_seed(0)  # the score builds every configuration with seed 0
    default_model = factory.build(space.defaults())
    assert study.sampler.score(study.trials[0].params) == synflow(default_model, torch.ones(1, 1, 8, 8))


def test_search_proxy_none_gives_the_sampler_no_score() -> None:
    factory = ConstructorFactory(
        ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"), DataShape((1, 8, 8), 10)
    )
    settings = SearchSettings(n_trials=2, sampler="local", proxy="none", pruner="none")

    def evaluator(model: Any, params: dict[str, Any], settings: Any, on_epoch: Any) -> None:
        on_epoch(0, {"val_accuracy": 0.5})

    study = run_search(factory, _Data(), TrainSettings(epochs=1, batch_size=2), settings, evaluator=evaluator)
    assert study.sampler.score is None


@pytest.mark.parametrize("seed", [0, 1])
def test_a_study_resumed_in_a_new_sampler_continues_without_duplicates(seed: int) -> None:
    objective = nk_landscape(seed)
    study = run(LocalSearchSampler(seed=seed), CATEGORICAL, objective, 20)
    study.sampler = LocalSearchSampler(seed=seed)  # as after a restart: no state but the study's trials
    study.optimize(lambda trial: objective(CATEGORICAL.sample(trial)), n_trials=20)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 40
