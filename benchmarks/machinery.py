"""Part 3: what nasflow's machinery costs per trial with the default stores, training replaced by nothing.

The search is wired as ``nasflow search`` wires it (``workflows.search_run.search_in_process``): the composed
default config, the digits data and DigitsCNN factory, an Optuna study in SQLite, MLflow in SQLite through
``MlflowSearchObserver``, the knowledge base in SQLite through ``KnowledgeBaseObserver``, fingerprint reuse and
the median pruner. The evaluator only reports per-epoch metrics. Each part is timed by a thin wrapper around the
real object; cost measurement (``nas.cost.measure_cost``) is timed on the same model beside the search.
The baseline is the naive setup: Optuna on SQLite and one MLflow fluent call per value, in nested runs.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.table import Figure, PartResult

TARGET_MS = 25.0
MACHINERY = ("sampling", "MLflow", "knowledge base", "reuse look-up", "epoch reports + pruning", "rest")
MODEL_WORK = ("model build", "fingerprint", "cost measurement")


class Clock:
    """Per-trial buckets of time spent in named parts; a new bucket starts when a trial samples."""

    def __init__(self) -> None:
        self.trials: list[dict[str, float]] = []
        self.starts: list[float] = []

    def new_trial(self) -> None:
        self.starts.append(time.perf_counter())
        self.trials.append(defaultdict(float))

    def add(self, part: str, seconds: float) -> None:
        if self.trials:
            self.trials[-1][part] += seconds

    def timed(self, part: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.add(part, time.perf_counter() - start)


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


def nasflow_trials(folder: Path, digits: Path, n_trials: int) -> tuple[Clock, float]:
    """Run the wired search in ``folder``; returns the clock and the median cost-measurement time (s)."""
    from nas.cost import measure_cost
    from nas.observer import Observers
    from nas.search import fingerprint_key, run_search
    from workflows.config import compose_config
    from workflows.kb_records import KnowledgeBaseObserver, task_record
    from workflows.pipeline import open_kb, prepare
    from workflows.search_run import reuse_from
    from workflows.tracking import MlflowSearchObserver, ensure_experiment, mlflow_client

    cfg = compose_config([f"workspace={folder / 'ws'}", f"data.path={digits}", f"search.n_trials={n_trials}"])
    ctx = prepare(cfg)
    clock = Clock()
    client = mlflow_client(ctx.ws)
    experiment = ensure_experiment(client, ctx.ws)  # created once before the search, as nasflow does
    tracker = MlflowSearchObserver(client, experiment, {"nasflow.study": ctx.ws.study_name}, {"bench": 1})
    kb = open_kb(ctx.ws)
    recorder = KnowledgeBaseObserver(kb, task_record(ctx.data), ctx.ws.model, ctx.train_settings.as_dict(),
                                     ctx.lineage, tracker.trial_runs)
    observers = Observers([TimedObserver(tracker, "MLflow", clock), TimedObserver(recorder, "knowledge base", clock)])
    lookup = reuse_from(ctx, kb)

    def arch_key(model: Any, example: Any, params: dict[str, Any]) -> str:
        return clock.timed("fingerprint", fingerprint_key, model, example, params)

    run_search(TimedFactory(ctx.factory, clock), ctx.data, ctx.train_settings, ctx.search_settings, observers,
               arch_key=arch_key, evaluator=ReportingEvaluator(ctx.train_settings.epochs, clock),
               reuse=lambda key: clock.timed("reuse look-up", lookup, key))
    model = ctx.factory.build(ctx.factory.space.defaults())
    example = ctx.data.split("train")[0][: ctx.train_settings.batch_size]
    costs = []
    for _ in range(20):
        start = time.perf_counter()
        measure_cost(model, example)
        costs.append(time.perf_counter() - start)
    kb.close()
    return clock, statistics.median(costs)


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
                for key, value in {"train_loss": 1 - accuracy, "val_accuracy": accuracy, "val_loss": 1 - accuracy}.items():
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


def run(quick: bool = False) -> PartResult:
    """nasflow's wired search and the naive setup, each on fresh stores in a temporary folder."""
    from nas.data import export_digits

    n_trials = 6 if quick else 60
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        digits = export_digits(folder / "digits")
        clock, cost_s = nasflow_trials(folder, digits, n_trials)
        naive = naive_trials(folder, digits, n_trials, 6)
    totals = [b - a for a, b in zip(clock.starts, clock.starts[1:])]
    trials = clock.trials[:-1]
    per_part = {p: [t.get(p, 0.0) for t in trials] for p in (*MACHINERY[:-1], *MODEL_WORK[:-1])}
    rests = [total - sum(t.values()) - cost_s for total, t in zip(totals, trials)]
    per_part["rest"] = rests
    parts_ms = {p: _median_ms(v) for p, v in per_part.items()}
    parts_ms["cost measurement"] = cost_s * 1000
    machinery = [total - t.get("model build", 0) - t.get("fingerprint", 0) - cost_s for total, t in zip(totals, trials)]
    shown = ", ".join(f"{p} {parts_ms[p]:.1f}" for p in MACHINERY)
    model_work = ", ".join(f"{p} {parts_ms[p]:.1f}" for p in MODEL_WORK)
    figures = [
        Figure("machinery per trial (sampling, storage, pruning, MLflow, KB)", _median_ms(machinery), "ms",
               baseline=_median_ms(naive), baseline_name="Optuna SQLite + MLflow call per value", target=TARGET_MS,
               higher_is_better=False, decimals=1, note=f"median ms of {len(totals)} trials; parts: {shown}"),
        Figure("whole trial overhead incl. model build, fingerprint, cost", _median_ms(totals), "ms",
               baseline=_median_ms(naive), baseline_name="naive, no model", higher_is_better=False, decimals=1,
               note=f"DigitsCNN; {model_work}"),
    ]
    return PartResult("machinery", figures, {"n_trials": n_trials, "parts_median_ms": parts_ms,
                                             "total_median_ms": _median_ms(totals),
                                             "machinery_median_ms": _median_ms(machinery),
                                             "naive_median_ms": _median_ms(naive)})
