"""User errors end in one clear line naming the value and the fix, a non-zero exit and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.conftest import REPO


def assert_one_line_error(proc: subprocess.CompletedProcess, pattern: str, context_lines: int = 0) -> None:
    """Exit 2, no traceback, one error line (plus ``context_lines``, e.g. a query with a caret under it)."""
    import re

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 + context_lines, proc.stderr
    assert lines[0].startswith("nasflow: error: ")
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize("override, pattern", [
    ("search.n_trials=abc", r"'abc'.*could not be converted to Integer; key: search.n_trials"),
    ("search.sampler=annealing", r"Invalid value 'annealing', expected one of \[local, tpe, random, gp, cmaes, nsga2\]"),
    ("search.proxy=jacov", r"Invalid value 'jacov', expected one of \[synflow, none\]; key: search.proxy"),
    ("train.schedule=step", r"Invalid value 'step', expected one of \[cosine, constant\]; key: train.schedule"),
    ("model=no_such_model", r"Could not find 'model/no_such_model'"),
    ("serach.n_trials=3", r"Key 'serach' not in 'NasflowConfig'"),
    ("model.file=examples/models/missing.py", r"model file 'examples/models/missing.py' does not exist"),
    ("model.class_name=DigitsRNN", r"has no class 'DigitsRNN'; classes found: DigitsCNN"),
    ("data.path=data/nowhere", r"data folder 'data/nowhere' does not exist; create it with 'nasflow data init"),
])
def test_bad_search_input_is_one_line(nasflow, digits_folder: Path, override: str, pattern: str) -> None:
    args = ["search", "--no-progress", "search.n_trials=1"]
    if not override.startswith("data."):
        args.append(f"data.path={digits_folder}")
    assert_one_line_error(nasflow(*args, override), pattern)


def test_argument_with_neither_default_nor_type(nasflow, digits_folder: Path, tmp_path: Path) -> None:
    model = tmp_path / "untyped_model.py"
    model.write_text("from torch import nn\n\nclass Untyped(nn.Module):\n    def __init__(self, width):\n        super().__init__()\n")
    proc = nasflow("space", f"{model}:Untyped", f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(REPO / "conf"))
    assert_one_line_error(proc, r"argument 'width' has neither a default nor a type; give it a default")


def test_kb_query_syntax_error_is_one_line(nasflow) -> None:
    proc = nasflow("kb", "query", "task = = 'digits'")
    assert_one_line_error(proc, r"position 7: expected a value", context_lines=2)
    assert proc.stderr.splitlines()[-1].strip() == "^"


def test_help_answers_without_heavy_imports() -> None:
    code = "import sys; from workflows.cli import build_parser; build_parser().format_help(); " \
           "print(sorted(m for m in ('torch', 'mlflow', 'optuna', 'hydra', 'sqlalchemy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    proc = subprocess.run([sys.executable, "-m", "workflows.cli", "--help"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and "search" in proc.stdout and "kb" in proc.stdout
