"""A search observer that remembers every event, for assertions."""

from __future__ import annotations

from nas.observer import SearchObserver, TrialResult


class Recorder(SearchObserver):
    """Keeps search starts, epochs (and so which trials trained) and every trial result."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.trained: set[int] = set()
        self.results: list[TrialResult] = []

    def search_started(self, study_name: str, n_trials: int, n_done: int) -> None:
        self.events.append(("start", n_trials, n_done))

    def epoch_ended(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self.events.append(("epoch", number, epoch))
        self.trained.add(number)

    def trial_ended(self, result: TrialResult) -> None:
        self.results.append(result)
