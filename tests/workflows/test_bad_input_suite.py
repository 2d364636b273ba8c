"""The bad-input suite: each input ends with exit 2, one error line, no traceback, and nothing written.

Runs ``workflows.cli.main`` in-process (an uncaught exception would fail the test as a traceback would), so
most inputs cost a config composition only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.workflows.conftest import REPO

RANGE = r"is out of range \(allowed: {op} {bound}\); set {key} to a number {op} {bound}"

SETTINGS = [
    ("train.batch_size=0", "train.batch_size=0", ">=", "1"),
    ("train.batch_size=-3", "train.batch_size=-3", ">=", "1"),
    ("train.epochs=0", "train.epochs=0", ">=", "1"),
    ("train.retrain_epochs=0", "train.retrain_epochs=0", ">=", "1"),
    ("train.lr=0", "train.lr=0.0", ">", "0"),
    ("train.lr=-1", "train.lr=-1.0", ">", "0"),
    ("train.weight_decay=-5", "train.weight_decay=-5.0", ">=", "0"),
    ("search.n_trials=0", "search.n_trials=0", ">=", "1"),
    ("search.n_trials=-2", "search.n_trials=-2", ">=", "1"),
    ("search.timeout=0", "search.timeout=0.0", ">", "0"),
    ("search.timeout=-10", "search.timeout=-10.0", ">", "0"),
    ("search.max_failures=0", "search.max_failures=0", ">=", "1"),
    ("search.workers=0", "search.workers=0", ">=", "1"),
    ("search.threads=-1", "search.threads=-1", ">=", "0"),
    ("search.warm_start_k=0", "search.warm_start_k=0", ">=", "1"),
    ("search.heartbeat=0", "search.heartbeat=0", ">=", "1"),
    ("search.grace_period=0", "search.grace_period=0", ">=", "1"),
]


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, workspace: Path, *args: str) -> str:
    from workflows.cli import main

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("NASFLOW_WORKSPACE", str(workspace))
    code = main(list(args))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nasflow: error: "), err
    return lines[0]


@pytest.mark.parametrize("override, shown, op, bound", SETTINGS, ids=[s[0] for s in SETTINGS])
@pytest.mark.parametrize("command", ["search", "run"])
def test_out_of_range_setting_is_refused_before_anything_is_written(
        monkeypatch, capsys, tmp_path: Path, digits_folder: Path, command: str, override: str, shown: str,
        op: str, bound: str) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, command, "--no-progress", f"data.path={digits_folder}", override)
    key = shown.split("=")[0]
    assert re.search(re.escape(shown) + " " + RANGE.format(op=re.escape(op), bound=bound, key=re.escape(key)), line), line
    assert not workspace.exists()  # nothing written: no study, no MLflow store, no knowledge base


def test_params_file_with_a_bad_range_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text().replace("batch_size: 64", "batch_size: 0"))
    line = _run(monkeypatch, capsys, tmp_path / "ws", "config", "--params-file", str(params))
    assert re.search(r"train.batch_size=0 is out of range \(allowed: >= 1\)", line), line


def test_library_settings_refuse_bad_values() -> None:
    from nas.errors import SettingsError
    from nas.study import SearchSettings
    from nas.training import TrainSettings

    with pytest.raises(SettingsError, match=r"TrainSettings.lr=-1 is out of range \(allowed: > 0\)"):
        TrainSettings(lr=-1)
    with pytest.raises(SettingsError, match=r"TrainSettings.batch_size=0 is out of range \(allowed: >= 1\)"):
        TrainSettings(batch_size=0)
    with pytest.raises(SettingsError, match=r"SearchSettings.timeout=0 is out of range \(allowed: > 0\)"):
        SearchSettings(timeout=0)
    with pytest.raises(SettingsError, match=r"SearchSettings.n_trials=0 is out of range"):
        SearchSettings(n_trials=0)
    assert SearchSettings(timeout=None).timeout is None
    with pytest.raises(SettingsError, match=r"search.grace_period=5 must be longer than search.heartbeat=5"):
        SearchSettings(heartbeat=5, grace_period=5)


def test_a_grace_period_within_the_heartbeat_is_refused(monkeypatch, capsys, tmp_path: Path,
                                                        digits_folder: Path) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "search", f"data.path={digits_folder}", "search.heartbeat=30")
    assert "search.grace_period=30 must be longer than search.heartbeat=30" in line, line
    assert not workspace.exists()


@pytest.mark.parametrize("rows", [4, 12])
def test_data_too_small_to_measure_is_refused(monkeypatch, capsys, tmp_path: Path, rows: int) -> None:
    data = tmp_path / "tiny"
    data.mkdir()
    lines = ["f1,f2,label"] + [f"{i},{i * 2},{'abc'[i % 3]}" for i in range(rows)]
    (data / "table.csv").write_text("\n".join(lines) + "\n")
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "search", "--no-progress", f"data.path={data}")
    assert re.search(r"the (val|test) split (holds \d+ samples for 3 classes \(train \d+, val \d+, test \d+\), too few "
                     r"to measure accuracy; add samples|of \d+ samples is empty)", line), line
    assert not workspace.exists()


@pytest.mark.parametrize("kind", ["tuple", "dict"])
def test_model_returning_a_tuple_or_dict_is_refused_before_any_trial(monkeypatch, capsys, tmp_path: Path,
                                                                     digits_folder: Path, kind: str) -> None:
    from tests.nas.test_failures import WRAPPED

    model = tmp_path / "wrapped.py"
    model.write_text(WRAPPED)
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "search", "--no-progress", f"data.path={digits_folder}",
                f"model.file={model}", "model.class_name=Wrapped", "model.name=wrapped", f"+model.args.kind={kind}",
                "model.extract=constructor", "search.proxy=none")
    assert re.search(rf"(Wrapped.forward returned a {kind}|gives output {kind}).*make forward return", line), line
    assert not (workspace / "optuna.journal").exists() or "trial" not in (workspace / "optuna.journal").read_text()


def test_kb_best_of_an_unknown_task_names_the_known_ones(monkeypatch, capsys, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "kb", "best", "no_such_task")
    assert re.search(r"unknown task 'no_such_task'; known tasks: ", line), line


def test_data_check_of_a_file_says_to_pass_its_folder(monkeypatch, capsys, tmp_path: Path) -> None:
    csv = tmp_path / "table.csv"
    csv.write_text("a,label\n1,x\n")
    line = _run(monkeypatch, capsys, tmp_path / "ws", "data", "check", str(csv))
    assert re.search(rf"table.csv: is a file, not a data folder; pass the folder that holds it \({re.escape(str(tmp_path))}\)",
                     line), line


def test_watch_of_a_missing_folder_says_it_does_not_exist(monkeypatch, capsys, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "watch", str(tmp_path / "nowhere"), "--max-rounds", "1")
    assert re.search(r"data folder '.*nowhere' does not exist; create it", line), line
    assert not workspace.exists()
