"""Which host a worker belongs to: only a process of this host can be judged dead by its pid."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nas.recovery import HOST_ENV, is_dead, worker_id


def test_a_dead_process_of_this_host_is_dead_but_one_of_another_host_is_left_to_the_heartbeat(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOST_ENV, "host-a")
    gone = subprocess.run([sys.executable, "-c", "from nas.recovery import worker_id; print(worker_id())"],
                          capture_output=True, text=True, check=True, env={"PATH": "", HOST_ENV: "host-a",
                                                                           "PYTHONPATH": ":".join(sys.path)})
    dead = gone.stdout.strip()
    assert dead.startswith("host-a:") and worker_id().startswith("host-a:")
    assert is_dead(dead) and not is_dead(worker_id())
    monkeypatch.setenv(HOST_ENV, "host-b")  # the same pid seen from another host: unknown, so not dead
    assert not is_dead(dead)
