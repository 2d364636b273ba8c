"""A search that gave up on the tracking server notes its unended search run in the study: the search's own process
ends it if the server is back before it exits, else the next start on any host does, with the search's status."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import REPO, free_port
from tests.workflows.test_resume_and_workers import postgres_url
from tests.workflows.tracking_server import mlflow_server, postgres_database

# a search on host-a: its run and one trial, then the server goes (the test's step), then the search ends or aborts
_SEARCH = """
import sys, time
from pathlib import Path
from typing import Any
import optuna
from mlflow import MlflowClient
from nas.observer import TrialResult
from nas.study import make_storage
from workflows.tracking import MlflowSearchObserver, runs_lock
from workflows.tracking_server import configure_retries

uri, url, folder, how = sys.argv[1:]
configure_retries(0, 2)  # a call to a server that is away fails at once
client = MlflowClient(uri)
study = optuna.create_study(study_name="s", storage=make_storage(url))
tracker = MlflowSearchObserver(client, client.create_experiment("open"), {"nasflow.study": "s"}, {},
                               lock=runs_lock(url, "s"), request_timeout_s=2)
tracker.follow(study)
tracker.search_started("s", 1, 0)
print(tracker.parent_id, flush=True)


def wait_for(step):
    deadline = time.monotonic() + 300
    while not (Path(folder) / step).exists():
        assert time.monotonic() < deadline, step
        time.sleep(0.1)


wait_for("server-stopped")
tracker.trial_started(0, {})
tracker.trial_ended(TrialResult(0, "complete", {}, [{"val_accuracy": 0.5}], {"val_accuracy": 0.5}))
tracker.abort() if how == "abort" else tracker.search_ended(study)
print("gave up", flush=True)
wait_for("go-on")
"""


def _attrs(study: Any) -> dict[str, Any]:
    return study._storage.get_study_system_attrs(study._study_id)


def _line(out: Path, number: int, search: subprocess.Popen, err: Path) -> str:
    """Line ``number`` of the search's output, once it is there."""
    deadline = time.monotonic() + 300
    while len(lines := out.read_text().splitlines()) <= number:
        assert search.poll() is None and time.monotonic() < deadline, err.read_text()[-3000:]
        time.sleep(0.1)
    return lines[number]


@pytest.mark.parametrize("how, status, server_back", [("end", "FINISHED", "before the search exits"),
                                                       ("abort", "FAILED", "after the search exited")])
def test_a_search_run_left_open_with_the_server_away_is_ended_with_its_status(
        how: str, status: str, server_back: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna
    from mlflow import MlflowClient

    from nas.recovery import HOST_ENV
    from nas.study import make_storage
    from workflows.open_searches import ENDED_TAG, OPEN_SEARCH_ATTR, end_open_searches

    port, url = free_port(), f"sqlite:///{tmp_path / 'optuna.db'}"
    out, err = tmp_path / "search.out", tmp_path / "search.err"
    with postgres_database(postgres_url()) as store:
        with mlflow_server(store, tmp_path / "artifacts", tmp_path / "server.log", port) as server:
            with open(out, "w") as stdout, open(err, "w") as stderr:
                search = subprocess.Popen([sys.executable, "-c", _SEARCH, server.uri, url, str(tmp_path), how],
                                          stdout=stdout, stderr=stderr, cwd=REPO, env={
                                              "PATH": "", HOST_ENV: "host-a", "PYTHONPATH": ":".join(sys.path)})
            try:
                parent = _line(out, 0, search, err)
            except BaseException:
                search.kill()
                raise
        try:
            (tmp_path / "server-stopped").touch()
            assert _line(out, 1, search, err) == "gave up"
            study = optuna.load_study(study_name="s", storage=make_storage(url))
            notes = {k: v for k, v in _attrs(study).items() if k.startswith(OPEN_SEARCH_ATTR)}
            assert list(notes.values()) == [{"run": parent, "status": status}]
            assert f"nasflow: the search run {parent} stays open (tracking server {server.uri} does not answer); " \
                   f"noted in the study, it is ended {status} at the next nasflow start" in err.read_text()
            if server_back == "after the search exited":
                (tmp_path / "go-on").touch()
                search.wait(timeout=120)
            with mlflow_server(store, tmp_path / "artifacts", tmp_path / "server-again.log", port):
                client = MlflowClient(server.uri)
                if server_back == "before the search exits":  # its last try as it exits ends the run
                    (tmp_path / "go-on").touch()
                    search.wait(timeout=120)
                    ended_by = "host-a"
                else:  # the next start, on another host
                    monkeypatch.setenv(HOST_ENV, "host-b")
                    assert end_open_searches(client, study) == [parent]
                    ended_by = "host-b"
                run = client.get_run(parent)
                trials = client.search_runs([run.info.experiment_id], "tags.`nasflow.kind` = 'trial'")
                assert end_open_searches(client, study) == [], "ended once"
        finally:
            if search.poll() is None:
                search.kill()
    assert search.returncode == 0, err.read_text()[-3000:]
    assert run.info.status == status
    assert run.data.tags[ENDED_TAG] == f"{ended_by}:{run.data.tags[ENDED_TAG].split(':', 1)[1]}"
    assert run.data.tags[ENDED_TAG].endswith(f": its search ended {status} while the tracking server did not answer")
    assert _attrs(study)[next(iter(notes))] is None, "the note is cleared"
    if server_back == "before the search exits":  # and it wrote the trial run it kept
        assert [(t.data.tags["nasflow.trial"], t.info.status) for t in trials] == [("0", "FINISHED")]
