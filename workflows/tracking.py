"""MLflow tracking: one parent run per search, one nested run per trial, batched metric logging."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nas.observer import SearchObserver, TrialResult
from workflows.errors import WorkflowError
from workflows.pause import pause_at
from workflows.tracking_server import configure_retries, is_server, unavailable
from workflows.workspace import Workspace

# a pruned trial ended as the pruner asked: FINISHED (not KILLED, which reads as a crash), with tag ``pruned``
RUN_STATUS = {"complete": "FINISHED", "reused": "FINISHED", "pruned": "FINISHED", "failed": "FAILED"}
PRUNED_TAG = "pruned"
# the MLflow 3 UI opens an experiment of this kind on its runs table ("Machine learning"), not the GenAI overview
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


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


def fail_orphan_runs(client: Any, experiment_id: str, study_name: str) -> list[str]:
    """Mark FAILED (with the reason in tag ``nasflow.failed_reason``) every RUNNING run of ``study_name``
    (trials, searches, retrains) whose process died on this host, and every model such a run was still logging."""
    from nas.recovery import is_dead, worker_id

    runs = client.search_runs([experiment_id], filter_string=f"tags.`nasflow.study` = '{study_name}' "
                              "and attributes.status = 'RUNNING'", max_results=1000)
    dead = [(r.info.run_id, r.data.tags["nasflow.worker"]) for r in runs
            if is_dead(r.data.tags.get("nasflow.worker", ""))]
    for run_id, worker in dead:
        client.set_tag(run_id, "nasflow.failed_reason", f"process {worker} died while this run was open; "
                                                         f"ended by {worker_id()} at start")
        client.set_terminated(run_id, "FAILED")
        for model in client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'"):
            if model.status == "PENDING":
                client.finalize_logged_model(model.model_id, "FAILED")
    return [run_id for run_id, _ in dead]


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
        self._submit = submit

    def get(self, number: int, default: str | None = None) -> str | None:
        """The run id, waiting until the writer has created the run (``default`` if it has none)."""
        future = self.futures.get(number)
        if future is None:
            return default
        try:
            return future.result()
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


class MlflowSearchObserver(SearchObserver):
    """Logs a search to MLflow: the parent run holds the search, nested runs hold the trials.

    Trial runs are written by one background thread, in order, so a trial never waits for the tracking
    store: the calls overlap with training. An error there is raised at the next trial (or at the end); the MLflow
    calls queued after it are skipped (a server that stopped answering is not retried once per call), while the
    knowledge-base records waiting for a run id are still written (without it).
    """

    def __init__(self, client: Any, experiment_id: str, tags: dict[str, str], params: dict[str, Any],
                 parent_run_id: str | None = None) -> None:
        self.client, self.experiment_id = client, experiment_id
        self.tags, self.params = tags, params
        self.parent_id = parent_run_id
        self.owns_parent = parent_run_id is None  # a worker logs under the parent run of its coordinator
        self.trial_runs = TrialRunIds(self._after_run)  # kept for lineage
        self.open_runs: set[str] = set()
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nasflow-mlflow")
        self.error: BaseException | None = None

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

    def flush(self) -> None:
        """Wait until every queued MLflow call is written; raise the first error one of them met."""
        self.writer.submit(lambda: None).result()
        self._raise_error()

    def search_started(self, study_name: str, n_trials: int, n_done: int) -> None:
        from mlflow.entities import RunTag

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

    def _create_trial_run(self, number: int) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{number}",
            tags={**self.tags, "mlflow.parentRunId": self.parent_id, "nasflow.kind": "trial",
                  "nasflow.trial": str(number)},
        )
        self.open_runs.add(run.info.run_id)
        return run.info.run_id

    def trial_ended(self, result: TrialResult) -> None:
        if result.number in self.trial_runs.futures:
            self._submit(self._log_trial, result)

    def _log_trial(self, result: TrialResult) -> None:
        run_id = self.trial_runs.get(result.number)
        if run_id not in self.open_runs:
            return
        pause_at("trial-logging")
        log_trial_run(self.client, run_id, result)
        self.open_runs.discard(run_id)

    def search_ended(self, study: Any) -> None:
        from mlflow.entities import Metric

        from workflows.plots import save_study_plots
        from workflows.summary import trial_counts

        self.flush()
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
        answering: then they stay RUNNING (the next start of this host fails them)."""
        self.writer.shutdown(wait=True)
        failed, self.error = self.error, None
        runs = list(self.open_runs) + ([self.parent_id] if self.parent_id and self.owns_parent else [])
        self.open_runs.clear()
        self.parent_id = None
        if failed is not None and unavailable(failed) is not None:
            return
        for run_id in runs:
            self.client.set_terminated(run_id, "FAILED")
