"""`nasflow ui` prints the URL of the experiment's runs table; a busy port is exit 2 with a free one suggested."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.workflows.conftest import NASFLOW, REPO, cli_env, free_port, wait_for_http


@pytest.mark.parametrize("command", ["ui", "dashboard"])
def test_a_busy_port_is_an_error_that_names_a_free_one(command: str, workspace: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*NASFLOW, command, "--port", str(port)], cwd=REPO, env=cli_env(workspace),
                              capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    suggestion = re.search(rf"port {port} on 127.0.0.1 is already in use.*nasflow {command} --port (\d+)", proc.stderr)
    assert suggestion is not None and int(suggestion.group(1)) != port


@contextmanager
def _server(command: str, workspace: Path) -> Iterator[tuple[subprocess.Popen, int, str]]:
    """``nasflow COMMAND --port P`` running: the process, its port and the first line it printed on stderr."""
    port = free_port()
    proc = subprocess.Popen([*NASFLOW, command, "--port", str(port)], cwd=REPO, env=cli_env(workspace),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        yield proc, port, proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_ui_prints_the_runs_table_of_the_workspace_experiment(workspace: Path) -> None:
    with _server("ui", workspace) as (proc, port, line):
        wait_for_http(f"http://127.0.0.1:{port}/health", proc)
        query = "experiment_name=nasflow-digits_cnn-digits"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?{query}",
                                    timeout=10) as response:
            experiment = json.loads(response.read())["experiment"]
        assert_ui_route(f"http://127.0.0.1:{port}", "/experiments/:experimentId/runs")
    assert f"http://127.0.0.1:{port}/#/experiments/{experiment['experiment_id']}/runs " in line
    kind = {t["key"]: t["value"] for t in experiment["tags"]}["mlflow.experimentKind"]
    assert kind == "custom_model_development"  # the MLflow 3 UI opens it on the runs table, not the GenAI overview


def test_dashboard_prints_the_journal_path_with_single_slashes(workspace: Path) -> None:
    with _server("dashboard", workspace) as (_proc, _port, line):
        pass
    assert f"optuna-dashboard for {workspace.resolve() / 'optuna.journal'} at" in line, line


def assert_ui_route(base: str, route: str) -> None:
    """The MLflow UI served at ``base`` is a hash-routed page whose bundle declares ``route``."""
    with urllib.request.urlopen(f"{base}/", timeout=30) as reply:
        index = reply.read().decode()
    (script,) = re.findall(r'<script[^>]*src="([^"]*main\.[0-9a-f]+\.js)"', index)
    with urllib.request.urlopen(f"{base}/{script}", timeout=60) as reply:
        bundle = reply.read().decode()
    assert f'"{route}"' in bundle and "createHashRouter" in bundle
