"""The study's journal file: Optuna's JournalFileBackend with an ``flock`` and one ``fsync`` per finished trial."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
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
        self._lock_path = file_path + ".flock"
        if os.path.exists(file_path):
            with open(self._lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # no append is half-written while the lock is held
                set_aside_cut_tail(file_path)
        super().__init__(file_path, lock_obj=None)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with open(self._file_path, "ab") as journal:
                journal.write(text.encode("utf-8"))
                journal.flush()
                if any(log.get("op_code") == _FINISH_OP for log in logs):
                    os.fsync(journal.fileno())


def set_aside_cut_tail(path: str) -> str | None:
    """Move a last record cut short (a power cut, a full disk: no final newline, not valid JSON) out of the
    journal into a side file, reporting it in one line; returns the side file's path (None: nothing cut)."""
    with open(path, "rb") as journal:
        data = journal.read()
    if not data or data.endswith(b"\n"):
        return None
    head, _, tail = data.rpartition(b"\n")
    try:
        json.loads(tail)
    except ValueError:
        side = f"{path}.cut-{time.strftime('%Y%m%dT%H%M%S')}"
        with open(side, "wb") as kept:
            kept.write(tail)
        with open(path, "r+b") as journal:
            journal.truncate(len(head) + 1 if head else 0)
            os.fsync(journal.fileno())
        print(f"nasflow: {path}: its last record was cut short ({len(tail)} bytes); set aside in {side}, "
              "the complete records load", file=sys.stderr)
        return side
    with open(path, "ab") as journal:  # a whole record that only lacks its newline
        journal.write(b"\n")
    return None
