"""Part 5: start-up. ``nasflow --help`` wall time, and ``nasflow run`` on the embedded default from scratch.

``nasflow run`` gets a fresh workspace and the digits exported into a new git repository in a temporary folder
by ``nasflow data init digits`` (timed separately); its summary gives the final test accuracy.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.cli import REPO, nasflow_command, run_nasflow
from benchmarks.table import Figure, PartResult

HELP_TARGET_S, RUN_TARGET_S, ACCURACY_TARGET = 0.3, 90.0, 0.98


def wall_s(command: list[str]) -> float:
    """Wall seconds of one run of ``command`` (output discarded)."""
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, capture_output=True, check=True)
    return time.perf_counter() - start


def help_times(repeats: int) -> tuple[list[float], list[float]]:
    """``nasflow --help`` and a bare ``python -c pass`` (the interpreter's own start-up), alternating."""
    ours, bare = [], []
    wall_s([*nasflow_command(), "--help"])  # warm the file cache
    for _ in range(repeats):
        ours.append(wall_s([*nasflow_command(), "--help"]))
        bare.append(wall_s([sys.executable, "-c", "pass"]))
    return ours, bare


def run(quick: bool = False) -> PartResult:
    """Median ``--help`` time over several runs; one ``nasflow run`` (one 1-epoch trial in quick mode)."""
    ours, bare = help_times(3 if quick else 9)
    with tempfile.TemporaryDirectory() as tmp:
        digits = Path(tmp) / "data" / "digits"
        subprocess.run(["git", "init", "-q", tmp], check=True)  # a fresh project: DVC tracks data in git
        init = run_nasflow(["data", "init", "digits", str(digits)], cwd=Path(tmp))
        extra = ["+experiment=quick", "search.n_trials=1", "train.epochs=1", "train.retrain_epochs=1"] if quick else []
        done = run_nasflow(["run", "--json", "--no-progress", f"data.path={digits}", *extra],
                           workspace=Path(tmp) / "ws")
    summary = done.json()
    accuracy = float(summary["test_accuracy"])
    label = "nasflow run +experiment=quick" if quick else "nasflow run (embedded default)"
    figures = [
        Figure("start-up: nasflow --help", statistics.median(ours), "s", baseline=statistics.median(bare),
               baseline_name="python -c pass", target=HELP_TARGET_S, higher_is_better=False, decimals=3,
               note=f"median of {len(ours)} runs"),
        Figure(f"{label}: wall time", done.seconds, "s", target=None if quick else RUN_TARGET_S,
               higher_is_better=False, decimals=1,
               note=f"fresh workspace; 'nasflow data init digits' before it took {init.seconds:.1f} s"),
        Figure(f"{label}: test accuracy", accuracy, target=None if quick else ACCURACY_TARGET, decimals=4,
               note=f"{summary['trials']} trials; best params {summary.get('best_params')}"),
    ]
    return PartResult("startup", figures, {"help_s": ours, "python_s": bare, "run_s": done.seconds,
                                           "data_init_s": init.seconds, "summary": summary})
