"""The search loop: sample, build, check constraints, skip known architectures, train with pruning, report."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

from nas.constraints import COST_ATTR
from nas.cost import measure_cost
from nas.errors import NasError
from nas.factory import ModelFactory
from nas.failures import FailureStreak
from nas.observer import SearchObserver, TrialResult
from nas.proxy import make_score
from nas.recovery import (
    WAIT_POLL_S,
    WORKER_ATTR,
    fail_stale,
    keeps_heartbeat,
    others_running,
    recover_orphans,
    worker_id,
)
from nas.study import SearchSettings, counted_trials, enqueue_first, open_study
from nas.training import TrainSettings, prepare_model, train

if TYPE_CHECKING:
    from nas.samplers import Score

ArchKey = Callable[[Any, torch.Tensor, dict[str, Any]], str]
Reuse = Callable[[str], "Reused | dict[str, float] | None"]
EpochHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class Reused:
    """A recorded result found for an architecture key: its metrics and where they came from."""

    metrics: dict[str, float]
    source: str = "knowledge base"


def settings_key(settings: TrainSettings) -> str:
    """A hash of every training setting (epochs, rate, batch, optimizer, schedule, decay, seed, ...): results
    are reused only between trials trained the same way."""
    return hashlib.sha256(json.dumps(settings.as_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


class SplitData(Protocol):
    """Data with named splits (``train``, ``val``, ``test``, ``trainval``) as tensors."""

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]: ...


class Evaluator(Protocol):
    """Turns a built model into metrics; calls ``on_epoch`` per epoch (which may raise ``TrialPruned``)."""

    def __call__(self, model: Any, params: dict[str, Any], settings: TrainSettings, on_epoch: EpochHook) -> None: ...


class TrainingEvaluator:
    """The default evaluator: train on the train split, validate after every epoch."""

    def __init__(self, data: SplitData) -> None:
        self.x_train, self.y_train = data.split("train")
        self.x_val, self.y_val = data.split("val")

    def __call__(self, model: Any, params: dict[str, Any], settings: TrainSettings, on_epoch: EpochHook) -> None:
        train(model, self.x_train, self.y_train, settings, self.x_val, self.y_val, on_epoch)


def example_batch(data: SplitData, settings: TrainSettings) -> torch.Tensor:
    """One training batch of inputs as the model takes them (float, as the training loop converts uint8 pixels):
    what costs, fingerprints, the output check and training-free scores are measured on."""
    x = data.split("train")[0][: settings.batch_size]
    return x if x.is_floating_point() else x.float()


def params_key(_model: Any, _example: torch.Tensor, params: dict[str, Any]) -> str:
    """The default architecture key: a hash of the sampled parameters (a fingerprint can replace it)."""
    return "params:" + hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint_key(model: Any, example: torch.Tensor, params: dict[str, Any]) -> str:
    """The structural fingerprint of the built model, so equivalent samples share one key (see ``nas.fingerprint``).

    Models that cannot be traced fall back to :func:`params_key`.
    """
    from nas.fingerprint import fingerprint

    try:
        return fingerprint(model, example)
    except (NasError, RuntimeError, TypeError, NotImplementedError):
        return params_key(model, example, params)


def is_fingerprint(key: str) -> bool:
    """Whether an architecture key is a structural fingerprint (not a parameter hash)."""
    return not key.startswith("params:")


class _Objective:
    """The Optuna objective of one search: holds the data splits, the settings and the observers."""

    def __init__(self, factory: ModelFactory, data: SplitData, train_settings: TrainSettings, settings: SearchSettings,
                 observer: SearchObserver, arch_key: ArchKey, evaluator: Evaluator, reuse: Reuse | None) -> None:
        self.factory, self.train_settings, self.settings, self.observer = factory, train_settings, settings, observer
        self.arch_key, self.evaluator, self.reuse = arch_key, evaluator, reuse
        self.example = example_batch(data, train_settings)
        self.worker = worker_id()
        self.train_key = settings_key(train_settings)
        self.recording_error: Exception | None = None  # an observer failed to record a trial (a full disk)

    def _record(self, event: Callable[[], None]) -> None:
        """Tell the observers; an error of theirs never changes the trial's outcome in the study: it is kept and
        raised by the search once Optuna has stored the trial."""
        try:
            event()
        except Exception as exc:
            self.recording_error = self.recording_error or exc

    def raise_recording_error(self) -> None:
        """Raise the error an observer met while recording the last trial, if any."""
        if self.recording_error is not None:
            error, self.recording_error = self.recording_error, None
            raise error

    def _values(self, metrics: dict[str, float], cost: dict[str, Any]) -> float | tuple[float, ...]:
        if not self.settings.multi_objective:
            return metrics[self.settings.metric]
        return (metrics[self.settings.metric], *(float(cost[c]) for c in self.settings.costs))

    def _known(self, trial: Any, key: str) -> Any:
        """Another trial of the study with the same architecture key and training settings (completed first,
        then running), if any."""
        from optuna.trial import TrialState

        for state in (TrialState.COMPLETE, TrialState.RUNNING):
            for other in trial.study.get_trials(deepcopy=False, states=(state,)):
                if other.number != trial.number and other.user_attrs.get("arch_key") == key \
                        and other.user_attrs.get("train_key") == self.train_key:
                    return other
        return None

    def __call__(self, trial: Any) -> float | tuple[float, ...]:
        import optuna

        trial.set_user_attr(WORKER_ATTR, self.worker)
        params = self.factory.space.sample(trial)
        self._record(lambda: self.observer.trial_started(trial.number, params))
        if self.recording_error is not None:  # not trained: the search stops, a later one samples anew
            trial.set_user_attr("fail_reason", f"not run: recording failed ({self.recording_error})")
            raise RuntimeError(trial.user_attrs["fail_reason"])
        result = TrialResult(trial.number, "complete", params)
        started = time.perf_counter()
        seed = self.train_settings.seed + trial.number
        multi = self.settings.multi_objective
        epochs = self.train_settings.epochs

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            result.history.append(metrics)
            self.observer.epoch_ended(trial.number, epoch, metrics)
            if not multi:
                trial.report(metrics[self.settings.metric], epoch)
                if epoch + 1 < epochs and trial.should_prune():  # a fully trained trial is kept, never pruned
                    raise optuna.TrialPruned(f"pruned after epoch {epoch}")

        try:
            torch.manual_seed(seed)
            model, device = prepare_model(self.factory.build(params), self.train_settings)
            example = self.example.to(device)
            result.cost = measure_cost(model, example)
            cost = result.cost.as_dict()
            trial.set_user_attr(COST_ATTR, cost)
            for name, margin in self.settings.constraints.margins(cost).items():
                trial.set_constraint(name, margin)
            violations = self.settings.constraints.violations(cost)
            if violations:
                result.error = "constraint violated: " + ", ".join(violations)
                trial.set_user_attr("constraint_violation", result.error)
                raise optuna.TrialPruned(result.error)
            key = self.arch_key(model, example, params)
            trial.set_user_attr("arch_key", key)
            trial.set_user_attr("train_key", self.train_key)
            result.fingerprint = key if is_fingerprint(key) else None
            found = self.reuse(key) if self.reuse is not None else None
            recorded = Reused(dict(found)) if isinstance(found, dict) else found
            if recorded is not None and self.settings.metric in recorded.metrics:
                result.state, result.metrics = "reused", dict(recorded.metrics)
                trial.set_user_attr("reused_from", recorded.source)
                trial.set_user_attr("metrics", result.metrics)
                return self._values(result.metrics, cost)
            known = self._known(trial, key)
            if known is not None and known.state.name == "COMPLETE":
                result.state, result.metrics = "reused", dict(known.user_attrs.get("metrics", {}))
                trial.set_user_attr("reused_from", known.number)
                trial.set_user_attr("metrics", result.metrics)
                return known.values[0] if not multi else tuple(known.values)
            if known is not None:
                result.error = f"same architecture as running trial {known.number}"
                trial.set_user_attr("duplicate_of", known.number)
                raise optuna.TrialPruned(result.error)
            settings = TrainSettings(**{**self.train_settings.as_dict(), "seed": seed})
            self.evaluator(model, params, settings, on_epoch)
            result.metrics = dict(result.history[-1])
            trial.set_user_attr("metrics", result.metrics)
            return self._values(result.metrics, cost)
        except optuna.TrialPruned:
            result.state = "pruned"
            raise
        except Exception as exc:
            result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("fail_reason", result.error)
            raise
        finally:
            result.wall_time_s = time.perf_counter() - started
            if not result.metrics and result.history:
                result.metrics = dict(result.history[-1])
            self._record(lambda: self.observer.trial_ended(result))


def run_search(factory: ModelFactory, data: SplitData, train_settings: TrainSettings, settings: SearchSettings,
               observer: SearchObserver | None = None, arch_key: ArchKey = fingerprint_key,
               evaluator: Evaluator | None = None, reuse: Reuse | None = None,
               warm_start: Sequence[Mapping[str, Any]] = (), score: Score | None = None,
               on_start: Callable[[Any], None] | None = None) -> Any:
    """Run (or resume) the study until it holds ``settings.n_trials`` completed or pruned trials, exactly.

    Several workers may share the study: each claims a trial under :func:`nas.budget.budget_lock`, so the budget is
    never overshot; ``settings.max_failures`` trials in a row failing with the same error stop the search with
    :class:`nas.failures.RepeatedFailureError` (every failed trial stays recorded). Trials of dead workers are
    failed and retried once (other hosts: when their storage heartbeat goes stale, which a worker finding the budget
    claimed but unfinished waits for); an observer's error (tracking, records) stops the search, raised after the
    trial it met kept its result in the study; the first trial of a new study is the model's own default configuration,
    followed by the ``warm_start`` configurations (clipped into the space); an architecture already evaluated (in
    the study, or known to ``reuse``) is reused, never trained twice (architectures are keyed by structural
    fingerprint, as the CLI does; pass ``arch_key=params_key`` to key by parameters). The sampler's training-free
    score is ``score`` if given, else the one ``settings.proxy`` names, on the factory's models. An observer that
    fails to record a trial (a full disk) stops the search with its error once the trial is stored with its own
    outcome, so a trained trial is never turned into a failure. ``on_start(study)`` runs once the study is open and
    its dead workers' trials are failed, before the first new trial (the CLI writes lost records there).
    """
    from nas.budget import budget_lock, claimed_trials
    from nas.forward_check import check_forward
    from nas.liveness import hold_lease

    observer = observer or SearchObserver()
    check_forward(factory, example_batch(data, train_settings))
    if score is None:
        score = make_score(settings.proxy, factory.build, example_batch(data, train_settings))
    study = open_study(settings, score)
    hold_lease(settings.storage)  # other hosts tell from it that this worker's trials are still being written
    lock = budget_lock(settings.storage, settings.study_name)
    with lock:
        recover_orphans(study)
        if not study.trials:
            enqueue_first(study, warm_start, factory.space)
    if on_start is not None:
        on_start(study)
    observer.search_started(settings.study_name, settings.n_trials, counted_trials(study))
    objective = _Objective(factory, data, train_settings, settings, observer, arch_key,
                           evaluator or TrainingEvaluator(data), reuse)

    ran: list[int] = []

    def claimed_then_run(trial: Any) -> Any:
        ran.append(trial.number)
        lock.release()  # the trial exists now: it holds its place in the budget
        return objective(trial)

    streak = FailureStreak(settings.max_failures)
    started = time.monotonic()
    while settings.timeout is None or time.monotonic() - started < settings.timeout:
        lock.acquire()
        if claimed_trials(study) >= settings.n_trials:
            lock.release()
            if counted_trials(study) >= settings.n_trials or not keeps_heartbeat(study):
                break
            if not fail_stale(study):  # else a retry of the dead host's trial waits: claim it
                observer.waiting_for([t.number for t in others_running(study)])
                time.sleep(WAIT_POLL_S)  # until the others' trials end or their heartbeat goes stale
            continue
        try:
            study.optimize(claimed_then_run, n_trials=1, catch=(Exception,))
        finally:
            lock.release()
        objective.raise_recording_error()  # the trial is stored with its own outcome; the search stops here
        if ran:
            streak.record(study.get_trials(deepcopy=False)[ran.pop()])
    observer.search_ended(study)
    return study
