"""A live trial writer that fell behind and a start on another host restoring trials from the study never both
write one trial: while the writer beats the restorer leaves its trials alone; a writer whose beat lapsed looks
first. Either way one run results, with one metric point per epoch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nas.observer import TrialResult

if TYPE_CHECKING:
    from mlflow import MlflowClient

# another host starting: it writes what restorable() gives it, under the study's runs lock (as restore_trial_records)
_RESTORE = """
import sys
import optuna
from mlflow import MlflowClient
from nas.study import make_storage
from workflows.tracking import runs_lock
from workflows.trial_restore import write_missing_trial_runs

url, uri, experiment = sys.argv[1:]
study = optuna.load_study(study_name="s", storage=make_storage(url))
with runs_lock(url, "s"):
    print(sorted(write_missing_trial_runs(MlflowClient(uri), experiment, study, {"nasflow.study": "s"},
                                          "val_accuracy")))
"""
HISTORY = [{"val_accuracy": 0.4}, {"val_accuracy": 0.5}, {"val_accuracy": 0.6}]


@pytest.mark.parametrize("beating", [True, False], ids=["writer-beating", "writer-beat-lapsed"])
def test_a_writer_behind_and_a_restorer_on_another_host_write_one_run_with_one_point_per_epoch(
        beating: bool, mlflow_experiment: tuple[MlflowClient, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna

    from nas.recovery import ENDED_ATTR, HOST_ENV, WORKER_ATTR, worker_id
    from nas.study import make_storage
    from workflows.tracking import MlflowSearchObserver, runs_lock

    monkeypatch.setenv(HOST_ENV, "host-a")
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=make_storage(url), direction="maximize")
    client, experiment = mlflow_experiment
    writer = MlflowSearchObserver(client, experiment, {"nasflow.study": "s"}, {}, lock=runs_lock(url, "s"))
    writer.follow(study)
    writer.trial_started(0, {"x": 0.5})
    writer.flush()  # the trial's run is open
    # the trial ended two minutes ago, its writer behind (its tracking server was away): as host-a recorded it
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE, value=0.6, params={"x": 0.5},
        distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
        intermediate_values={step: row["val_accuracy"] for step, row in enumerate(HISTORY)},
        user_attrs={WORKER_ATTR: worker_id(), ENDED_ATTR: time.time() - 120, "metrics": HISTORY[-1]}))
    if not beating:
        writer.beat.stop()  # as if it had stopped beating (a frozen process, a storage it could not reach)
    restorer = subprocess.run([sys.executable, "-c", _RESTORE, url, client.tracking_uri, experiment],
                              capture_output=True, text=True, cwd=Path(__file__).parents[2],
                              env={"PATH": "", HOST_ENV: "host-b", "PYTHONPATH": ":".join(sys.path)})
    assert restorer.returncode == 0, restorer.stderr[-3000:]
    assert restorer.stdout.split("\n")[-2] == ("[]" if beating else "[0]")
    writer.trial_ended(TrialResult(0, "complete", {"x": 0.5}, HISTORY, HISTORY[-1]))
    writer.flush()
    runs = client.search_runs([experiment], "tags.`nasflow.kind` = 'trial'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    points = client.get_metric_history(runs[0].info.run_id, "val_accuracy")
    assert sorted((p.step, p.value) for p in points) == [(0, 0.4), (1, 0.5), (2, 0.6)]
    assert writer.trial_runs.get(0) == runs[0].info.run_id
    writer.abort()
    assert client.get_run(runs[0].info.run_id).info.status == "FINISHED", "not ended again by the writer"
