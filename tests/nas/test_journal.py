"""The study's journal file: safe appends from several processes, no stale lock after kill -9."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import time
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend

from nas.journal import LocalJournalFile
from nas.study import make_storage


def append_many(path: str, writer: int, count: int) -> None:
    backend = LocalJournalFile(path)
    for i in range(count):
        backend.append_logs([{"op_code": 9, "writer": writer, "i": i, "pad": "x" * 500}])


def hold_lock_forever(path: str) -> None:
    with open(path + ".flock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        time.sleep(600)


def wait_until_locked(path: str, timeout: float = 30.0) -> None:
    """Return once another process holds the journal's flock (a non-blocking try fails)."""
    deadline = time.monotonic() + timeout
    with open(path + ".flock", "a") as probe:
        while time.monotonic() < deadline:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(probe, fcntl.LOCK_UN)
            time.sleep(0.01)
    raise AssertionError(f"no process took the lock on {path}.flock within {timeout} s")


def test_processes_appending_at_once_lose_and_tear_no_line(tmp_path: Path) -> None:
    path = str(tmp_path / "study.journal")
    LocalJournalFile(path)
    workers = [multiprocessing.Process(target=append_many, args=(path, w, 300)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    logs = list(JournalFileBackend(path).read_logs(0))  # Optuna's own reader parses every line
    assert sorted((log["writer"], log["i"]) for log in logs) == [(w, i) for w in range(3) for i in range(300)]


def test_a_writer_killed_while_holding_the_lock_does_not_block_the_next(tmp_path: Path) -> None:
    path = str(tmp_path / "study.journal")
    LocalJournalFile(path)
    holder = multiprocessing.Process(target=hold_lock_forever, args=(path,))
    holder.start()
    wait_until_locked(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    started = time.monotonic()
    append_many(path, 0, 1)
    assert time.monotonic() - started < 5  # Optuna's symlink lock would wait out its 30 s grace period
    assert [log["i"] for log in JournalFileBackend(path).read_logs(0)] == [0]


def test_the_finishing_op_code_is_optunas() -> None:
    from optuna.storages.journal._storage import JournalOperation

    from nas.journal import _FINISH_OP

    assert JournalOperation(_FINISH_OP) is JournalOperation.SET_TRIAL_STATE_VALUES


def test_a_study_in_the_journal_resumes_in_a_new_storage_object(tmp_path: Path) -> None:
    url = f"journal:///{tmp_path / 'optuna.journal'}"
    study = optuna.create_study(study_name="s", storage=make_storage(url))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = optuna.load_study(study_name="s", storage=make_storage(url))
    assert [t.params for t in again.trials] == [t.params for t in study.trials]
    assert [t.state.name for t in again.trials] == ["COMPLETE"] * 3
