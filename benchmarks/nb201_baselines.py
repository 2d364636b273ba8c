"""Baseline searches on the NAS-Bench-201 table: random search, regularized evolution, Optuna's plain TPE.

Each baseline counts every sample as an evaluation (as in the NAS-Bench-201 paper). ``search_ask_tell`` runs
any Optuna sampler with nasflow's rules instead (a seeded first cell, equivalent cells reused for free) so a
candidate for nasflow's default sampler can be compared before it is wired into ``nas.study.make_sampler``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from benchmarks.nb201_search import CellFactory, Evaluation, SearchLog, TinyData, random_cell
from benchmarks.nb201_table import EDGES, OPS, cell_string, load_table


def _evaluate(params: dict[str, str], signal: str) -> Evaluation:
    cell = load_table()[cell_string(params)]
    return Evaluation(cell.arch, cell.val[signal], cell.test_acc_200ep)


def random_search(seed: int, budget: int, signal: str = "cifar10") -> SearchLog:
    """Uniform random cells, each one evaluated."""
    rng = random.Random(seed)
    log = [_evaluate({e: rng.choice(OPS) for e in EDGES}, signal) for _ in range(budget)]
    return SearchLog(log, budget)


def mutate(params: dict[str, str], rng: random.Random) -> dict[str, str]:
    """``params`` with one edge changed to another operation."""
    child = dict(params)
    edge = rng.choice(EDGES)
    child[edge] = rng.choice([op for op in OPS if op != child[edge]])
    return child


def regularized_evolution(seed: int, budget: int, signal: str = "cifar10", population: int = 10,
                          sample: int = 3) -> SearchLog:
    """Regularized evolution (Real et al. 2019): mutate the best of ``sample`` members, drop the oldest."""
    rng = random.Random(seed)
    members: list[tuple[dict[str, str], float]] = []
    log: list[Evaluation] = []
    while len(log) < budget:
        if len(members) < population:
            child = {e: rng.choice(OPS) for e in EDGES}
        else:
            parent = max(rng.sample(members, sample), key=lambda m: m[1])[0]
            child = mutate(parent, rng)
        evaluation = _evaluate(child, signal)
        log.append(evaluation)
        members.append((child, evaluation.val))
        if len(members) > population:
            members.pop(0)
    return SearchLog(log, budget)


def optuna_tpe(seed: int, budget: int, signal: str = "cifar10") -> SearchLog:
    """Optuna's ``TPESampler`` with its defaults, every trial evaluated."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    log: list[Evaluation] = []

    def objective(trial: Any) -> float:
        log.append(_evaluate({e: trial.suggest_categorical(e, list(OPS)) for e in EDGES}, signal))
        return log[-1].val

    study.optimize(objective, n_trials=budget)
    return SearchLog(log, budget)


_FINGERPRINTS: dict[str, str] = {}


def nasflow_key(params: dict[str, str]) -> str:
    """nasflow's structural fingerprint of the built cell (cached per cell string)."""
    from nas.search import fingerprint_key

    arch = cell_string(params)
    if arch not in _FINGERPRINTS:
        model = CellFactory().build(params)
        _FINGERPRINTS[arch] = fingerprint_key(model, TinyData().split("train")[0], params)
    return _FINGERPRINTS[arch]


def search_ask_tell(make_sampler: Callable[[int], Any], seed: int, budget: int, signal: str = "cifar10",
                    warm_start: list[dict[str, str]] = (), max_trials: int | None = None) -> SearchLog:
    """A sampler under nasflow's rules: the seeded random cell first, then ``warm_start``; a cell with a known
    fingerprint is told its known value and costs no evaluation."""
    import optuna

    from nas.study import enqueue_first

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(seed))
    enqueue_first(study, [random_cell(seed), *warm_start])
    known: dict[str, float] = {}
    log: list[Evaluation] = []
    trials = 0
    while len(log) < budget and trials < (max_trials or 10 * budget):
        trial = study.ask()
        trials += 1
        params = {e: trial.suggest_categorical(e, list(OPS)) for e in EDGES}
        key = nasflow_key(params)
        if key not in known:
            log.append(_evaluate(params, signal))
            known[key] = log[-1].val
        study.tell(trial, known[key])
    return SearchLog(log, trials)
