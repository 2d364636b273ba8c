"""A disk that fills mid-search: the trained trial keeps its outcome and, once there is room, is recorded once.

The full disk is real: the knowledge base lives on a 256 KiB tmpfs that its first trial record overflows (SQLite
answers ``database or disk is full``); the test then grows the tmpfs, as a user frees space, and reruns.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of
from tests.workflows.test_kill_suite import STUDY, mlflow_of, study_of

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (skipped where this process may not mount one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"a full disk is a 256 KiB tmpfs here, and mounting one was refused: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_mid_search_keeps_the_trained_trial_and_records_it_once_there_is_room(
        tmp_path: Path, tiny_disk: Path, digits_folder: Path) -> None:
    from knowledge_base import KnowledgeBase

    workspace, n_trials = tmp_path / "ws", 3
    args = ["run", "--json", "--no-progress", f"data.path={digits_folder}", f"search.n_trials={n_trials}",
            "train.epochs=1", "train.retrain_epochs=1", f"kb.url=sqlite:///{tiny_disk / 'kb.db'}"]

    def nasflow() -> subprocess.CompletedProcess:
        return subprocess.run([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace), capture_output=True, text=True,
                              timeout=600, check=False)

    full = nasflow()
    assert full.returncode == 2
    assert full.stderr.strip().splitlines()[-1].startswith("nasflow: error: the knowledge base at sqlite:///")
    assert "database or disk is full" in full.stderr
    trained = [t for t in study_of(workspace).trials if t.intermediate_values]
    assert trained and all(t.state.name == "COMPLETE" for t in trained)  # never turned into FAIL by the disk

    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)  # space freed
    summary_of(nasflow())
    study = study_of(workspace)
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == n_trials
    finished = sorted(t.number for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL"))
    assert {t.number for t in trained} <= set(finished)
    kb = KnowledgeBase(f"sqlite:///{tiny_disk / 'kb.db'}")
    recorded = kb.query(f"kind = 'trial' and lineage.study_name = '{STUDY}' and lineage.trial_number >= 0")
    assert sorted(recorded.column("lineage.trial_number")) == finished
    client = mlflow_of(workspace)
    runs = client.search_runs([client.get_experiment_by_name(f"nasflow-{STUDY}").experiment_id], max_results=1000)
    assert sorted(int(r.data.tags["nasflow.trial"]) for r in runs if r.data.tags.get("nasflow.kind") == "trial") \
        == finished
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
