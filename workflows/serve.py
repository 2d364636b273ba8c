"""Process supervision for the servers nasflow starts (``nasflow ui``, ``nasflow dashboard``), and the MLflow UI page
``nasflow ui`` opens."""

from __future__ import annotations

import os
import signal
import subprocess
from types import FrameType


def serve(command: list[str], **env: str) -> int:
    """Run a server in its own process group until it exits, Ctrl-C or SIGTERM; then stop the whole group."""
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    server = subprocess.Popen(command, start_new_session=True, env={**os.environ, **env})
    try:
        return server.wait()
    except KeyboardInterrupt:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        return 0


def runs_table_url(base: str, experiment_id: str) -> str:
    """The MLflow 3 UI page of an experiment's runs table (its route ``/experiments/:experimentId/runs``), not the
    experiment's overview page, on the UI served at ``base``."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs"
