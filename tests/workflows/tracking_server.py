"""An ``mlflow server`` for tests: PostgreSQL backend store (a fresh database), artifacts served by the server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MLFLOW = [sys.executable, "-m", "mlflow"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@contextmanager
def mlflow_server(backend_url: str, artifacts: Path, log: Path) -> Iterator[str]:
    """Run ``mlflow server`` on a free 127.0.0.1 port until the block ends; yields its http:// URI."""
    port = free_port()
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
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
