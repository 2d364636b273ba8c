"""Runs left RUNNING by a dead process of this host are ended FAILED, with the reason, at the next start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflows.tracking import fail_orphan_runs


def test_running_runs_of_a_dead_process_end_failed_with_the_reason(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from nas.recovery import worker_id

    code = "from nas.recovery import worker_id; print(worker_id())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("orphans", artifact_location=(tmp_path / "art").as_uri())
    tags = {"nasflow.study": "s", "nasflow.kind": "retrain"}
    orphan = client.create_run(experiment, tags={**tags, "nasflow.worker": dead}).info.run_id
    alive = client.create_run(experiment, tags={**tags, "nasflow.worker": worker_id()}).info.run_id
    other = client.create_run(experiment, tags={"nasflow.study": "t", "nasflow.worker": dead}).info.run_id
    assert fail_orphan_runs(client, experiment, "s") == [orphan]
    ended = client.get_run(orphan)
    assert ended.info.status == "FAILED"
    assert ended.data.tags["nasflow.failed_reason"].startswith(f"process {dead} died while this run was open")
    assert client.get_run(alive).info.status == "RUNNING" and client.get_run(other).info.status == "RUNNING"
