"""The callback interface through which a search reports progress (tracking, knowledge base, progress bars)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nas.cost import ModelCost


@dataclass
class TrialResult:
    """What one trial produced, whatever its outcome."""

    number: int
    state: str
    params: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    cost: ModelCost | None = None
    wall_time_s: float = 0.0
    error: str | None = None
    fingerprint: str | None = None


class SearchObserver:
    """Receives search events; every method is a no-op unless overridden."""

    def search_started(self, study_name: str, n_trials: int, n_done: int) -> None:
        """Before the first new trial; ``n_done`` trials finished in earlier runs of the same study."""

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        """A trial sampled ``params`` and is about to build and train."""

    def epoch_ended(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        """One training epoch of trial ``number`` finished."""

    def trial_ended(self, result: TrialResult) -> None:
        """A trial finished (complete, pruned, failed or reused)."""

    def waiting_for(self, numbers: list[int]) -> None:
        """The budget is claimed; this worker waits for trials ``numbers`` of other workers (or hosts) to end."""

    def search_ended(self, study: Any) -> None:
        """The search stopped; ``study`` is the Optuna study."""


class Observers(SearchObserver):
    """Fans every event out to several observers, in order."""

    def __init__(self, observers: Iterable[SearchObserver]) -> None:
        self.observers = [o for o in observers if o is not None]

    def search_started(self, study_name: str, n_trials: int, n_done: int) -> None:
        for o in self.observers:
            o.search_started(study_name, n_trials, n_done)

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        for o in self.observers:
            o.trial_started(number, params)

    def epoch_ended(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        for o in self.observers:
            o.epoch_ended(number, epoch, metrics)

    def trial_ended(self, result: TrialResult) -> None:
        for o in self.observers:
            o.trial_ended(result)

    def waiting_for(self, numbers: list[int]) -> None:
        for o in self.observers:
            o.waiting_for(numbers)

    def search_ended(self, study: Any) -> None:
        for o in self.observers:
            o.search_ended(study)
