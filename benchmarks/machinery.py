"""Part 3: what nasflow's machinery costs per trial with the default stores, training replaced by nothing.

The search is wired as ``nasflow search`` wires it (``workflows.search_run.search_in_process``): the composed
default config, the digits data and DigitsCNN factory, the Optuna study in its default journal file, MLflow in
SQLite through ``MlflowSearchObserver`` (its calls run on a background writer thread; the time that thread spends
is reported beside the figure), the knowledge base in SQLite through ``KnowledgeBaseObserver``, fingerprint reuse
and the median pruner. The evaluator only reports per-epoch metrics. Each part is timed by a thin wrapper around
the real object (``nas.search.measure_cost`` is swapped for a timed call of itself during the search); the sampler's
training-free score (``search.proxy``: it builds and scores candidate configurations) is a part of its own.
The baseline is the naive setup: Optuna on SQLite and one MLflow fluent call per value, in nested runs.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.table import Figure, PartResult

TARGET_MS = 25.0
MACHINERY = ("sampling", "training-free score", "MLflow", "knowledge base", "reuse look-up", "epoch reports + pruning",
             "rest")
MODEL_WORK = ("model build", "fingerprint", "cost measurement")


class Clock:
    """Per-trial buckets of time spent in named parts; a new bucket starts when a trial samples.

    A part's time is its own: a timed call inside another one is counted in its part only, never in both.
    """

    def __init__(self) -> None:
        self.trials: list[dict[str, float]] = []
        self.starts: list[float] = []
        self._nested: list[float] = []  # per open timed call: seconds spent in timed calls inside it

    def new_trial(self) -> None:
        self.starts.append(time.perf_counter())
        self.trials.append(defaultdict(float))

    def add(self, part: str, seconds: float) -> None:
        if self.trials:
            self.trials[-1][part] += seconds

    def timed(self, part: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        self._nested.append(0.0)
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            self.add(part, elapsed - self._nested.pop())
            if self._nested:
                self._nested[-1] += elapsed


class TimedSpace:
    """The search space, its sampling timed (each call starts a trial's bucket)."""

    def __init__(self, space: Any, clock: Clock) -> None:
        self.space, self.clock = space, clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self.space, name)

    def sample(self, trial: Any) -> dict[str, Any]:
        self.clock.new_trial()
        return self.clock.timed("sampling", self.space.sample, trial)


class TimedFactory:
    """The model factory, its builds timed."""

    def __init__(self, factory: Any, clock: Clock) -> None:
        self.factory, self.clock = factory, clock
        self.space = TimedSpace(factory.space, clock)

    def build(self, params: dict[str, Any]) -> Any:
        return self.clock.timed("model build", self.factory.build, params)


class TimedObserver:
    """A search observer whose every event is timed under ``part``."""

    def __init__(self, inner: Any, part: str, clock: Clock) -> None:
        self.inner, self.part, self.clock = inner, part, clock

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        return lambda *args, **kwargs: self.clock.timed(self.part, method, *args, **kwargs)


class TimedClient:
    """An MLflow client whose calls add up in ``seconds`` (they run on the tracker's writer thread)."""

    def __init__(self, client: Any) -> None:
        self.client, self.seconds = client, 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed


class ReportingEvaluator:
    """Does no training: reports ``epochs`` rounds of made-up metrics, as a trial would, and times them."""

    def __init__(self, epochs: int, clock: Clock, seed: int = 0) -> None:
        self.epochs, self.clock, self.rng = epochs, clock, random.Random(seed)

    def __call__(self, model: Any, params: dict[str, Any], settings: Any, on_epoch: Any) -> None:
        level = self.rng.random()
        for epoch in range(self.epochs):
            accuracy = level * (epoch + 1) / self.epochs
            metrics = {"train_loss": 1 - accuracy, "val_accuracy": accuracy, "val_loss": 1 - accuracy}
            self.clock.timed("epoch reports + pruning", on_epoch, epoch, metrics)


@contextmanager
def timed_global(module: Any, name: str, part: str, clock: Clock) -> Iterator[None]:
    """Within the block, ``module.name`` is the same function, timed under ``part``."""
    original = getattr(module, name)
    setattr(module, name, lambda *args, **kwargs: clock.timed(part, original, *args, **kwargs))
    try:
        yield
    finally:
        setattr(module, name, original)


def nasflow_trials(folder: Path, digits: Path, n_trials: int, overrides: tuple[str, ...] = ()) -> tuple[Clock, float]:
    """Run the wired search with its workspace in ``folder`` (extra config ``overrides``); returns its clock and
    the MLflow writer thread's seconds per trial."""
    import nas.search as search_module
    from nas.observer import Observers
    from nas.proxy import make_score
    from nas.search import example_batch, fingerprint_key, run_search
    from workflows.config import compose_config
    from workflows.context import open_kb, prepare
    from workflows.kb_records import KnowledgeBaseObserver, task_record
    from workflows.search_run import reuse_from
    from workflows.tracking import MlflowSearchObserver, ensure_experiment, mlflow_client

    cfg = compose_config([f"workspace={folder}", f"data.path={digits}", f"search.n_trials={n_trials}",
                          *overrides])
    ctx = prepare(cfg)
    clock = Clock()
    client = mlflow_client(ctx.ws)
    experiment = ensure_experiment(client, ctx.ws)  # created once before the search, as nasflow does
    tracker = MlflowSearchObserver(TimedClient(client), experiment, {"nasflow.study": ctx.ws.study_name}, {"bench": 1})
    kb = open_kb(ctx.ws)
    recorder = KnowledgeBaseObserver(kb, task_record(ctx.data), ctx.ws.model, ctx.train_settings.as_dict(),
                                     ctx.lineage, tracker.trial_runs)
    observers = Observers([TimedObserver(tracker, "MLflow", clock), TimedObserver(recorder, "knowledge base", clock)])
    lookup = reuse_from(ctx, kb)

    def arch_key(model: Any, example: Any, params: dict[str, Any]) -> str:
        return clock.timed("fingerprint", fingerprint_key, model, example, params)

    # the sampler's training-free score on the untimed factory: its builds are sampling work, not a trial's
    score = make_score(ctx.search_settings.proxy, ctx.factory.build, example_batch(ctx.data, ctx.train_settings))
    with timed_global(search_module, "measure_cost", "cost measurement", clock):
        run_search(TimedFactory(ctx.factory, clock), ctx.data, ctx.train_settings, ctx.search_settings, observers,
                   arch_key=arch_key, evaluator=ReportingEvaluator(ctx.train_settings.epochs, clock),
                   reuse=lambda key: clock.timed("reuse look-up", lookup, key),
                   score=None if score is None else lambda params: clock.timed("training-free score", score, params))
    kb.close()
    return clock, tracker.client.seconds / max(1, len(clock.trials))


def naive_trials(folder: Path, digits: Path, n_trials: int, epochs: int) -> list[float]:
    """Optuna on SQLite, one MLflow fluent call per parameter and metric value; seconds per trial."""
    import mlflow
    import optuna

    from nas.data import load_data_folder
    from nas.extract import make_factory
    from nas.factory import DataShape
    from nas.model_file import ModelSpec

    data = load_data_folder(digits)
    spec = ModelSpec(Path(__file__).resolve().parents[1] / "examples/models/digits_cnn.py", "DigitsCNN")
    space = make_factory(spec, DataShape(tuple(data.input_shape), data.n_classes)).space
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'naive-mlflow.db'}")
    mlflow.set_experiment("naive")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{folder / 'naive-optuna.db'}", direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    rng, starts = random.Random(0), []

    def objective(trial: Any) -> float:
        starts.append(time.perf_counter())
        with mlflow.start_run(nested=True):
            params = space.sample(trial)
            for key, value in params.items():
                mlflow.log_param(key, value)
            level, accuracy = rng.random(), 0.0
            for epoch in range(epochs):
                accuracy = level * (epoch + 1) / epochs
                metrics = {"train_loss": 1 - accuracy, "val_accuracy": accuracy, "val_loss": 1 - accuracy}
                for key, value in metrics.items():
                    mlflow.log_metric(key, value, step=epoch)
                trial.report(accuracy, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return accuracy

    with mlflow.start_run(run_name="naive-search"):
        study.optimize(objective, n_trials=n_trials)
    return [b - a for a, b in zip(starts, starts[1:])]


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def breakdown(clock: Clock) -> dict[str, Any]:
    """Median ms per trial of each part, of the whole trial, and of the machinery alone (no model work)."""
    totals = [b - a for a, b in zip(clock.starts, clock.starts[1:])]
    trials = clock.trials[:-1]  # the last bucket has no successor to close it
    per_part = {p: [t.get(p, 0.0) for t in trials] for p in (*MACHINERY[:-1], *MODEL_WORK)}
    per_part["rest"] = [total - sum(t.values()) for total, t in zip(totals, trials)]
    parts = {p: _median_ms(v) for p, v in per_part.items()}
    means = {p: statistics.fmean(v) * 1000 if v else float("nan") for p, v in per_part.items()}
    machinery = [total - sum(t.get(p, 0.0) for p in MODEL_WORK) for total, t in zip(totals, trials)]
    return {
        "trials": len(totals),
        "parts_ms": parts,
        "parts_mean_ms": means,
        "total_ms": _median_ms(totals),
        "machinery_ms": _median_ms(machinery),
    }


def _parts(parts: dict[str, float], names: tuple[str, ...]) -> str:
    return ", ".join(f"{p} {parts[p]:.1f}" for p in names)


def _measured(folder: Path, digits: Path, n_trials: int, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    clock, writer_s = nasflow_trials(folder, digits, n_trials, overrides)
    return {**breakdown(clock), "mlflow_writer_ms": writer_s * 1000}


def run(quick: bool = False) -> PartResult:
    """nasflow's wired search (and, in a full run, the same with the study in SQLite) and the naive setup,
    each on fresh stores in a temporary folder."""
    from nas.data import export_digits

    n_trials = 6 if quick else 60
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        digits = export_digits(folder / "digits")
        ours = _measured(folder / "default", digits, n_trials)
        sqlite = None
        if not quick:
            url = f"sqlite:///{folder / 'sqlite' / 'optuna.db'}"
            sqlite = _measured(folder / "sqlite", digits, n_trials, (f"search.storage={url}",))
        naive = _median_ms(naive_trials(folder, digits, n_trials, 6))
    naive_name = "Optuna SQLite + MLflow call per value"
    figures = [
        Figure(
            "machinery per trial (sampling, storage, pruning, MLflow, KB)",
            ours["machinery_ms"],
            "ms",
            baseline=naive,
            baseline_name=naive_name,
            target=TARGET_MS,
            higher_is_better=False,
            decimals=1,
            note=f"median of {ours['trials']} trials, default stores (study: journal file; MLflow, KB: SQLite); "
            f"parts: {_parts(ours['parts_ms'], MACHINERY)} (rest: trial creation and finish, user attributes, "
            f"lock; the training-free score builds and scores a new incumbent's neighbours at once, "
            f"{ours['parts_mean_ms']['training-free score']:.1f} ms per trial on average); MLflow's writer "
            f"thread spent {ours['mlflow_writer_ms']:.1f} ms per trial beside the trial (during training in a "
            "real search)",
        ),
        Figure(
            "whole trial overhead incl. model build, fingerprint, cost",
            ours["total_ms"],
            "ms",
            baseline=naive,
            baseline_name="naive, builds no model",
            higher_is_better=False,
            decimals=1,
            note=f"DigitsCNN; {_parts(ours['parts_ms'], MODEL_WORK)}",
        ),
    ]
    if sqlite is not None:
        figures.insert(
            1,
            Figure(
                "machinery per trial, study in SQLite (search.storage=sqlite://)",
                sqlite["machinery_ms"],
                "ms",
                baseline=naive,
                baseline_name=naive_name,
                higher_is_better=False,
                decimals=1,
                note="same search, Optuna study in SQLite (RDBStorage); parts: "
                f"{_parts(sqlite['parts_ms'], MACHINERY)}",
            ),
        )
    return PartResult(
        "machinery", figures, {"n_trials": n_trials, "default": ours, "sqlite": sqlite, "naive_median_ms": naive}
    )
