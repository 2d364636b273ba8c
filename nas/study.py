"""Optuna studies: samplers, pruners, storages, directions and the total trial budget across restarts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from nas.constraints import Constraints
from nas.errors import SearchError, one_line
from nas.failures import DEFAULT_MAX_FAILURES

if TYPE_CHECKING:
    from nas.samplers import Score
    from nas.space import SearchSpace

SAMPLERS = ("local", "tpe", "random", "gp", "cmaes", "nsga2")
PRUNERS = ("median", "hyperband", "successive_halving", "none")
COUNTED_STATES = ("COMPLETE", "PRUNED")
HEARTBEAT_S, GRACE_S = 10, 30
STORAGE_FIX = "check search.storage (sqlite:///path, journal:///path or postgresql://...)"
SCHEMA_LOCK = "nasflow:optuna-schema"  # the advisory lock PostgreSQL workers create Optuna's tables under


@dataclass(frozen=True)
class SearchSettings:
    """How to search: budget, sampler, pruner, storage, objectives, constraints and the selection rule."""

    n_trials: int = 20
    timeout: float | None = None
    sampler: str = "local"
    proxy: str = "synflow"
    pruner: str = "median"
    seed: int = 0
    storage: str | None = None
    study_name: str = "nasflow"
    metric: str = "val_accuracy"
    costs: tuple[str, ...] = ()
    constraints: Constraints = field(default_factory=Constraints)
    select: Constraints = field(default_factory=Constraints)
    max_failures: int = DEFAULT_MAX_FAILURES
    heartbeat: int = HEARTBEAT_S  # seconds between an RDB worker's beats while it runs a trial
    grace_period: int = GRACE_S  # seconds without a beat after which another worker fails and retries the trial

    def __post_init__(self) -> None:
        from nas.limits import SEARCH_LIMITS, check_heartbeat, check_limits

        check_limits(self.__dict__, SEARCH_LIMITS, "SearchSettings.")
        check_heartbeat(self.heartbeat, self.grace_period)

    @property
    def multi_objective(self) -> bool:
        """Whether the search trades the metric against cost objectives (a Pareto search)."""
        return bool(self.costs)

    @property
    def directions(self) -> list[Literal["minimize", "maximize"]]:
        """Optuna directions: the metric first, then every cost (minimized)."""
        first: Literal["minimize", "maximize"] = "minimize" if self.metric.endswith("loss") else "maximize"
        return [first] + ["minimize"] * len(self.costs)


def make_sampler(name: str, seed: int, multi_objective: bool = False, score: Score | None = None) -> Any:
    """The seeded Optuna sampler called ``name``.

    ``local`` (the default) is :class:`nas.samplers.LocalSearchSampler` (random start, then local search around
    the best trials, helped by the training-free ``score`` if given); a Pareto search has no single best trial,
    so there it is multivariate TPE. The other samplers do not use ``score``.
    """
    import optuna

    if name == "local" and not multi_objective:
        from nas.samplers import LocalSearchSampler

        return LocalSearchSampler(seed=seed, score=score)
    if name in ("local", "tpe"):
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
    if name == "cmaes":
        if multi_objective:
            raise SearchError(
                "search.sampler=cmaes cannot do a Pareto search; use tpe, nsga2, gp or random with search.costs"
            )
        return optuna.samplers.CmaEsSampler(seed=seed)
    raise SearchError(f"unknown sampler '{name}'; use one of {', '.join(SAMPLERS)} (search.sampler=...)")


def make_pruner(name: str) -> Any:
    """The Optuna pruner called ``name`` (per-epoch validation metric)."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SearchError(f"unknown pruner '{name}'; use one of {', '.join(PRUNERS)} (search.pruner=...)")


def is_journal(url: str | None) -> bool:
    """Whether ``url`` names a JournalFileStorage (``journal:///path`` or a ``.journal``/``.log`` file)."""
    return url is not None and (url.startswith("journal:") or url.endswith((".journal", ".log")))


def storage_path(url: str) -> str:
    """The file a journal or SQLite storage URL names (``journal:///p``, ``sqlite:///p``, ``journal:p`` or ``p``)."""
    return url.split("://", 1)[1] if "://" in url else url.removeprefix("journal:")


def make_storage(url: str | None, heartbeat: int = HEARTBEAT_S, grace_period: int = GRACE_S) -> Any:
    """An Optuna storage for ``url``: in-memory (None), a journal file or an RDB (SQLite, PostgreSQL) whose workers
    beat every ``heartbeat`` seconds, their trial failed and retried after ``grace_period`` seconds without a beat."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback

    from nas.journal import LocalJournalFile

    if url is None:
        return None
    if is_journal(url):
        return JournalStorage(LocalJournalFile(storage_path(url)))
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def build() -> RDBStorage:
        return RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat, grace_period=grace_period,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))

    if not url.startswith("postgresql"):
        return build()
    from nas.locks import PostgresLock

    lock = PostgresLock(url, SCHEMA_LOCK)  # two hosts creating a fresh schema at once race on CREATE TYPE
    try:
        with lock:
            return build()
    finally:
        if lock.connection is not None:
            lock.connection.close()


def _sampler(settings: SearchSettings, score: Score | None) -> Any:
    try:
        return make_sampler(settings.sampler, settings.seed, settings.multi_objective, score)
    except ValueError as exc:
        raise SearchError(
            f"search.seed={settings.seed} cannot seed the {settings.sampler} sampler: {exc}; "
            "use a seed between 0 and 2**32 - 1"
        ) from exc


def _same_directions(study: Any, settings: SearchSettings) -> Any:
    if [d.name.lower() for d in study.directions] != settings.directions:
        raise SearchError(
            f"study '{settings.study_name}' was created with directions {[d.name.lower() for d in study.directions]} "
            f"but search.costs={list(settings.costs)} asks for {settings.directions}; use another search.study_name"
        )
    return study


def open_study(settings: SearchSettings, score: Score | None = None) -> Any:
    """Create the study, or load it if it exists in ``settings.storage`` (resume); ``score`` is the training-free
    score the sampler may use (:func:`make_sampler`)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = _sampler(settings, score)
    try:
        study = optuna.create_study(
            study_name=settings.study_name,
            storage=make_storage(settings.storage, settings.heartbeat, settings.grace_period),
            sampler=sampler,
            pruner=make_pruner(settings.pruner),
            directions=settings.directions,
            load_if_exists=True,
        )
    except SearchError:
        raise
    except Exception as exc:
        raise SearchError(
            f"cannot open study '{settings.study_name}' in storage '{settings.storage}': {one_line(exc)}; "
            + STORAGE_FIX
        ) from exc
    return _same_directions(study, settings)


def study_names(url: str | None) -> list[str]:
    """The studies stored at ``url``; a journal or SQLite file that does not exist holds none (and is not created)."""
    import os

    import optuna

    if url is None or ((is_journal(url) or url.startswith("sqlite")) and not os.path.exists(storage_path(url))):
        return []
    try:
        return sorted(optuna.get_all_study_names(storage=make_storage(url)))
    except SearchError:
        raise
    except Exception as exc:
        raise SearchError(f"cannot read the studies in storage '{url}': {one_line(exc)}; {STORAGE_FIX}") from exc


def open_existing_study(settings: SearchSettings) -> Any:
    """Load the study of ``settings`` for reading (export, retrain), writing nothing; refuse if there is none."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = study_names(settings.storage)
    if settings.study_name not in names:
        there = f"its studies: {', '.join(names)}" if names else "it holds no study yet"
        raise SearchError(
            f"no study '{settings.study_name}' in storage '{settings.storage}' ({there}); run 'nasflow search' "
            "first, or set search.study_name (or model= and data=) to the study's"
        )
    study = optuna.load_study(study_name=settings.study_name, storage=make_storage(settings.storage),
                              sampler=_sampler(settings, None), pruner=make_pruner(settings.pruner))
    return _same_directions(study, settings)


def count_trials(study: Any, states: tuple[str, ...]) -> int:
    """How many trials of ``study`` are in one of ``states`` (``TrialState`` names, e.g. ``("COMPLETE",)``)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=tuple(getattr(TrialState, s) for s in states)))


def counted_trials(study: Any) -> int:
    """Trials that count toward the budget: completed or pruned ones, from every run of the study."""
    return count_trials(study, COUNTED_STATES)


def enqueue_first(study: Any, warm_starts: Iterable[Mapping[str, Any]], space: SearchSpace | None = None,
                  defaults: bool = True) -> int:
    """Enqueue a study's first trials: ``space``'s default configuration (if ``defaults``), then ``warm_starts``
    clipped into ``space`` (as given without one). Empty and repeated configurations are skipped, and so is one the
    study already holds; returns how many distinct configurations were offered."""
    configs = [space.defaults()] if space is not None and defaults else []
    configs += [space.clip(w) if space is not None else dict(w) for w in warm_starts]
    unique: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for params in configs:
        if params:
            unique.setdefault(tuple(sorted(params.items())), params)
    for params in unique.values():
        study.enqueue_trial(params, skip_if_exists=True)
    return len(unique)
