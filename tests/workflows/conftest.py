"""Run the real ``nasflow`` command line in a subprocess, with every store under ``tmp_path``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``mlflow server`` (PostgreSQL backend store, served artifacts) for the test session, on 127.0.0.1;
    stopped, and its database dropped, afterwards."""
    from tests.workflows.test_resume_and_workers import postgres_url
    from tests.workflows.tracking_server import mlflow_server, postgres_database

    folder = tmp_path_factory.mktemp("mlflow-server")
    with postgres_database(postgres_url()) as store, \
            mlflow_server(store, folder / "artifacts", folder / "server.log") as server:
        yield server.uri


@pytest.fixture(scope="module")
def mlflow_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """One SQLite MLflow store (an ``MlflowClient`` on it) and its folder for a test module: its schema is made once."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-sqlite")
    return MlflowClient(f"sqlite:///{folder / 'mlflow.db'}"), folder


@pytest.fixture
def mlflow_experiment(mlflow_sqlite: tuple[Any, Path], request: pytest.FixtureRequest) -> tuple[Any, str]:
    """The module's SQLite MLflow store and an experiment of the test's own (client, experiment id)."""
    client, folder = mlflow_sqlite
    name = request.node.name
    return client, client.create_experiment(name, artifact_location=(folder / name).as_uri())


@pytest.fixture
def services(tracking_server: str) -> Iterator[dict[str, str]]:
    """The shared services of many hosts: a fresh PostgreSQL database (``db``) for the study and the knowledge base,
    the session's tracking server (``tracking``) and a ``name`` (study, experiment, registered model) no other test
    or rerun uses."""
    import uuid

    from tests.workflows.test_resume_and_workers import postgres_url
    from tests.workflows.tracking_server import postgres_database

    name = f"mh-{uuid.uuid4().hex[:8]}"
    with postgres_database(postgres_url()) as url:
        yield {"db": url, "tracking": tracking_server, "name": name}


def summary_of(proc: subprocess.CompletedProcess) -> dict[str, Any]:
    """The ``--json`` summary printed by a successful command."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, server: subprocess.Popen, timeout: float = 120) -> str:
    """The body of the first successful GET of ``url`` while ``server`` runs; fails if it never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    stderr = server.stderr.read() if server.poll() is not None and server.stderr else ""
    raise AssertionError(f"{url} never answered (server exit code {server.poll()}): {stderr[-2000:]}")
