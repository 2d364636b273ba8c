"""The search loop on real digits: pruning, a total budget across restarts, observers, retrain."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nas.errors import SearchError
from nas.factory import ConstructorFactory, DataShape
from nas.model_file import ModelSpec
from nas.retrain import retrain
from nas.search import run_search
from nas.selection import best_params
from nas.space import Dimension, SearchSpace
from nas.study import SearchSettings, counted_trials, make_pruner, make_sampler
from nas.training import TrainSettings, train
from tests.nas.recorder import Recorder

REPO = Path(__file__).resolve().parents[2]
SMALL = SearchSpace({
    "channels": Dimension("int", low=4, high=16, log=True, default=8),
    "depth": Dimension("int", low=1, high=2, default=1),
    "hidden": Dimension("int", low=8, high=32, log=True, default=16),
    "dropout": Dimension("float", low=0.0, high=0.3, default=0.1),
})


@pytest.fixture
def factory(digits) -> ConstructorFactory:
    return ConstructorFactory(ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"),
                              DataShape(digits.input_shape, digits.n_classes), SMALL)


def test_budget_is_a_total_across_restarts_and_first_trial_is_the_default(factory, digits, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    settings = SearchSettings(n_trials=3, storage=storage, study_name="budget", pruner="none")
    recorder = Recorder()
    study = run_search(factory, digits, TrainSettings(epochs=1), settings, recorder)
    assert counted_trials(study) == 3
    assert study.trials[0].params == SMALL.defaults()
    again = run_search(factory, digits, TrainSettings(epochs=1), settings, recorder)
    assert len(again.trials) == 3  # nothing new: the budget is the study's total
    assert recorder.events[-1] == ("start", 3, 3)
    more = run_search(factory, digits, TrainSettings(epochs=1), SearchSettings(**{**settings.__dict__, "n_trials": 5}))
    assert counted_trials(more) == 5


def test_pruning_stops_bad_trials_early_and_reports_them(factory, digits) -> None:
    recorder = Recorder()
    settings = SearchSettings(n_trials=12, pruner="median", sampler="random", seed=3)
    study = run_search(factory, digits, TrainSettings(epochs=4, lr=3e-3), settings, recorder)
    pruned = [r for r in recorder.results if r.state == "pruned"]
    complete = [r for r in recorder.results if r.state == "complete"]
    assert pruned, "a median pruner over 12 random trials prunes at least one"
    assert all(len(r.history) < 4 for r in pruned) and all(len(r.history) == 4 for r in complete)
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}
    assert all(r.cost is not None and r.cost.params > 0 for r in recorder.results)


def test_training_is_seeded_and_retrain_tests_once(factory, digits) -> None:
    x, y = digits.split("train")
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        model = factory.build(SMALL.defaults())
        histories.append(train(model, x, y, TrainSettings(epochs=2, seed=5)).history)
    assert histories[0] == histories[1]
    result = retrain(factory, SMALL.defaults(), digits, TrainSettings(epochs=8))
    assert result.metrics["test_accuracy"] > 0.85
    assert result.cost.params == sum(p.numel() for p in result.model.parameters())


def test_cosine_schedule_decays_the_learning_rate_to_zero_and_constant_keeps_it(
        factory, digits, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = digits.split("train")
    seen: list[float] = []
    original = torch.optim.Adam.step

    def step(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    rates: dict[str, list[float]] = {}
    for schedule in ("cosine", "constant"):
        seen.clear()
        torch.manual_seed(0)
        settings = TrainSettings(epochs=2, batch_size=256, lr=0.01, schedule=schedule)
        train(factory.build(SMALL.defaults()), x, y, settings)
        rates[schedule] = list(seen)
    steps = 2 * math.ceil(len(x) / 256)
    assert rates["constant"] == [0.01] * steps
    assert rates["cosine"] == pytest.approx([0.01 * (1 + math.cos(math.pi * k / steps)) / 2 for k in range(steps)])
    with pytest.raises(ValueError, match=r"unknown schedule 'step'; use one of cosine, constant"):
        train(factory.build(SMALL.defaults()), x, y, TrainSettings(epochs=1, schedule="step"))


def test_empty_study_and_bad_names_are_clear(tmp_path: Path) -> None:
    import optuna

    with pytest.raises(SearchError, match=r"study 'empty' has no completed feasible trial; run 'nasflow search' first"):
        best_params(optuna.create_study(study_name="empty"))
    with pytest.raises(SearchError, match=r"unknown sampler 'anneal'; use one of local, tpe, random, gp, cmaes"):
        make_sampler("anneal", 0)
    with pytest.raises(SearchError, match=r"unknown pruner 'early'"):
        make_pruner("early")
