"""The summary explains the champion/challenger decision; each version records its test split and both scores."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of

pytestmark = pytest.mark.slow

TINY = ["--json", "--no-progress", "search.n_trials=2", "train.epochs=1", "train.retrain_epochs=1"]


def test_a_challenger_summary_names_the_champions_score_and_the_margin(tmp_path: Path, digits_folder: Path) -> None:
    from mlflow import MlflowClient

    def nasflow(*args: str) -> dict:
        return summary_of(subprocess.run([*NASFLOW, *args, f"data.path={digits_folder}"], cwd=REPO,
                                         env=cli_env(tmp_path / "ws"), capture_output=True, text=True, timeout=600,
                                         check=False))

    first = nasflow("run", *TINY)
    assert first["decision"] == "champion: the first version of digits_cnn-digits"
    # Two retrain epochs: other weights than v1's (the same bytes would name v1 instead of adding a version).
    second = nasflow("retrain", *TINY[:-1], "train.retrain_epochs=2", "tracking.promote_margin=1.0")
    champion = second["previous_champion"]["test_accuracy"]
    assert second["alias"] == "challenger"
    assert f"champion v1 ({champion:.4f} on the same test split)" in second["decision"]
    assert "margin 1" in second["decision"] and f"{second['test_accuracy'] - champion:+.4f}" in second["decision"]

    client = MlflowClient(f"sqlite:///{tmp_path / 'ws' / 'mlflow.db'}")
    v1, v2 = (client.get_model_version("digits_cnn-digits", v).tags for v in ("1", "2"))
    assert v1["test_split_hash"] == v2["test_split_hash"] and len(v1["test_split_hash"]) == 16
    assert v1["test_split_size"] == v2["test_split_size"] and int(v2["test_split_size"]) > 0
    assert float(v2["champion_test_accuracy"]) == pytest.approx(champion, abs=1e-6)
    assert float(v2["test_accuracy"]) == pytest.approx(second["test_accuracy"], abs=1e-6)
    run_name = client.get_run(client.get_model_version("digits_cnn-digits", "2").run_id).info.run_name
    assert run_name == f"retrain digits_cnn trial {second['best_trial']}"
