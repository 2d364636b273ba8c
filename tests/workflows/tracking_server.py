"""An ``mlflow server`` for tests: PostgreSQL backend store (a fresh database), artifacts served by the server."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.workflows.conftest import free_port

MLFLOW = [sys.executable, "-m", "mlflow"]


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``server_url``, dropped afterwards."""
    import psycopg

    name = f"nasflow_mh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass
class Server:
    """A running ``mlflow server``: its http:// URI and process."""

    uri: str
    proc: subprocess.Popen

    def stop(self) -> None:
        """Stop the server (it may have stopped already)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def mlflow_server(backend_url: str, artifacts: Path, log: Path, port: int | None = None) -> Iterator[Server]:
    """Run ``mlflow server`` on 127.0.0.1 (on ``port``, else a free one) until the block ends (or it is stopped)."""
    port = port or free_port()
    store = backend_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with open(log, "w") as out:
        proc = subprocess.Popen([*MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                                 "--backend-store-uri", store, "--serve-artifacts",
                                 "--artifacts-destination", str(artifacts)], stdout=out, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"mlflow server exited: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"mlflow server not up after 240 s: {log.read_text()[-2000:]}"
            time.sleep(0.5)
        yield Server(uri, proc)
    finally:
        Server(uri, proc).stop()
