"""Run the ``nasflow`` command line as a user does, in a subprocess, and time it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def nasflow_command() -> list[str]:
    """The installed ``nasflow`` script beside this interpreter (else ``python -m workflows.cli``)."""
    script = Path(sys.executable).with_name("nasflow")
    if script.exists():
        return [str(script)]
    found = shutil.which("nasflow")
    return [found] if found else [sys.executable, "-m", "workflows.cli"]


@dataclass
class Timed:
    """A finished command: wall seconds and its output."""

    seconds: float
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The last JSON object printed (``--json`` summaries)."""
        start = self.stdout.find("{")
        if start < 0:
            raise ValueError(f"no JSON in the output: {self.stdout[-500:]!r} {self.stderr[-500:]!r}")
        return json.loads(self.stdout[start:])


def run_nasflow(args: list[str], workspace: Path | None = None, timeout: float = 900, cwd: Path = REPO) -> Timed:
    """``nasflow <args>`` from the project folder; raises with its stderr when it fails."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if workspace is not None:
        env["NASFLOW_WORKSPACE"] = str(workspace)
    start = time.perf_counter()
    done = subprocess.run([*nasflow_command(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"nasflow {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return Timed(seconds, done.stdout, done.stderr)
