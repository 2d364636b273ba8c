"""The study's journal file: Optuna's JournalFileBackend with an ``flock`` and one ``fsync`` per finished trial."""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._storage import JournalOperation

#: the write that finishes (or re-queues) a trial, pinned to Optuna's own enum (a private module: a test checks it)
_FINISH_OP = int(JournalOperation.SET_TRIAL_STATE_VALUES)


class LocalJournalFile(JournalFileBackend):
    """A journal file shared by the processes of one host.

    Optuna's default lock is a symlink with a 30 s grace period (a ``kill -9`` while it is held stalls every
    worker that long) and every write is ``fsync``-ed (one disk flush per suggested parameter). Here an
    ``flock`` guards each append (the kernel drops it when its process dies) and a write is flushed to the
    kernel at once, so no other process or restart ever misses it, but synced to disk only when it finishes
    a trial: after a power cut the study may lose the parameters of running trials, never a finished one.
    """

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path, lock_obj=None)
        self._lock_path = file_path + ".flock"

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with open(self._file_path, "ab") as journal:
                journal.write(text.encode("utf-8"))
                journal.flush()
                if any(log.get("op_code") == _FINISH_OP for log in logs):
                    os.fsync(journal.fileno())
