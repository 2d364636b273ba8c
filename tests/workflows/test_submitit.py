"""submitit for real: the README's SLURM command with submitit's local executor (``hydra/launcher=submitit_local``),
two jobs joining one PostgreSQL study on the shared services."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.conftest import REPO, cli_env
from tests.workflows.shared_services import check_records, overrides, pid_of

pytestmark = pytest.mark.slow
pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install 'nasflow[launchers]'")


def test_submitit_local_jobs_join_one_postgresql_study(services: dict[str, str], digits_folder: Path,
                                                       workspace: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workflows.hydra_worker", "--multirun", "hydra/launcher=submitit_local",
         "hydra.launcher.timeout_min=10", "search.seed=0,1", *overrides(services, digits_folder, 4)],
        cwd=REPO, env=cli_env(workspace), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = check_records(services, 4)
    assert len(study.trials) == 4, "no trial failed or was retried"
    sweep = next((workspace / "hydra" / "multirun").iterdir())
    results = sorted(sweep.glob(".submitit/*/*_0_result.pkl"))
    assert len(results) == 2, "two submitit jobs ran, their logs in the workspace"
    for result in results:
        assert pickle.loads(result.read_bytes())[0] == "success"
        assert result.with_name(result.name.replace("_result.pkl", "_log.err")).is_file()
    logs = [(sweep / str(job) / "hydra_worker.log").read_text() for job in (0, 1)]
    workers = [int(m.group(1)) for log in logs for m in [re.search(r"worker [^:\s]+:(\d+):\S+ joins study", log)] if m]
    assert len(set(workers)) == 2, logs
    assert {pid_of(t) for t in study.trials} <= set(workers), "the trials ran in the jobs"
    ran = [int(m.group(1)) for log in logs for m in [re.search(r"ran (\d+) trials; study \S+ holds 4 of 4", log)] if m]
    assert len(ran) == 2 and sum(ran) == 4, logs
