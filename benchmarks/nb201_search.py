"""NAS-Bench-201 searched through nasflow's own search path, the lookup table standing in for training.

``search_nasflow`` runs :func:`nas.search.run_search` on the factory that :func:`nas.extract.make_factory`
extracts from ``examples/models/nb201_cell.py`` (constructor mode: six ``Literal`` edge arguments), with
nasflow's structural fingerprints as architecture keys (an equivalent cell is reused, not evaluated) and the
sampler ``nas.study.make_sampler`` gives, helped by the training-free score ``search.proxy`` names (SynFlow of the
built cell by default: it costs a forward and a backward pass of one sample, no training and no table look-up).
Only evaluations the evaluator actually makes are counted. Built models and scores are memoized per cell string
across the searches of a process (the lookup never trains a model; a cell's score does not depend on the search).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from benchmarks.nb201_table import EDGES, OPS, Cell, cell_string, load_table

MODEL_FILE = Path(__file__).resolve().parents[1] / "examples" / "models" / "nb201_cell.py"
INPUT_SHAPE = (3, 4, 4)  # the cell never trains here: a tiny input keeps building and cost measurement cheap


class BudgetSpent(Exception):
    """Raised by the evaluator when asked for one evaluation more than its budget (ends the search)."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluation actually made: the cell, the search signal it returned and its CIFAR-10 test accuracy."""

    arch: str
    val: float
    test: float


@dataclass
class LookupEvaluator:
    """A :class:`nas.search.Evaluator` that looks the cell up instead of training it.

    Reports the 12-epoch validation accuracy of ``signal`` as ``val_accuracy``; raises :class:`BudgetSpent`
    once ``budget`` evaluations were made.
    """

    signal: str = "cifar10"
    budget: int = 100
    log: list[Evaluation] = field(default_factory=list)

    def __call__(self, model: Any, params: dict[str, Any], settings: Any, on_epoch: Any) -> None:
        if len(self.log) >= self.budget:
            raise BudgetSpent(f"{self.budget} evaluations made")
        cell: Cell = load_table()[cell_string(params)]
        self.log.append(Evaluation(cell.arch, cell.val[self.signal], cell.test_acc_200ep))
        on_epoch(0, {"val_accuracy": cell.val[self.signal]})


class TinyData:
    """Split data of one zero image: only the example batch for cost and fingerprints is ever used."""

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(1, *INPUT_SHAPE), torch.zeros(1, dtype=torch.long)


_MODELS: dict[str, Any] = {}  # cell string -> built model, shared by the searches of this process


@lru_cache(maxsize=1)
def extracted_factory() -> Any:
    """The factory nasflow extracts from the NB201 model file (constructor mode)."""
    from nas.extract import make_factory
    from nas.factory import DataShape
    from nas.model_file import ModelSpec

    return make_factory(ModelSpec(MODEL_FILE, "NB201Cell"), DataShape(INPUT_SHAPE, 10), mode="constructor")


class CellFactory:
    """The extracted factory with its defaults replaced (like an edited space YAML) and its models memoized.

    Memoizing is safe because the lookup never trains a model; it spares re-tracing a cell seen by an earlier
    seed (building traces the model, the slowest step of a trial here).
    """

    def __init__(self, default: Mapping[str, str] | None = None) -> None:
        base = extracted_factory()
        self.base = base
        dims = dict(base.space.dimensions)
        if default is not None:
            dims = {k: replace(d, default=default[k]) for k, d in dims.items()}
        self.space = type(base.space)(dims, dict(base.space.fixed), list(base.space.notes))

    def build(self, params: Mapping[str, Any]) -> Any:
        key = cell_string(dict(params))
        if key not in _MODELS:
            _MODELS[key] = self.base.build(params)
        return _MODELS[key]


_SCORES: dict[tuple[str, str], float | None] = {}  # (proxy, cell string) -> score, shared by this process's searches


def memoized_score(proxy: str) -> Any:
    """The training-free score ``search.proxy`` names, as ``run_search`` makes it (each cell built afresh under a
    fixed seed), memoized per cell string across seeds: a cell's score does not depend on the search."""
    from nas.proxy import make_score

    score = make_score(proxy, extracted_factory().build, TinyData().split("train")[0])
    if score is None:
        return None

    def memoized(params: dict[str, Any]) -> float | None:
        key = (proxy, cell_string(params))
        if key not in _SCORES:
            _SCORES[key] = score(params)
        return _SCORES[key]

    return memoized


def random_cell(seed: int) -> dict[str, str]:
    """A seeded random cell: the neutral first trial (the model file's own default is a top cell of the table)."""
    rng = random.Random(1_000_003 * seed + 17)
    return {edge: rng.choice(OPS) for edge in EDGES}


@contextmanager
def optuna_quiet() -> Iterator[None]:
    """Hide Optuna's per-trial warnings (the trial that :class:`BudgetSpent` ends is reported as failed)."""
    import optuna  # noqa: F401 - configures Optuna's own handler first, so that it can be set aside

    logger = logging.getLogger("optuna")
    handlers, level = list(logger.handlers), logger.level
    null = logging.NullHandler()
    for handler in handlers:
        logger.removeHandler(handler)
    logger.addHandler(null)
    try:
        yield
    finally:
        logger.removeHandler(null)
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)


@dataclass
class SearchLog:
    """The evaluations one search made, in order, and how many trials it took (reused ones included)."""

    evaluations: list[Evaluation]
    trials: int


class _TrialCounter:
    """A search observer counting trials (a :class:`nas.observer.SearchObserver`)."""

    def __init__(self, inner: Any = None) -> None:
        from nas.observer import SearchObserver

        self.inner, self.trials = inner or SearchObserver(), 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def trial_ended(self, result: Any) -> None:
        self.trials += 1
        self.inner.trial_ended(result)


def search_nasflow(seed: int, budget: int, signal: str = "cifar10", *, default: Mapping[str, str] | None = None,
                   warm_start: list[dict[str, Any]] = (), observer: Any = None, max_trials: int | None = None,
                   sampler: str = "local", proxy: str = "synflow") -> SearchLog:
    """One seeded search through :func:`nas.search.run_search`, until ``budget`` evaluations were made.

    ``default`` is the first trial (a seeded random cell when None); ``max_trials`` caps the trials,
    reused ones included (default 10 × budget), in case the sampler keeps proposing known cells.
    """
    from nas.failures import RepeatedFailureError
    from nas.search import fingerprint_key, run_search
    from nas.study import SearchSettings
    from nas.training import TrainSettings

    torch.set_num_threads(1)
    evaluator = LookupEvaluator(signal, budget)
    counter = _TrialCounter(observer)
    # max_failures=1: the trial whose evaluation the budget refuses ends the search (RepeatedFailureError).
    settings = SearchSettings(n_trials=max_trials or 10 * budget, sampler=sampler, proxy=proxy, seed=seed,
                              study_name=f"nb201-{signal}-{seed}", max_failures=1)
    factory = CellFactory(default if default is not None else random_cell(seed))
    with optuna_quiet():
        try:
            run_search(factory, TinyData(), TrainSettings(epochs=1, batch_size=1, seed=seed), settings, counter,
                       arch_key=fingerprint_key, evaluator=evaluator, warm_start=list(warm_start),
                       score=memoized_score(proxy))
        except RepeatedFailureError:
            if len(evaluator.log) < budget:
                raise  # a failure other than the spent budget
            counter.trials -= 1  # the trial that asked for one evaluation too many
    return SearchLog(evaluator.log, counter.trials)
