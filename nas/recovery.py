"""Recover from killed workers: fail their RUNNING trials and retry each once with the same parameters."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

WORKER_ATTR, RETRY_ATTR = "worker", "retry_of"
HOST_ENV = "NASFLOW_HOST"  # the host name trials record; set it where machines share one (containers, clones)
WAIT_POLL_S = 1.0  # how often a worker at the end of the budget looks at the others' trials


def _start_time(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (tells a reused pid apart), or None if it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def host_name() -> str:
    """This host as trials record it: ``$NASFLOW_HOST``, else the machine's host name. Only a process of the same
    host can be judged dead by its pid; others are left to the storage heartbeat."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


def worker_id() -> str:
    """This process as ``host:pid:start-time``."""
    return f"{host_name()}:{os.getpid()}:{_start_time(os.getpid())}"


def is_dead(worker: str) -> bool:
    """Whether ``worker`` (from :func:`worker_id`) ran on this host and no longer runs; other hosts: unknown (False)."""
    host, _, rest = worker.partition(":")
    pid, _, started = rest.partition(":")
    if host != host_name() or not pid.isdigit():
        return False
    return _start_time(int(pid)) != started


def recover_orphans(study: Any) -> list[int]:
    """Fail RUNNING trials whose worker died on this host; enqueue one retry of each. Returns the failed numbers.

    Workers on other hosts are covered by the storage heartbeat (RDB storages), which fails stale trials and
    retries them through ``RetryHeartbeatStaleTrialCallback``.
    """
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if not worker or not is_dead(worker):
            continue
        study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"worker {worker} died")
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        failed.append(trial.number)
        if RETRY_ATTR not in trial.user_attrs:
            study.enqueue_trial(dict(trial.params), user_attrs={RETRY_ATTR: trial.number})
    return failed


def others_running(study: Any) -> list[Any]:
    """RUNNING trials of the study: at the end of the budget, those of other workers or hosts."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def keeps_heartbeat(study: Any) -> bool:
    """Whether the study's storage keeps a heartbeat per trial (RDB storages), the only way to tell a slow
    host from a dead one."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(study._storage)


def fail_stale(study: Any) -> list[int]:
    """Fail the trials whose storage heartbeat went stale (dead hosts) and enqueue their retry; their numbers."""
    import warnings

    from optuna.storages import fail_stale_trials

    before = {t.number for t in others_running(study)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks the function experimental
        fail_stale_trials(study)
    return sorted(before - {t.number for t in others_running(study)})


def stale_workers(study: Any) -> set[str]:
    """The workers (hosts that stopped) whose trial the storage heartbeat failed: a retry names it its
    ``failed_trial`` (``RetryHeartbeatStaleTrialCallback``)."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    failed = {t.system_attrs["failed_trial"] for t in trials.values() if "failed_trial" in t.system_attrs}
    return {trials[n].user_attrs[WORKER_ATTR] for n in failed
            if n in trials and trials[n].state.name == "FAIL" and WORKER_ATTR in trials[n].user_attrs}
