"""Rich progress bars on stderr: the search's trials and epochs, a retrain's epochs, one line per finished phase.

Each draws only on a terminal and when progress is wanted (``--no-progress`` hides it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from nas.observer import SearchObserver, TrialResult

if TYPE_CHECKING:
    from optuna import Study
    from rich.console import Console


class ProgressObserver(SearchObserver):
    """Shows trials done / budget and the current trial's epochs; prints nothing when disabled."""

    def __init__(self, epochs: int, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.epochs = epochs
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), console=Console(stderr=True), disable=not enabled, transient=False,
        )
        self.trials: Any = None
        self.epoch_task: Any = None
        self.counts = {"complete": 0, "pruned": 0, "failed": 0, "reused": 0}

    def search_started(self, study_name: str, n_trials: int, n_done: int) -> None:
        self.progress.start()
        self.trials = self.progress.add_task("trials", total=max(n_trials, n_done), completed=n_done, info=study_name)
        self.epoch_task = self.progress.add_task("epochs", total=self.epochs, info="")

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        self.progress.reset(self.epoch_task, total=self.epochs, info=f"trial {number}")

    def epoch_ended(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        acc = metrics.get("val_accuracy")
        info = f"trial {number} val_acc={acc:.3f}" if acc is not None else ""
        self.progress.update(self.epoch_task, completed=epoch + 1, info=info)

    def trial_ended(self, result: TrialResult) -> None:
        self.counts[result.state] = self.counts.get(result.state, 0) + 1
        info = " ".join(f"{k}={v}" for k, v in self.counts.items() if v)
        self.progress.update(self.trials, advance=1 if result.state != "failed" else 0, info=info)

    def waiting_for(self, numbers: list[int]) -> None:
        info = f"waiting for trial {', '.join(map(str, numbers))} of another worker"
        self.progress.update(self.epoch_task, info=info)

    def search_ended(self, study: Study) -> None:
        self.progress.stop()


class StudyProgress:
    """A progress bar that follows a study's finished trials (for searches run by worker processes)."""

    def __init__(self, study: Study, n_trials: int, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.study, self.n_trials = study, n_trials
        self.progress = Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=Console(stderr=True),
                                 disable=not enabled)
        self.task: Any = None

    def __enter__(self) -> StudyProgress:
        self.progress.start()
        self.task = self.progress.add_task("trials", total=self.n_trials, info="")
        return self

    def refresh(self) -> None:
        """Read the study's trial states and redraw."""
        from workflows.summary import trial_counts

        counts = trial_counts(self.study)
        done = counts.get("complete", 0) + counts.get("pruned", 0)
        self.progress.update(self.task, completed=done, info=" ".join(f"{k}={v}" for k, v in counts.items()))

    def __exit__(self, *_exc: object) -> None:
        self.refresh()
        self.progress.stop()


def _console(enabled: bool) -> Console | None:
    """The stderr console, or None when progress is not wanted or stderr is not a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    return console if enabled and console.is_terminal else None


def phase_line(text: str, enabled: bool = True) -> None:
    """One line on stderr as a phase (registering, exporting, a DVC stage) finishes."""
    console = _console(enabled)
    if console is not None:
        console.print(f"[bold]✓[/bold] {text}", highlight=False)


class EpochProgress:
    """The epochs of one training (a retrain): epoch k/N, the last train loss and the elapsed time."""

    def __init__(self, label: str, epochs: int, enabled: bool = True) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = _console(enabled)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                 console=console, disable=console is None)
        self.task = self.progress.add_task(label, total=epochs, info="")

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def epoch_ended(self, epoch: int, metrics: dict[str, float]) -> None:
        """Advance to ``epoch + 1`` and show its train loss."""
        self.progress.update(self.task, completed=epoch + 1, info=f"loss={metrics.get('train_loss', float('nan')):.4f}")

    def done(self, info: str) -> None:
        """Show the outcome on the finished bar."""
        self.progress.update(self.task, info=info)

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()
