"""The retrain draws an epoch bar and each finished phase one line, on a terminal only; --no-progress is quiet."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.workflows.conftest import NASFLOW, REPO, cli_env

pytestmark = pytest.mark.slow

TINY = ["search.n_trials=2", "train.epochs=1", "train.retrain_epochs=3"]


def _run_on_a_terminal(args: list[str], workspace: Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; its exit code and everything it drew there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*NASFLOW, *args], cwd=REPO, env=cli_env(workspace, COLUMNS="150"),
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=600), b"".join(chunks).decode(errors="replace")


def test_a_run_on_a_terminal_shows_the_retrain_epochs_and_the_registration(tmp_path: Path, digits_folder: Path) -> None:
    code, drawn = _run_on_a_terminal(["run", f"data.path={digits_folder}", *TINY], tmp_path / "ws")
    assert code == 0, drawn[-3000:]
    assert "retrain trial" in drawn and "3/3" in drawn and "loss=" in drawn
    assert "registered models:/digits_cnn-digits/1 (champion)" in drawn


def test_no_progress_and_a_pipe_stay_quiet(tmp_path: Path, digits_folder: Path) -> None:
    code, drawn = _run_on_a_terminal(["run", "--json", "--no-progress", f"data.path={digits_folder}", *TINY],
                                     tmp_path / "ws")
    assert code == 0, drawn[-3000:]
    assert "retrain trial" not in drawn and "registered" not in drawn
    piped = subprocess.run([*NASFLOW, "retrain", f"data.path={digits_folder}", *TINY], cwd=REPO,
                           env=cli_env(tmp_path / "ws"), capture_output=True, text=True, timeout=600, check=False)
    assert piped.returncode == 0, piped.stderr[-3000:]
    assert "retrain trial" not in piped.stderr and "registered models:/" not in piped.stderr
