"""Run the real ``nasflow`` command line in a subprocess, with every store under ``tmp_path``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
NASFLOW = [sys.executable, "-m", "workflows.cli"]


def cli_env(workspace: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: workspace under tmp_path, the venv's scripts on PATH."""
    env = dict(os.environ, NASFLOW_WORKSPACE=str(workspace), PYTHONPATH=str(REPO), **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace folder for one test."""
    return tmp_path / "ws"


@pytest.fixture
def nasflow(workspace: Path) -> Callable[..., subprocess.CompletedProcess]:
    """``nasflow(*args, cwd=REPO, env=None)``: run the CLI and return the completed process (text output)."""

    def run(*args: str, cwd: Path = REPO, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([*NASFLOW, *args], cwd=cwd, env=cli_env(workspace, **env), capture_output=True,
                              text=True, timeout=timeout)

    return run


def summary_of(proc: subprocess.CompletedProcess) -> dict[str, Any]:
    """The ``--json`` summary printed by a successful command."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)
