"""Each phase a DVC stage runs (data check, search, register) and an export ends with one line on a terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.workflows.conftest import NASFLOW, REPO, cli_env
from tests.workflows.test_progress import _run_on_a_terminal

pytestmark = pytest.mark.slow


def test_stages_and_export_print_one_line_each_on_a_terminal_only(tmp_path: Path, digits_folder: Path) -> None:
    ws, model, data = tmp_path / "ws", str(tmp_path / "model"), f"data.path={digits_folder}"
    steps = [
        (["data", "check", str(digits_folder)], f"checked {digits_folder}: 1797 samples, 10 classes"),
        (["search", "--json", data, "search.n_trials=1", "train.epochs=1"],
         "searched digits_cnn-digits: 1 complete; best trial 0 (val_accuracy"),
        (["retrain", "--no-register", "--model-out", model, data, "train.retrain_epochs=1"], "retrain trial 0"),
        (["register", "--json", "--model-dir", model, data], "registered version 1 of 'digits_cnn-digits' as champion"),
        (["export", "--out", str(tmp_path / "out"), data], "exported version 1 of digits_cnn-digits to"),
    ]
    for args, line in steps:
        code, drawn = _run_on_a_terminal(args, ws)
        assert code == 0 and line in drawn, drawn[-3000:]
    for args in (["register", "--json", "--no-progress", "--model-dir", model, data],
                 ["export", "--no-progress", "--out", str(tmp_path / "out"), data]):
        code, drawn = _run_on_a_terminal(args, ws)
        assert code == 0 and drawn.strip() == "", drawn[-3000:]
    piped = subprocess.run([*NASFLOW, "export", "--out", str(tmp_path / "out"), data], cwd=REPO, env=cli_env(ws),
                           capture_output=True, text=True, timeout=600)
    assert piped.returncode == 0 and "exported" not in piped.stderr
