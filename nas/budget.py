"""An exact trial budget shared by workers: checking the budget and creating the trial happen under one lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.errors import BudgetError
from nas.locks import FileLock, NoLock, PostgresLock, StudyLock
from nas.study import count_trials, is_journal, storage_path

CLAIMING_STATES = ("COMPLETE", "PRUNED", "RUNNING")


def claimed_trials(study: Any) -> int:
    """Trials holding a place in the budget: finished (complete or pruned) and running ones."""
    return count_trials(study, CLAIMING_STATES)


def budget_lock(storage: str | None, study_name: str) -> StudyLock:
    """The lock that makes "is there budget left? then create a trial" atomic for this storage."""
    if storage is None:
        return NoLock()
    if storage.startswith("postgresql"):
        return PostgresLock(storage, study_name)
    path = storage_path(storage)
    if storage.startswith("sqlite") or is_journal(storage):
        return FileLock(Path(path).with_name(f"{Path(path).name}.{study_name}.lock"))
    raise BudgetError(f"no budget lock for storage '{storage}'")
