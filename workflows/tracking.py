"""MLflow tracking: one parent run per search, one nested run per trial, batched metric logging."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.locks import StudyLock
from nas.observer import SearchObserver, TrialResult
from workflows.errors import WorkflowError
from workflows.open_searches import note_open_search
from workflows.pause import pause_at
from workflows.tracking_server import (
    answers,
    configure_retries,
    configured_retries,
    describe,
    is_server,
    request_error,
    retry_seconds,
    unavailable,
)
from workflows.workspace import Workspace

# a pruned trial ended as the pruner asked: FINISHED (not KILLED, which reads as a crash), with tag ``pruned``
RUN_STATUS = {"complete": "FINISHED", "reused": "FINISHED", "pruned": "FINISHED", "failed": "FAILED"}
PRUNED_TAG = "pruned"
# the MLflow 3 UI opens an experiment of this kind on its runs table ("Machine learning"), not the GenAI overview
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
MAX_UNWRITTEN = 1000  # finished trials whose runs a search keeps while the tracking server does not answer
PROBE_S = 2.0  # the least time between two health checks of a tracking server that does not answer
UNWRITTEN_ATTR = "nasflow.mlflow_unwritten:"  # study attribute (+ worker): the trials whose runs it left unwritten


def mlflow_client(ws: Workspace) -> Any:
    """An ``MlflowClient`` on the workspace store (tracking and registry), a SQLite store created whole first;
    calls to a tracking server (and every other MLflow call of this process) are retried for ``tracking.retry_s``
    (:mod:`workflows.tracking_server`)."""
    from mlflow import MlflowClient

    from workflows.mlflow_store import ensure_sqlite_store

    if is_server(ws.mlflow_uri):
        configure_retries(ws.tracking_retry_s, ws.tracking_timeout_s)
    ensure_sqlite_store(ws.mlflow_uri, ws.artifact_root)
    return MlflowClient(tracking_uri=ws.mlflow_uri, registry_uri=ws.mlflow_uri)


def ensure_experiment(client: Any, ws: Workspace) -> str:
    """The experiment id, creating the store and experiment once (before any worker starts).

    A local store keeps artifacts in the workspace; a tracking server chooses their place itself (its served
    artifacts or its default root), since a folder of one host is not there on the others.
    """
    found = client.get_experiment_by_name(ws.experiment)
    if found is not None:
        if EXPERIMENT_KIND_TAG not in found.tags:  # made by an older nasflow, or by hand
            client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return found.experiment_id
    location = None
    if not is_server(ws.mlflow_uri):
        ws.artifact_root.mkdir(parents=True, exist_ok=True)
        location = ws.artifact_root.as_uri()
    try:
        return client.create_experiment(ws.experiment, artifact_location=location,
                                        tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    except Exception:  # another process created it first
        return client.get_experiment_by_name(ws.experiment).experiment_id


def fail_orphan_runs(client: Any, experiment_id: str, study_name: str,
                     stale: Collection[str] = (), storage: str | None = None) -> list[str]:
    """Mark FAILED (with the reason in tag ``nasflow.failed_reason``) every RUNNING run of ``study_name``
    (trials, searches, retrains) whose process died on this host, is one of ``stale`` (workers whose trial the
    storage heartbeat failed: a host that stopped), or ran on another host and left its lease on the study's
    PostgreSQL ``storage`` (:mod:`nas.liveness`), and every model such a run was still logging."""
    from nas.liveness import gone_workers
    from nas.recovery import worker_id

    runs = client.search_runs([experiment_id], filter_string=f"tags.`nasflow.study` = '{study_name}' "
                              "and attributes.status = 'RUNNING'", max_results=1000)
    gone = gone_workers(storage, {r.data.tags.get("nasflow.worker", "") for r in runs})
    dead = [(r.info.run_id, r.data.tags["nasflow.worker"]) for r in runs
            if r.data.tags.get("nasflow.worker", "") in {*stale, *gone}]
    for run_id, worker in dead:
        how = "stopped beating (storage heartbeat)" if worker in stale else "died"
        client.set_tag(run_id, "nasflow.failed_reason", f"process {worker} {how} while this run was open; "
                                                         f"ended by {worker_id()}")
        client.set_terminated(run_id, "FAILED")
        for model in client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'"):
            if model.status == "PENDING":
                client.finalize_logged_model(model.model_id, "FAILED")
    return [run_id for run_id, _ in dead]


def trial_runs(client: Any, experiment_id: str, study_name: str) -> dict[int, Any]:
    """The MLflow trial runs of ``study_name`` by trial number (found by tag ``nasflow.trial``; a complete one first
    where a trial has several)."""
    runs: dict[int, Any] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string=f"tags.`nasflow.study` = '{study_name}' and "
                                  "tags.`nasflow.kind` = 'trial'", max_results=1000, page_token=token)
        for run in page:
            number = int(run.data.tags.get("nasflow.trial", -1))
            if number not in runs or "nasflow.state" in run.data.tags:
                runs[number] = run
        token = page.token
        if not token:
            return runs


def end_logged_run(client: Any, run: Any) -> bool:
    """End trial ``run``, which holds its results (tag ``nasflow.state``), with their status if its end was lost
    (the tracking server went away between the two calls of :func:`log_trial_run`); whether it had to."""
    status = RUN_STATUS[run.data.tags["nasflow.state"]]
    if run.info.status == status:
        return False
    client.set_terminated(run.info.run_id, status)
    return True


def runs_lock(storage: str | None, study_name: str) -> StudyLock:
    """The lock under which a process writes trial runs it did not write as the trials ended (a start restoring
    them, a search writing those the tracking server did not take): one per study, beside its budget lock."""
    from nas.budget import budget_lock

    return budget_lock(storage, f"{study_name}.mlflow-runs")


def log_trial_run(client: Any, run_id: str, result: TrialResult) -> None:
    """Write a finished trial into its open MLflow run (params, per-epoch metrics, cost, state) and end the run."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, step) for step, row in enumerate(result.history) for k, v in row.items()]
    if result.cost is not None:
        metrics += [Metric(k, float(v), now, 0) for k, v in result.cost.as_dict().items() if k != "device"]
    metrics.append(Metric("wall_time_s", result.wall_time_s, now, 0))
    tags = [RunTag("nasflow.state", result.state)]
    tags += [RunTag("nasflow.error", result.error[:5000])] if result.error else []
    tags += [RunTag(PRUNED_TAG, "true")] if result.state == "pruned" else []
    client.log_batch(run_id, metrics=metrics, params=_param_batch(result.params), tags=tags)
    client.set_terminated(run_id, RUN_STATUS[result.state])


def _param_batch(params: dict[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(str(k), str(v)[:6000]) for k, v in params.items()]


class TrialRunIds:
    """Trial number -> MLflow run id, as the background writer creates the runs."""

    def __init__(self, submit: Callable[..., Future]) -> None:
        self.futures: dict[int, Future] = {}
        self.late: dict[int, str] = {}  # runs created after the tracking server answered again
        self._submit = submit

    def get(self, number: int, default: str | None = None) -> str | None:
        """The run id, waiting until the writer has created the run (``default`` if it has none)."""
        future = self.futures.get(number)
        if future is None:
            return default
        try:
            return future.result() or self.late.get(number, default)
        except Exception:  # the writer keeps the error and raises it on the search's next MLflow call
            return default

    def then(self, number: int, fn: Callable[[str | None], None]) -> None:
        """``fn(run_id)`` now if the run exists, else on the writer thread right after the run is created (or
        failed to be: then ``fn(None)``), so the trial never waits for MLflow (an error there is raised on the
        search's next MLflow call)."""
        future = self.futures.get(number)
        if future is None or future.done():
            fn(self.get(number))
        else:
            self._submit(lambda: fn(self.get(number)))


@dataclass
class Unwritten:
    """A trial whose MLflow run the tracking server could not take: the run (if it was created) and the result
    (once the trial ended)."""

    run_id: str | None
    result: TrialResult | None = None


class MlflowSearchObserver(SearchObserver):
    """Logs a search to MLflow: the parent run holds the search, nested runs hold the trials.

    Trial runs are written by one background thread, in order, so a trial never waits for the tracking
    store: the calls overlap with training. A tracking server that stops answering (after its retries) does not
    stop the search: the writer keeps what it could not write (at most ``max_unwritten`` trials, else the search
    stops with the server's one-line error), asks the server's health before each later write and writes the kept
    runs once it answers (under ``lock``, finding each by its trial tag first, since a start on another host may
    have written it from the study); the end of the search waits ``tracking.retry_s`` for the server, then names
    the trials still unwritten in one line. Any other error is raised at the next trial (or at the end); the MLflow
    calls queued after it are skipped, while the knowledge-base records waiting for a run id are still written
    (without it).
    """

    def __init__(self, client: Any, experiment_id: str, tags: dict[str, str], params: dict[str, Any],
                 parent_run_id: str | None = None, lock: StudyLock | None = None,
                 request_timeout_s: float = 30.0, max_unwritten: int = MAX_UNWRITTEN) -> None:
        self.client, self.experiment_id = client, experiment_id
        self.tags, self.params = tags, params
        self.parent_id = parent_run_id
        self.owns_parent = parent_run_id is None  # a worker logs under the parent run of its coordinator
        self.trial_runs = TrialRunIds(self._after_run)  # kept for lineage
        self.open_runs: set[str] = set()
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nasflow-mlflow")
        self.error: BaseException | None = None
        self.lock, self.request_timeout_s, self.max_unwritten = lock, request_timeout_s, max_unwritten
        self.unwritten: dict[int, Unwritten] = {}
        self.down: BaseException | None = None  # the error of the tracking server while it does not answer
        self.study_name = tags.get("nasflow.study", "")
        self.next_probe = 0.0  # monotonic time of the next health check while the server does not answer

    def _submit(self, fn: Any, *args: Any) -> Future:
        """Queue the MLflow call ``fn(*args)`` on the writer; skipped once an earlier call failed."""
        return self.writer.submit(self._kept_error, fn, *args)

    def _after_run(self, fn: Callable[[], None]) -> Future:
        """Queue ``fn`` (a record waiting for a trial's run id) on the writer; run even after an MLflow error."""
        return self.writer.submit(self._kept_error, fn, always=True)

    def _kept_error(self, fn: Any, *args: Any, always: bool = False) -> Any:
        """Run ``fn`` in the writer thread, keeping its error (before its future completes) for the search."""
        if self.error is not None and not always:
            raise WorkflowError("skipped after an earlier MLflow error") from self.error
        try:
            return fn(*args)
        except Exception as exc:
            self.error = self.error or exc
            raise

    def _raise_error(self) -> None:
        if self.error is not None:
            error = self.error
            raise unavailable(error) or WorkflowError(
                f"recording a trial in the background (MLflow at {self.client.tracking_uri}, knowledge base) failed: "
                f"{error}; check tracking.uri and kb.url (completed trials are kept in the study)") from error

    def _went_down(self, exc: Exception) -> None:
        """Note that the tracking server stopped answering (said once, on stderr) if ``exc`` says so; else raise it."""
        request = request_error(exc)
        if request is None:
            raise exc
        if self.down is None:
            server, reason = describe(request)
            print(f"nasflow: tracking server {server} is not answering ({reason}); the search goes on, keeping the "
                  f"MLflow runs of up to {self.max_unwritten} finished trials to write when it answers again",
                  file=sys.stderr)
        self.down = exc

    def _keep(self, number: int, kept: Unwritten) -> None:
        """Keep trial ``number``'s run for when the server answers; past ``max_unwritten`` the search stops."""
        self.unwritten[number] = kept
        if len(self.unwritten) > self.max_unwritten:
            self.error = self.down  # raised at the next trial: the server's one-line error

    def _answering(self) -> bool:
        """Whether MLflow calls may go out now: always, unless the tracking server stopped answering; then after a
        health check (at most one per :data:`PROBE_S`) that it answers again, having written the runs it kept."""
        if self.down is None:
            return True
        if time.monotonic() < self.next_probe:
            return False
        if not answers(self.client.tracking_uri, self.request_timeout_s):
            self.next_probe = time.monotonic() + PROBE_S
            return False
        self.down = None
        self._write_unwritten()
        return self.down is None

    def _write_unwritten(self) -> None:
        """Write the kept trial runs (on the writer thread, the server answering): each found by its trial tag
        first, created if none has it, its results logged unless it has them."""
        written = []
        with self.lock or nullcontext():
            try:
                runs = trial_runs(self.client, self.experiment_id, self.study_name)
                for number, kept in sorted(self.unwritten.items()):
                    self._write_kept(number, kept, runs.get(number))
                    del self.unwritten[number]
                    written.append(number)
            except Exception as exc:
                self._went_down(exc)
        if written:
            print(f"nasflow: tracking server {self.client.tracking_uri} answers again: wrote the MLflow runs of "
                  f"trials {written}", file=sys.stderr)

    def _write_kept(self, number: int, kept: Unwritten, run: Any) -> None:
        if run is not None and "nasflow.state" in run.data.tags:  # its results went out before the server stopped,
            end_logged_run(self.client, run)  # or another start wrote them from the study
            self.trial_runs.late[number] = run.info.run_id
            self.open_runs.discard(run.info.run_id)
            return
        if kept.run_id is None:
            kept.run_id = run.info.run_id if run is not None else self._create_run(number)
            self.trial_runs.late[number] = kept.run_id
        if kept.result is None:  # the trial still runs: its end is logged as usual
            self.open_runs.add(kept.run_id)
        else:
            log_trial_run(self.client, kept.run_id, kept.result)
            self.open_runs.discard(kept.run_id)

    def flush(self) -> None:
        """Wait until every queued MLflow call is written; raise the first error one of them met."""
        self.writer.submit(lambda: None).result()
        self._raise_error()

    def search_started(self, study_name: str, n_trials: int, n_done: int) -> None:
        from mlflow.entities import RunTag

        self.study_name = study_name
        if not self.owns_parent or n_done >= n_trials:  # a resumed search with its budget spent: no empty parent
            return
        run = self.client.create_run(self.experiment_id, run_name=f"search-{study_name}",
                                     tags={**self.tags, "nasflow.kind": "search"})
        self.parent_id = run.info.run_id
        self.client.log_batch(self.parent_id, params=_param_batch(self.params),
                              tags=[RunTag("nasflow.trials_done_before", str(n_done))])

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        self._raise_error()
        self.trial_runs.futures[number] = self._submit(self._create_trial_run, number)

    def _create_run(self, number: int) -> str:
        return self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{number}",
            tags={**self.tags, **({"mlflow.parentRunId": self.parent_id} if self.parent_id else {}),
                  "nasflow.kind": "trial", "nasflow.trial": str(number)},
        ).info.run_id

    def _create_trial_run(self, number: int) -> str | None:
        """The trial's run, or None (kept for later) while the tracking server does not answer."""
        try:
            run_id = self._create_run(number) if self._answering() else None
        except Exception as exc:
            self._went_down(exc)
            run_id = None
        if run_id is None:
            self._keep(number, Unwritten(None))
            return None
        self.open_runs.add(run_id)
        return run_id

    def trial_ended(self, result: TrialResult) -> None:
        if result.number in self.trial_runs.futures:
            self._submit(self._log_trial, result)

    def _log_trial(self, result: TrialResult) -> None:
        kept = self.unwritten.get(result.number)
        if kept is not None:  # its run is written once the server answers again
            kept.result = result
            self._answering()
            return
        run_id = self.trial_runs.get(result.number)
        if run_id not in self.open_runs:
            return
        pause_at("trial-logging")
        try:
            if self._answering():
                log_trial_run(self.client, run_id, result)
                self.open_runs.discard(run_id)
                return
        except Exception as exc:
            self._went_down(exc)
        self._keep(result.number, Unwritten(run_id, result))

    def _settle(self, study: Any) -> bool:
        """At the end of the search: write the kept runs if the server answers within its retries (else name them
        in one line and note them in the study, whose next start on any host writes them); whether it answers."""
        from nas.recovery import worker_id

        if self.down is not None:
            self._wait_for_server()
        if not self.unwritten:
            return self.down is None
        study._storage.set_study_system_attr(study._study_id, f"{UNWRITTEN_ATTR}{worker_id()}", sorted(self.unwritten))
        self._say_unwritten()
        return False

    def _say_unwritten(self) -> None:
        """One line naming the trials whose runs the tracking server did not take, and who writes them."""
        print(f"nasflow: the MLflow runs of trials {sorted(self.unwritten)} are not written: tracking server "
              f"{self.client.tracking_uri} does not answer; they are kept in the study and the knowledge base, and "
              "the next nasflow start against this server (search, retrain or run, on any host) writes them from the "
              "study", file=sys.stderr)

    def _wait_for_server(self) -> None:
        """Ask the server's health with backoff (2, 4, 8 … s) for ``tracking.retry_s``; write the kept runs once
        it answers."""
        deadline = time.monotonic() + retry_seconds(configured_retries())
        wait = PROBE_S
        while True:
            self.next_probe = 0.0  # this loop spaces the checks itself
            if self._answering() or time.monotonic() >= deadline:
                return
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
            wait = min(2 * wait, 60.0)

    def search_ended(self, study: Any) -> None:
        from mlflow.entities import Metric

        from nas.recovery import stale_workers
        from workflows.plots import save_study_plots
        from workflows.summary import trial_counts

        self.flush()
        if not self.writer.submit(self._settle, study).result():  # the tracking server does not answer
            if self.parent_id is not None and self.owns_parent:  # the next start, on any host, ends its run
                note_open_search(study, self.parent_id, "FINISHED")
            return
        stale = stale_workers(study)
        if stale:  # hosts that stopped beating left their runs open
            fail_orphan_runs(self.client, self.experiment_id, study.study_name, stale)
        if self.parent_id is None or not self.owns_parent:
            return
        now = int(time.time() * 1000)
        metrics = [Metric(f"trials_{k}", float(v), now, 0) for k, v in trial_counts(study).items()]
        self.client.log_batch(self.parent_id, metrics=metrics)
        with tempfile.TemporaryDirectory() as folder:
            for path in save_study_plots(study, Path(folder)):
                self.client.log_artifact(self.parent_id, str(path), "plots")
        self.client.set_terminated(self.parent_id, "FINISHED")

    def abort(self) -> None:
        """Mark every open run FAILED (the search raised or was interrupted), unless the tracking server stopped
        answering: then they stay RUNNING (the next start fails them) and the trials it did not take are named."""
        self.writer.shutdown(wait=True)
        failed, self.error = self.error, None
        runs = list(self.open_runs) + ([self.parent_id] if self.parent_id and self.owns_parent else [])
        self.open_runs.clear()
        self.parent_id = None
        if self.unwritten:
            self._say_unwritten()
        if self.down is not None or (failed is not None and unavailable(failed) is not None):
            return
        for run_id in runs:
            self.client.set_terminated(run_id, "FAILED")
