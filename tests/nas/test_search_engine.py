"""Constraints before training, Pareto search with a selection rule, architecture reuse, orphan recovery."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.constraints import Constraints
from nas.errors import SearchError
from nas.factory import ConstructorFactory, DataShape
from nas.model_file import ModelSpec
from nas.recovery import recover_orphans, worker_id
from nas.search import run_search
from nas.selection import pareto_front, pruning_report, select_trial
from nas.space import Dimension, SearchSpace
from nas.study import SearchSettings, enqueue_first, open_study
from nas.training import TrainSettings
from tests.nas.recorder import Recorder

REPO = Path(__file__).resolve().parents[2]
SPACE = SearchSpace({
    "channels": Dimension("int", low=4, high=48, log=True, default=8),
    "depth": Dimension("int", low=1, high=2, default=1),
    "hidden": Dimension("int", low=8, high=64, log=True, default=16),
})


@pytest.fixture
def factory(digits) -> ConstructorFactory:
    return ConstructorFactory(ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"),
                              DataShape(digits.input_shape, digits.n_classes), SPACE)


def test_violating_configurations_never_reach_training(factory, digits) -> None:
    limit = 6000
    recorder = Recorder()
    settings = SearchSettings(
        n_trials=10, sampler="random", pruner="none", seed=2, constraints=Constraints(max_params=limit)
    )
    study = run_search(factory, digits, TrainSettings(epochs=1), settings, recorder)
    violating = [r for r in recorder.results if r.cost.params > limit]
    assert violating, "the random sampler draws some models above 6,000 parameters"
    for result in violating:
        assert result.state == "pruned" and result.number not in recorder.trained and result.history == []
        assert result.error == f"constraint violated: params {result.cost.params:g} > max_params {limit:g}"
        trial = study.trials[result.number]
        assert trial.constraints["max_params"] == pytest.approx(result.cost.params - limit)
    feasible = [r for r in recorder.results if r.cost.params <= limit]
    assert all(r.number in recorder.trained for r in feasible if r.state == "complete")
    assert pruning_report(study, 1)["infeasible"] == len(violating)
    assert select_trial(study, settings).user_attrs["cost"]["params"] <= limit


def test_pareto_search_trades_accuracy_against_parameters(factory, digits) -> None:
    settings = SearchSettings(n_trials=8, sampler="random", seed=4, costs=("params",))
    study = run_search(factory, digits, TrainSettings(epochs=1), settings)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    front = pareto_front(study)
    assert front and all(len(t.values) == 2 for t in front)
    for a in front:  # no point of the front dominates another
        assert not any(b.values[0] >= a.values[0] and b.values[1] < a.values[1] for b in front)
    smallest = min(front, key=lambda t: t.values[1])
    rule = SearchSettings(**{**settings.__dict__, "select": Constraints(max_params=smallest.values[1])})
    assert select_trial(study, rule).number == smallest.number
    impossible = SearchSettings(**{**settings.__dict__, "select": Constraints(max_params=10)})
    with pytest.raises(SearchError, match=r"no trial of study 'nasflow' meets search.select \(max_params 10\)"):
        select_trial(study, impossible)


def test_known_architecture_is_reused_not_trained_again(factory, digits) -> None:
    tiny = SearchSpace({"depth": Dimension("int", low=1, high=2, default=1)})
    factory.space = tiny
    recorder = Recorder()
    study = run_search(
        factory, digits, TrainSettings(epochs=1), SearchSettings(n_trials=6, sampler="random", pruner="none"), recorder
    )
    reused = [r for r in recorder.results if r.state == "reused"]
    assert len(recorder.trained) == 2 and len(reused) == 4  # two architectures exist; each is trained once
    for result in reused:
        source = study.trials[study.trials[result.number].user_attrs["reused_from"]]
        assert study.trials[result.number].value == source.value and result.metrics == source.user_attrs["metrics"]


def test_a_dead_workers_trial_is_failed_and_retried_once_with_its_params(tmp_path: Path) -> None:
    import subprocess
    import sys

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = open_study(SearchSettings(storage=storage, study_name="orphans"))
    dead = subprocess.run(
        [sys.executable, "-c", "from nas.recovery import worker_id; print(worker_id())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.strip()
    orphan = study.ask({"depth": optuna.distributions.IntDistribution(1, 3)})
    orphan.set_user_attr("worker", dead)
    alive = study.ask({"depth": optuna.distributions.IntDistribution(1, 3)})
    alive.set_user_attr("worker", worker_id())
    assert recover_orphans(study) == [orphan.number]
    states = {t.number: t.state.name for t in study.trials}
    assert states[orphan.number] == "FAIL" and states[alive.number] == "RUNNING"
    retry = study.ask({"depth": optuna.distributions.IntDistribution(1, 3)})  # takes the enqueued retry
    assert retry.params == orphan.params and retry.user_attrs["retry_of"] == orphan.number
    retry.set_user_attr("worker", dead)
    assert recover_orphans(study) == [retry.number]
    assert not [t for t in study.trials if t.state.name == "WAITING"]  # a retry is retried no more


def test_directions_of_an_existing_study_must_match(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    open_study(SearchSettings(storage=storage, study_name="s"))
    with pytest.raises(SearchError, match=r"created with directions \['maximize'\] .* use another search.study_name"):
        open_study(SearchSettings(storage=storage, study_name="s", costs=("latency_ms",)))
    with pytest.raises(SearchError, match=r"cmaes cannot do a Pareto search"):
        open_study(SearchSettings(sampler="cmaes", costs=("params",)))


def test_first_trials_are_the_defaults_then_distinct_clipped_warm_starts() -> None:
    space = SearchSpace(
        {"depth": Dimension("int", 1, 3, default=2), "act": Dimension("categorical", choices=("a", "b"), default="a")}
    )
    study = open_study(SearchSettings(study_name="first"))
    warm = [{"depth": 9, "act": "b"}, {"depth": 3, "act": "b"}, {"depth": 2, "act": "a"}, {"other": 1}]
    assert enqueue_first(study, warm, space) == 2  # the third repeats the defaults, the fourth is empty once clipped
    assert enqueue_first(study, warm, space) == 2  # offered again: the study already holds them, none is added
    assert len(study.trials) == 2
    firsts = [study.ask(space.to_optuna()).params for _ in range(2)]
    assert firsts == [{"depth": 2, "act": "a"}, {"depth": 3, "act": "b"}]
    other = open_study(SearchSettings(study_name="no-space"))
    assert enqueue_first(other, [{"cell": "x"}, {}, {"cell": "x"}]) == 1


@pytest.mark.parametrize(
    "sampler, pruner",
    [("tpe", "hyperband"), ("random", "successive_halving"), ("gp", "median"), ("cmaes", "none"), ("nsga2", "median")],
)
def test_every_sampler_and_pruner_runs_seeded(factory, digits, sampler: str, pruner: str) -> None:
    settings = SearchSettings(n_trials=3, sampler=sampler, pruner=pruner, seed=7)
    runs = [run_search(factory, digits, TrainSettings(epochs=1), settings) for _ in range(2)]
    params = [[t.params for t in study.trials] for study in runs]
    assert len(params[0]) == 3 and params[0] == params[1]  # same seed, same samples


class StopsAt(Recorder):
    """An observer (tracking, records) that fails at the ``event`` of trial ``number``."""

    def __init__(self, event: str, number: int) -> None:
        super().__init__()
        self.event, self.number = event, number

    def trial_started(self, number: int, params: dict) -> None:
        if self.event == "started" and number == self.number:
            raise RuntimeError("tracking server gone")

    def trial_ended(self, result) -> None:
        super().trial_ended(result)
        if self.event == "ended" and result.number == self.number:
            raise RuntimeError("tracking server gone")


@pytest.mark.parametrize("event, states", [("started", ["COMPLETE", "FAIL"]), ("ended", ["COMPLETE", "COMPLETE"])])
def test_an_observer_error_stops_the_search_and_keeps_finished_trials(factory, digits, tmp_path: Path, event: str,
                                                                      states: list[str]) -> None:
    settings = SearchSettings(n_trials=4, sampler="random", pruner="none", storage=f"journal:///{tmp_path}/s.journal")
    observer = StopsAt(event, 1)
    with pytest.raises(RuntimeError, match="tracking server gone"):
        run_search(factory, digits, TrainSettings(epochs=1), settings, observer)
    study = open_study(settings)
    assert [t.state.name for t in study.trials] == states  # a trial that ran keeps its result; none runs after
    if event == "started":
        assert study.trials[1].user_attrs["fail_reason"] == "not run: recording failed (tracking server gone)"
        assert 1 not in observer.trained
