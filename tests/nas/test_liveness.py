"""Worker leases: a process of another host that still runs (even frozen) holds its lease on the study's database;
once it is killed the lease is free, so other hosts may write what it left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nas.liveness import gone_workers, keeps_leases, lease_key
from nas.recovery import HOST_ENV
from tests.knowledge_base.conftest import pg_admin, postgres_url  # noqa: F401 - the server check (skip/fail)

HOLDER = ("import sys; from nas.liveness import hold_lease; from nas.recovery import worker_id; "
          "hold_lease(sys.argv[1]); print(worker_id(), flush=True); sys.stdin.read()")


@contextmanager
def process_of_another_host(url: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """A process that says it runs on host ``elsewhere`` and holds its lease on database ``url``; its worker id.
    Killed afterwards."""
    env = {**os.environ, HOST_ENV: "elsewhere", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def wait_until_gone(url: str, worker: str) -> bool:
    """Whether ``worker``'s lease is free within 30 s (the server ends a killed process's session once it reads
    the closed socket)."""
    deadline = time.monotonic() + 30
    while not gone_workers(url, {worker}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return gone_workers(url, {worker}) == {worker}


def test_only_postgresql_storages_keep_leases(tmp_path: Path) -> None:
    assert keeps_leases("postgresql+psycopg://u@h/db") and keeps_leases("postgresql://u@h/db")
    assert not keeps_leases(None) and not keeps_leases(f"sqlite:///{tmp_path}/o.db")
    assert not keeps_leases(f"journal:///{tmp_path}/o.journal")
    assert lease_key("a:1:2") != lease_key("a:1:3") and -(1 << 63) <= lease_key("a:1:2") < 1 << 63


def test_without_leases_a_worker_of_another_host_is_never_called_gone() -> None:
    assert gone_workers(None, {"elsewhere:1:1"}) == set()


@pytest.mark.postgres
def test_a_live_or_frozen_worker_of_another_host_holds_its_lease_and_a_killed_one_frees_it(
        pg_admin) -> None:  # noqa: F811
    url = postgres_url()
    with process_of_another_host(url) as (proc, worker):
        assert worker.startswith("elsewhere:")
        assert gone_workers(url, {worker, "elsewhere:1:never-leased"}) == {"elsewhere:1:never-leased"}
        proc.send_signal(signal.SIGSTOP)  # a frozen process is slow, not gone
        try:
            assert gone_workers(url, {worker}) == set()
        finally:
            proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=30)
        assert wait_until_gone(url, worker)


def test_a_storage_where_no_server_listens_is_named_with_the_fix() -> None:
    from nas.errors import SearchError
    from nas.liveness import hold_lease

    with pytest.raises(SearchError, match=r"cannot hold this worker's lease in storage "
                                          r"'postgresql://nobody@127.0.0.1:1/x\?connect_timeout=2': .*check search"):
        hold_lease("postgresql://nobody@127.0.0.1:1/x?connect_timeout=2")
