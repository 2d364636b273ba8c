"""A test hook: stop this process at a named phase so that a test can kill it there (``kill -9``).

With ``NASFLOW_TEST_PAUSE_AT=<phase>`` and ``NASFLOW_TEST_PAUSE_MARKER=<file>`` in the environment, the first time
the process reaches ``<phase>`` it writes its pid to ``<file>`` and waits for ever. Unset (always, outside tests),
a phase costs one environment look-up. Phases: ``trial-epoch`` (an epoch of a trial ended; ``trial-<n>-epoch-<e>``:
epoch ``e`` of trial ``n``, before it is reported), ``trial-logging``
(the MLflow writer is about to log a finished trial), ``retrain-epoch``, ``version-created`` (a version exists,
no alias yet). Used by ``tests/workflows/test_kill_suite.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from nas.observer import SearchObserver

PAUSE_ENV, MARKER_ENV = "NASFLOW_TEST_PAUSE_AT", "NASFLOW_TEST_PAUSE_MARKER"


def pause_at(phase: str) -> None:
    """Wait for ever here if the test hook names ``phase`` (after writing the marker file)."""
    if os.environ.get(PAUSE_ENV) != phase:
        return
    marker = Path(os.environ[MARKER_ENV])
    marker.write_text(str(os.getpid()))
    threading.Event().wait()


class PauseObserver(SearchObserver):
    """The search's side of the hook: phases ``trial-epoch`` and ``trial-<n>-epoch-<e>``."""

    def epoch_ended(self, number: int, epoch: int, metrics: dict[str, Any]) -> None:
        pause_at("trial-epoch")
        pause_at(f"trial-{number}-epoch-{epoch}")
