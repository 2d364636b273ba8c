"""The beat of a live MLflow trial writer, kept in the study: while it beats, a start on another host leaves that
writer's finished trials to it (it may write them late, its tracking server having been away); once the beat has
stopped (the process ended or died) or went stale, any start writes them from the study.

A leaf of ``workflows``: it imports ``nas.recovery`` only.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from nas.recovery import worker_id

SETTLE_S = 60.0  # a writer whose beat is this old is gone (or a trial of a writer without a beat this long finished)
BEAT_S = 10.0  # how often a writer beats
BEAT_ATTR = "nasflow.mlflow_writer:"  # study attribute (+ worker): UTC time of its writer's last beat; 0 once it ended


def writer_beats(study_attrs: dict[str, Any]) -> dict[str, float]:
    """Worker -> the UTC time of its writer's last beat (0: it ended), from a study's system attributes."""
    return {key.removeprefix(BEAT_ATTR): float(at) for key, at in study_attrs.items() if key.startswith(BEAT_ATTR)}


def is_gone(beat: float) -> bool:
    """Whether a writer whose last beat was at ``beat`` (UTC seconds) no longer writes."""
    return time.time() - beat > SETTLE_S


class WriterBeat:
    """This process's writer beat in ``study``: stored on :meth:`start`, then every :data:`BEAT_S` by a daemon
    thread (so a writer stuck in a tracking server's retries still beats), until :meth:`stop`."""

    def __init__(self, study: Any) -> None:
        self.study, self.key = study, f"{BEAT_ATTR}{worker_id()}"
        self.beaten = -math.inf  # monotonic time the last beat was stored
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nasflow-writer-beat", daemon=True)

    def _store(self, at: float) -> bool:
        """Store the beat ``at``; False if the storage did not take it (then fresh() turns False in time, and the
        writer checks before it writes; a stop not stored goes stale)."""
        try:
            self.study._storage.set_study_system_attr(self.study._study_id, self.key, at)
        except Exception:
            return False
        return True

    def _beat(self) -> None:
        if self._store(time.time()):
            self.beaten = time.monotonic()

    def _run(self) -> None:
        while not self._stopped.wait(BEAT_S):
            self._beat()

    def start(self) -> None:
        """Beat now, then on the thread."""
        self._beat()
        self._thread.start()

    def fresh(self) -> bool:
        """Whether no start elsewhere can have judged this writer gone yet: its last beat was stored less than half
        of :data:`SETTLE_S` ago (the other half for hosts whose clocks differ). Else the writer writes a trial only
        after finding, under the study's runs lock, that no start wrote it."""
        return time.monotonic() - self.beaten < SETTLE_S / 2

    def stop(self) -> None:
        """Stop beating and store that this writer ended: its trials are any start's to write from now on."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self.beaten = -math.inf
        self._store(0.0)
