"""Finished trials the study holds but MLflow or the knowledge base lost, written again from the study, once.

A trial's MLflow run is written by a background thread after the trial ends, and its knowledge-base record right
after the run exists: a process killed in between (or a disk that filled, or a tracking server that stayed away
until the search ended) leaves Optuna with a finished trial whose run has no params or metrics, or that the
knowledge base lacks. The next start on any host writes what is missing from the study (the params, the metric of
every epoch, the last epoch's metrics, the cost, the outcome), under a lock and finding runs by their trial tag, so
that nothing is written twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nas.observer import TrialResult
from workflows.tracking import end_logged_run, fail_orphan_runs, log_trial_run, trial_runs

if TYPE_CHECKING:
    from nas.locks import StudyLock
    from workflows.kb_records import KnowledgeBaseObserver
    from workflows.tracking import MlflowSearchObserver

_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
RESTORED_TAG = "nasflow.restored"
SETTLE_S = 60.0  # storages without leases: another host's finished trial whose run is missing this long after


def trial_result(trial: Any, metric: str) -> TrialResult:
    """What a finished Optuna trial (a ``FrozenTrial``) records of itself, as the search reported it (``metric`` is
    the one it reported per epoch)."""
    from nas.constraints import COST_ATTR
    from nas.cost import ModelCost
    from nas.search import is_fingerprint

    attrs = trial.user_attrs
    state = "reused" if trial.state.name == "COMPLETE" and "reused_from" in attrs else _STATES[trial.state.name]
    metrics = dict(attrs.get("metrics", {}))
    steps = sorted(trial.intermediate_values)
    history = [{metric: float(trial.intermediate_values[s])} for s in steps[:-1]]
    history += [metrics] if metrics else []
    wall = (trial.datetime_complete - trial.datetime_start).total_seconds() \
        if trial.datetime_complete and trial.datetime_start else 0.0
    key = attrs.get("arch_key")
    return TrialResult(trial.number, state, dict(trial.params), history, metrics,
                       ModelCost(**attrs[COST_ATTR]) if COST_ATTR in attrs else None, wall,
                       attrs.get("fail_reason") or attrs.get("constraint_violation"),
                       key if key and is_fingerprint(key) else None)


def seconds_since(local: datetime, now: datetime) -> float:
    """Seconds from ``local`` (a naive local time, as Optuna returns a trial's times) to ``now`` (aware), right
    across a change of summer time: the naive time is read with the offset of its own date."""
    return (now - local.astimezone()).total_seconds()


def restorable(study: Any, stale: Collection[str] | None = None, storage: str | None = None) -> Callable[[Any], bool]:
    """Which finished trials of ``study`` a start (on any host) writes from the study when their run or record is
    missing: those of a process of this host that no longer runs, of a host the storage heartbeat found stopped,
    those a search named unwritten when it ended (the tracking server gone), and any other host's whose process
    runs no more: its lease on a PostgreSQL ``storage`` is free (:mod:`nas.liveness`; other storages: it finished
    more than :data:`SETTLE_S` ago). Never those of a live process of this host, nor, on PostgreSQL, of a live
    one of another host however far behind its writer is: their own writers write them.
    ``stale``: the heartbeat-stopped workers, if the caller has them (else found here)."""
    from nas.liveness import gone_workers, keeps_leases
    from nas.recovery import WORKER_ATTR, host_name, stale_workers
    from workflows.tracking import UNWRITTEN_ATTR

    stale = stale_workers(study) if stale is None else stale
    attrs = study._storage.get_study_system_attrs(study._study_id)
    named = {n for key, numbers in attrs.items() if key.startswith(UNWRITTEN_ATTR) for n in numbers}
    gone = gone_workers(storage, {t.user_attrs.get(WORKER_ATTR, "") for t in study.get_trials(deepcopy=False)})
    leases, now = keeps_leases(storage), datetime.now(UTC)

    def restore(trial: Any) -> bool:
        worker = trial.user_attrs.get(WORKER_ATTR, "")
        if worker.partition(":")[0] == host_name():
            return worker in gone
        if not worker or worker in gone or worker in stale or trial.number in named:
            return True  # (no worker: added to the study by hand, no writer of its own)
        return not leases and trial.datetime_complete is not None and \
            seconds_since(trial.datetime_complete, now) > SETTLE_S

    return restore


def _finished(study: Any, restore: Callable[[Any], bool]) -> list[Any]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name in _STATES and restore(t)]


def write_missing_trial_runs(client: Any, experiment_id: str, study: Any, tags: dict[str, str], metric: str,
                             restore: Callable[[Any], bool] | None = None) -> dict[int, str]:
    """Give every finished trial of ``study`` a complete MLflow run, once (found by its trial tag): a run left
    without its results is filled in, a missing one created (under the study's latest search run), a run whose
    results are there but whose end was lost is ended. Only trials ``restore`` accepts are looked at (default:
    :func:`restorable`). Returns trial number -> run id of every run written. Call it under the study's
    :func:`workflows.tracking.runs_lock`, so that two starts never both write one trial.

    ``tags`` are the tags of a new run (the search's: study, model, data, worker); ``metric`` is the one the
    trials reported per epoch.
    """
    from nas.recovery import worker_id

    runs = trial_runs(client, experiment_id, study.study_name)
    written: dict[int, str] = {}
    parent: str | None = None
    for trial in _finished(study, restore or restorable(study)):
        result, run = trial_result(trial, metric), runs.get(trial.number)
        if run is not None and "nasflow.state" in run.data.tags:
            if end_logged_run(client, run):
                written[trial.number] = run.info.run_id
            continue
        if run is None:
            parent = parent or _latest_search(client, experiment_id, study.study_name)
            run_id = client.create_run(experiment_id, run_name=f"trial-{trial.number}", tags={
                **tags, **({"mlflow.parentRunId": parent} if parent else {}), "nasflow.kind": "trial",
                "nasflow.trial": str(trial.number)}).info.run_id
        else:
            run_id = run.info.run_id
            if "nasflow.failed_reason" in run.data.tags and trial.state.name != "FAIL":  # it now has its results
                client.delete_tag(run_id, "nasflow.failed_reason")
        client.set_tag(run_id, RESTORED_TAG, f"written from the Optuna study by {worker_id()}: the process that ran "
                                             "the trial ended before logging it")
        log_trial_run(client, run_id, result)
        written[trial.number] = run_id
    return written


def _latest_search(client: Any, experiment_id: str, study_name: str) -> str | None:
    found = client.search_runs([experiment_id], filter_string=f"tags.`nasflow.study` = '{study_name}' and "
                               "tags.`nasflow.kind` = 'search'", max_results=1, order_by=["attributes.start_time DESC"])
    return found[0].info.run_id if found else None


def record_missing_trials(kb: Any, study: Any, record: Callable[[TrialResult], None], metric: str,
                          restore: Callable[[Any], bool] | None = None) -> list[int]:
    """Record in the knowledge base, once, every finished trial of ``study`` it lacks (by study and trial number),
    with ``record(result)``; only trials ``restore`` accepts (default: :func:`restorable`). Returns the trial
    numbers recorded."""
    from workflows.kb_records import recorded

    held = recorded(kb, f"kind = 'trial' and lineage.study_name = '{study.study_name}' and lineage.trial_number >= 0")
    known = {int(row["lineage.trial_number"]) for row in held}
    missing = [t for t in _finished(study, restore or restorable(study)) if t.number not in known]
    for trial in missing:
        record(trial_result(trial, metric))
    return [t.number for t in missing]


def restore_trial_records(study: Any, tracker: MlflowSearchObserver, kb_observer: KnowledgeBaseObserver, metric: str,
                          lock: StudyLock | None = None, storage: str | None = None) -> None:
    """At the start of a search, under ``lock`` (:func:`workflows.tracking.runs_lock`): end the search runs that
    searches noted they could not end (:mod:`workflows.open_searches`), with their status; end FAILED, with the
    reason, the runs left open by processes of this host that died, hosts the storage heartbeat found stopped, or
    processes of other hosts whose lease on the PostgreSQL ``storage`` is free; write the MLflow run and the
    knowledge-base record of every finished trial that :func:`restorable` finds unwritten; say so in one line if
    there were any."""
    from functools import cache

    from nas.recovery import stale_workers
    from workflows.open_searches import end_open_searches

    with lock or nullcontext():
        ended = end_open_searches(tracker.client, study)  # before they would be failed as orphans
        stale = stale_workers(study)
        fail_orphan_runs(tracker.client, tracker.experiment_id, study.study_name, stale, storage)
        restore = restorable(study, stale, storage)
        runs = write_missing_trial_runs(tracker.client, tracker.experiment_id, study, tracker.tags, metric, restore)

        @cache
        def run_ids() -> dict[int, str]:
            runs = trial_runs(tracker.client, tracker.experiment_id, study.study_name)
            return {n: r.info.run_id for n, r in runs.items()}

        recorded = record_missing_trials(kb_observer.kb, study,
                                         lambda r: kb_observer.record(r, run_ids().get(r.number)), metric, restore)
    if ended:
        print(f"nasflow: ended the MLflow search runs {ended}, which their searches left open while the tracking "
              "server did not answer", file=sys.stderr)
    if runs or recorded:
        print(f"nasflow: wrote from the study what a stopped process left unwritten: the MLflow runs of trials "
              f"{sorted(runs) or 'none'}, the knowledge-base records of trials {recorded or 'none'}", file=sys.stderr)
