"""The search loop: sample a configuration, build it, train it with pruning, report to observers."""

from __future__ import annotations

import time
from typing import Any, Protocol

import torch

from nas.cost import measure_cost
from nas.errors import NasError
from nas.factory import ModelFactory
from nas.observer import SearchObserver, TrialResult
from nas.study import SearchSettings, counted_trials, open_study
from nas.training import TrainSettings, train


class SplitData(Protocol):
    """Data with named splits (``train``, ``val``, ``test``, ``trainval``) as tensors."""

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]: ...


class _Objective:
    """The Optuna objective for one search: holds the data splits and the observers."""

    def __init__(self, factory: ModelFactory, data: SplitData, train_settings: TrainSettings,
                 settings: SearchSettings, observer: SearchObserver) -> None:
        self.factory, self.train_settings, self.settings, self.observer = factory, train_settings, settings, observer
        self.x_train, self.y_train = data.split("train")
        self.x_val, self.y_val = data.split("val")
        self.example = self.x_train[: train_settings.batch_size]

    def __call__(self, trial: Any) -> float:
        import optuna

        params = self.factory.space.sample(trial)
        self.observer.trial_started(trial.number, params)
        result = TrialResult(trial.number, "complete", params)
        started = time.perf_counter()
        seed = self.train_settings.seed + trial.number

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            result.history.append(metrics)
            self.observer.epoch_ended(trial.number, epoch, metrics)
            trial.report(metrics[self.settings.metric], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        try:
            torch.manual_seed(seed)
            model = self.factory.build(params)
            result.cost = measure_cost(model, self.example)
            for key, value in result.cost.as_dict().items():
                trial.set_user_attr(key, value)
            settings = TrainSettings(**{**self.train_settings.as_dict(), "seed": seed})
            train(model, self.x_train, self.y_train, settings, self.x_val, self.y_val, on_epoch)
        except optuna.TrialPruned:
            result.state = "pruned"
            raise
        except Exception as exc:
            result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("fail_reason", result.error)
            raise
        finally:
            result.wall_time_s = time.perf_counter() - started
            result.metrics = dict(result.history[-1]) if result.history else {}
            self.observer.trial_ended(result)
        return result.metrics[self.settings.metric]


def run_search(factory: ModelFactory, data: SplitData, train_settings: TrainSettings,
               settings: SearchSettings, observer: SearchObserver | None = None) -> Any:
    """Run (or resume) the study until it holds ``settings.n_trials`` completed or pruned trials.

    The first trial of a new study is the model's own default configuration. Returns the study.
    """
    import optuna

    observer = observer or SearchObserver()
    study = open_study(settings)
    done = counted_trials(study)
    if not study.trials:
        defaults = factory.space.defaults()
        if defaults:
            study.enqueue_trial(defaults, skip_if_exists=True)
    observer.search_started(settings.study_name, settings.n_trials, done)
    remaining = settings.n_trials - done
    if remaining > 0:
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        study.optimize(
            _Objective(factory, data, train_settings, settings, observer),
            n_trials=remaining,
            timeout=settings.timeout,
            catch=(NasError, RuntimeError, ValueError),
            callbacks=[optuna.study.MaxTrialsCallback(settings.n_trials, states=states)],
        )
    observer.search_ended(study)
    return study


def best_params(study: Any) -> dict[str, Any]:
    """The parameters of the best completed trial, or a clear error if there is none."""
    from nas.errors import SearchError

    try:
        return dict(study.best_trial.params)
    except ValueError:
        raise SearchError(
            f"study '{study.study_name}' has no completed trial; run 'nasflow search' first or raise search.n_trials"
        ) from None
