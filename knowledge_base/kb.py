"""KnowledgeBase: the one object the rest of nasflow uses to record and ask."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import URL

from knowledge_base import advice, migrate
from knowledge_base.backend import (
    connection_error,
    create_engine,
    normalize_url,
    redact,
    sqlite_refresh_statistics,
    writing,
)
from knowledge_base.errors import BackendError, KnowledgeBaseError, QueryError, RecordError
from knowledge_base.query.compiler import compile_query
from knowledge_base.query.parser import parse
from knowledge_base.rawsql import run_readonly
from knowledge_base.reader import add_details, load_evaluations, load_tasks, run_query, tasks_result
from knowledge_base.records import EvaluationRecord, TaskRecord
from knowledge_base.result import QueryResult
from knowledge_base.schema import architectures, evaluations, tasks
from knowledge_base.similarity import rank_by_similarity
from knowledge_base.writer import TaskCache, write_evaluations

ANALYZE_FROM_ROWS = 1000


class KnowledgeBase:
    """A knowledge base at a SQLite file or PostgreSQL URL; the constructor migrates it to the newest schema."""

    def __init__(self, url: str | URL, *, upgrade: bool = True) -> None:
        self._url = normalize_url(url)
        self.engine = create_engine(self._url)
        self._task_ids: TaskCache = {}  # tasks this object has stored, so that a trial costs no task look-up
        self._analyze_at = ANALYZE_FROM_ROWS  # SQLite: refresh planner statistics when evaluations reach this
        if upgrade:
            self.upgrade()

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return redact(self._url)

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"KnowledgeBase({self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> None:
        """Migrate to `revision` (default: the newest); idempotent and safe to call from several processes."""
        migrate.upgrade(self.engine, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        with self._connect() as connection:
            return migrate.current_revision(connection)

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sa.Connection]:
        """A connection in a transaction; database errors become BackendError / RecordError / QueryError."""
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as exc:
            raise connection_error(self._url, exc) from exc
        try:
            with connection, (writing(connection) if write else connection).begin():
                yield connection
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # locked, disk full, connection lost
            reason = str(exc.orig).strip().splitlines()[0]
            raise BackendError(
                f"the knowledge base at {self.url} failed: {reason}; check the database and retry."
            ) from exc
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            if write:
                raise RecordError(f"the database refused the record: {reason}; check the values recorded.") from exc
            raise QueryError(f"the database refused the query: {reason}; simplify the query.") from exc

    # -- writing --------------------------------------------------------------------------------------
    def record(self, evaluation: EvaluationRecord) -> int:
        """Store one evaluation (upserting its task and architecture); returns its id."""
        return self.record_many([evaluation])[0]

    def record_many(self, evaluations_: Sequence[EvaluationRecord]) -> list[int]:
        """Store evaluations in one transaction; returns their ids in order."""
        for item in evaluations_:
            if not isinstance(item, EvaluationRecord):
                raise RecordError(f"record_many got {type(item).__name__} {item!r}; pass EvaluationRecord objects.")
        task_ids = dict(self._task_ids)
        with self._connect(write=True) as connection:
            ids = write_evaluations(connection, list(evaluations_), task_ids)
        self._task_ids = task_ids
        if ids and self.backend == "sqlite" and max(ids) >= self._analyze_at:
            with self._connect(write=True) as connection:
                self._analyze_at = max(sqlite_refresh_statistics(connection, max(ids)), ANALYZE_FROM_ROWS)
        return ids

    # -- asking ---------------------------------------------------------------------------------------
    def query(self, text: str, *, details: bool = False) -> QueryResult:
        """Evaluations matching a filter query, e.g. "task = 'digits' and test_accuracy >= 0.97 order by params";
        with ``details``, also every training setting and lineage key as ``settings.<key>`` / ``lineage.<key>``."""
        if not isinstance(text, str):
            raise QueryError(f"query must be a string, got {type(text).__name__} {text!r}.")
        parsed = parse(text)
        with self._connect() as connection:
            result = run_query(connection, compile_query(text, parsed, connection))
            return add_details(connection, result) if details else result

    def sql(self, statement: str) -> QueryResult:
        """Run one read-only SQL statement; anything that writes raises QueryError."""
        try:
            return run_readonly(self.engine, statement)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise connection_error(self._url, exc) from exc

    def get(self, evaluation_id: int) -> EvaluationRecord:
        """The evaluation with this id; KnowledgeBaseError when there is none."""
        with self._connect() as connection:
            found = load_evaluations(connection, evaluations.c.id == evaluation_id, limit=1)
        if not found:
            raise KnowledgeBaseError(f"no evaluation with id {evaluation_id!r}; list ids with kb.query('order by id').")
        return found[0]

    def tasks(self) -> QueryResult:
        """Every task with its meta-features and number of evaluations."""
        with self._connect() as connection:
            return tasks_result(connection)

    def task(self, name: str) -> TaskRecord:
        """The newest version (content hash) of the task called `name`."""
        with self._connect() as connection:
            every = load_tasks(connection)
        found = [task for task in every if task.name == name]
        if not found:
            known = sorted({task.name for task in every})
            raise KnowledgeBaseError(
                f"unknown task {name!r}; known tasks: {', '.join(known) or '(none recorded yet)'}."
            )
        return found[-1]

    def similar_tasks(self, task: str | dict[str, Any], k: int = 5) -> list[tuple[TaskRecord, float]]:
        """The `k` tasks nearest by meta-feature distance to a task name (excluding that task) or a meta dict."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise QueryError(f"k = {k!r} must be a whole number >= 1.")
        meta = self.task(task).meta if isinstance(task, str) else task
        if not isinstance(meta, dict):
            raise QueryError(f"similar_tasks needs a task name or a meta-feature dict, got {task!r}.")
        with self._connect() as connection:
            candidates = [t for t in load_tasks(connection) if not (isinstance(task, str) and t.name == task)]
        return rank_by_similarity(meta, candidates)[:k]

    def similar(
        self, task: str | dict[str, Any], k: int = 5, metrics: tuple[str, ...] = ("test_accuracy", "val_accuracy")
    ) -> QueryResult:
        """`similar_tasks` as a table, with each task's best architecture (by the first of `metrics` recorded)."""
        ranked = self.similar_tasks(task, k)
        with self._connect() as connection:
            return advice.similar_result(connection, ranked, metrics)

    def best(
        self,
        task_name: str,
        max_params: float | None = None,
        max_latency_ms: float | None = None,
        metric: str = "test_accuracy",
        kind: str | None = None,
        *,
        maximize: bool = True,
        limit: int | None = 10,
        details: bool = False,
    ) -> QueryResult:
        """The best complete evaluations of a task by `metric` within a budget, best first (an unknown task
        raises, naming the known ones); ``details`` adds the settings and lineage columns, as for `query`."""
        self.task(task_name)
        budget = {"params": max_params, "latency_ms": max_latency_ms}
        with self._connect() as connection:
            result = advice.best(connection, task_name, budget, metric, kind=kind, maximize=maximize, limit=limit)
            return add_details(connection, result) if details else result

    def pareto(
        self,
        task_name: str,
        metric: str = "test_accuracy",
        cost: str = "params",
        *,
        kind: str | None = None,
        maximize: bool = True,
    ) -> QueryResult:
        """The Pareto front of a task over `metric` and `cost` (params, flops, latency_ms or wall_time_s)."""
        with self._connect() as connection:
            return advice.pareto(connection, task_name, metric, cost, kind, maximize)

    def warm_start(
        self,
        task_meta: dict[str, Any],
        model_name: str,
        k: int = 5,
        exclude_hash: str | None = None,
        *,
        metric: str = "val_accuracy",
        maximize: bool = True,
    ) -> list[advice.WarmStart]:
        """Top-`k` configurations of `model_name` from the most similar past tasks, with where each comes from."""
        with self._connect() as connection:
            return advice.warm_starts(
                connection, task_meta, model_name, k, exclude_hash=exclude_hash, metric=metric, maximize=maximize
            )

    def warm_start_configs(
        self, task_meta: dict[str, Any], model_name: str, k: int = 5, exclude_hash: str | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        """The param dicts of `warm_start` (options: metric, maximize)."""
        return [start.params for start in self.warm_start(task_meta, model_name, k, exclude_hash, **options)]

    def lookup_fingerprint(
        self, content_hash: str, fingerprint: str, model_name: str, *, kind: str | None = "trial",
        settings: Mapping[str, Any] | None = None,
    ) -> EvaluationRecord | None:
        """The newest complete evaluation of this architecture on data with this content hash, for reuse;
        with ``settings``, only one trained with exactly these training settings."""
        where = sa.and_(
            tasks.c.content_hash == content_hash,
            architectures.c.model_name == model_name,
            architectures.c.identity == fingerprint,  # the unique (model_name, identity) index finds it
            architectures.c.fingerprint == fingerprint,
            evaluations.c.state == "complete",
            evaluations.c.kind == kind if kind is not None else sa.true(),
        )
        with self._connect() as connection:
            found = load_evaluations(connection, where, limit=1 if settings is None else None)
        matching = [r for r in found if settings is None or r.settings == dict(settings)]
        return matching[0] if matching else None
