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


def _conf(tmp_path: Path) -> Path:
    """A copy of the repository's ``conf/`` that a test may edit."""
    import shutil

    return Path(shutil.copytree(REPO / "conf", tmp_path / "conf"))


MALFORMED_SPACE = [
    ("flow-mapping", "dimensions: {a: {type: int, low: 1\nb: 2\n", 2, 2, r"expected ',' or '}', but got ':'"),
    ("flow-sequence", "dimensions:\n  a: [1, 2\n", 3, 1, r"expected ',' or '\]'"),
    ("mapping-in-value", "dimensions: a: b\n", 1, 14, r"mapping values are not allowed here"),
    ("tab-indent", "dimensions:\n\ta: 1\n", 2, 1, r"found character '\\t' that cannot start any token"),
]


@pytest.mark.parametrize("text, line_no, column, problem", [m[1:] for m in MALFORMED_SPACE],
                         ids=[m[0] for m in MALFORMED_SPACE])
def test_malformed_space_file_names_its_file_line_and_column(monkeypatch, capsys, tmp_path: Path, text: str,
                                                              line_no: int, column: int, problem: str) -> None:
    conf = _conf(tmp_path)
    space = conf / "space" / "digits_cnn.yaml"
    space.write_text(text)
    line = _run(monkeypatch, capsys, tmp_path / "ws", "--config-dir", str(conf), "search", "--no-progress")
    assert re.search(rf"{re.escape(str(space))}: is not valid YAML \(line {line_no}, column {column}: .*{problem}.*\); "
                     r"fix the syntax, or regenerate it with 'nasflow space FILE.py:Class --name digits_cnn --force'",
                     line), line
    assert "override" not in line
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("command", [["export", "--trial", "3"], ["retrain", "--no-progress", "--trial", "3"],
                                     ["retrain", "--no-progress"]], ids=["export-trial", "retrain-trial", "retrain"])
def test_export_or_retrain_without_a_study_says_so_and_creates_none(monkeypatch, capsys, tmp_path: Path,
                                                                     digits_folder: Path, command: list[str]) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, *command, f"data.path={digits_folder}")
    assert re.search(r"no study 'digits_cnn-digits' in storage 'journal:///.*optuna.journal' \(it holds no study yet\); "
                     r"run 'nasflow search' first", line), line
    assert not any(workspace.iterdir())  # no journal, no empty study


def test_export_of_a_missing_trial_names_the_trials_there(monkeypatch, capsys, tmp_path: Path,
                                                          digits_folder: Path) -> None:
    from nas.study import SearchSettings, open_study

    workspace = tmp_path / "ws"
    workspace.mkdir()
    storage = f"journal:///{workspace / 'optuna.journal'}"
    study = open_study(SearchSettings(storage=storage, study_name="digits_cnn-digits"))
    study.enqueue_trial({})
    before = (workspace / "optuna.journal").read_text()
    line = _run(monkeypatch, capsys, workspace, "export", "--trial", "7", f"data.path={digits_folder}")
    assert re.search(r"study 'digits_cnn-digits' has no trial 7; pick one of 0..0", line), line
    assert (workspace / "optuna.journal").read_text() == before


def _unbuildable_models() -> list[tuple[str, str, str]]:
    from tests.nas.test_failures import NO_PARAMS
    from tests.nas.test_memory import HUGE

    return [
        ("NoParams", NO_PARAMS, r"NoParams in .*NoParams.py has no trainable parameters, so there is nothing to train or "
                                r"search; give it at least one layer with weights"),
        ("Huge", HUGE, r"Huge.py:Huge: layer huge \(10,000,100,000 parameters\) makes the layer probing need about "
                       r"633.8 GB .* GB are available; give huge a width of at most \d+ \(today 100000"),  # never built
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["no-trainable-parameters", "too-big-to-probe"])
def test_space_of_a_model_that_cannot_be_searched_is_refused(monkeypatch, capsys, tmp_path: Path,
                                                             digits_folder: Path, index: int) -> None:
    class_name, text, message = _unbuildable_models()[index]
    model = tmp_path / f"{class_name}.py"
    model.write_text(text)
    conf = _conf(tmp_path)
    line = _run(monkeypatch, capsys, tmp_path / "ws", "--config-dir", str(conf), "space", f"{model}:{class_name}",
                f"data.path={digits_folder}")
    assert re.search(message, line), line
    assert sorted(p.name for p in (conf / "space").iterdir()) == ["README.md"]
    assert sorted(p.name for p in (conf / "model").iterdir()) == ["digits_cnn.yaml"]


def _files(workspace: Path) -> list[str]:
    """Every file under the workspace (none if it does not exist): the state a refused input must leave alone."""
    return sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file()) if workspace.exists() else []


OVERRIDES = [
    ("train.optimizer=bogus", r"Invalid value 'bogus', expected one of \[adam, adamw, sgd\]; key: train.optimizer"),
    ("search.sampler=bogus", r"Invalid value 'bogus', expected one of \[local, tpe, .*\]; key: search.sampler"),
    ("search.pruner=bogus", r"Invalid value 'bogus', expected one of \[median, .*\]; key: search.pruner"),
    ("search.costs=[bogus]", r"Invalid value 'bogus', expected one of \[params, flops, .*\]; key: search.costs\[0\]"),
    ("train.batch_size=abc", r"Value 'abc' of type 'str' could not be converted to Integer; key: train.batch_size"),
    ("nokey=1", r"Key 'nokey' not in 'NasflowConfig'"),
    ("model=nonexistent", r"Could not find 'model/nonexistent'"),
    ("train.precision=fp8", r"train.precision=fp8 is not a precision; use one of 32, bf16-mixed, 16-mixed"),
    ("train.augment=spin", r"train.augment=spin: unknown augmentation spin; use none or a list of crop, flip"),
    ("train.device=tpu", r"train.device=tpu is not a device; use one of auto, cpu, cuda, cuda:N or mps"),
    ("search.seed=-1", r"search.seed=-1 is out of range \(allowed: >= 0\); set search.seed to a number >= 0"),
    ("model.file=/nope.py", r"model file '/nope.py' does not exist; pass an existing .py file"),
    ("model.class_name=Nope", r"model file 'examples/models/digits_cnn.py' has no class 'Nope'; classes found: DigitsCNN"),
    ("search.storage=bogus://x", r"cannot read the studies in storage 'bogus://x': Can't load plugin: "
                                 r"sqlalchemy.dialects:bogus; check search.storage"),
    ("search.storage=postgresql://nobody@127.0.0.1:1/x", r"cannot read the studies in storage "
                                                         r"'postgresql://nobody@127.0.0.1:1/x': .*; check search.storage"),
    ("kb.url=bogus://x", r"unsupported knowledge-base URL scheme 'bogus' in 'bogus://x'; use sqlite:////"),
    ("tracking.uri=bogus://x", r"tracking.uri=bogus://x is not an MLflow store URI; use sqlite:////abs/path/mlflow.db"),
]


@pytest.mark.parametrize("override, message", OVERRIDES, ids=[o[0] for o in OVERRIDES])
def test_bad_override_is_one_line_and_writes_nothing(monkeypatch, capsys, tmp_path: Path, digits_folder: Path,
                                                      override: str, message: str) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "search", "--no-progress", f"data.path={digits_folder}", override)
    assert re.search(message, line), line
    assert _files(workspace) == []


DATA_FOLDERS = [
    ("empty", {}, r"empty: no data found; add class sub-folders of PNG/JPEG images, one CSV with a label column"),
    ("no-label-column", {"t.csv": "a,b\n1,2\n3,4\n"}, r"t.csv: no label column 'label' \(columns found: 'a', 'b'\)"),
    ("ragged-row", {"t.csv": "a,label\n1,x\n2\n"}, r"t.csv: row 2 \(line 3\) has 1 values but the header has 2 columns"),
    ("bad-dataset-yaml", {"t.csv": "a,label\n1,x\n", "dataset.yaml": "split: {val: 0.1\n"},
     r"dataset.yaml: is not valid YAML \(.*line 2, column 1.*\); fix the syntax or delete the file"),
    ("npz-without-y", {"d.npz": None}, r"d.npz: has no array 'y' \(arrays found: x\)"),
]


@pytest.mark.parametrize("files, message", [d[1:] for d in DATA_FOLDERS], ids=[d[0] for d in DATA_FOLDERS])
def test_bad_data_folder_is_one_line_naming_the_file(monkeypatch, capsys, tmp_path: Path, files: dict[str, str | None],
                                                     message: str) -> None:
    import numpy as np

    data = tmp_path / "empty"
    data.mkdir()
    for name, text in files.items():
        if text is None:
            np.savez(data / name, x=np.zeros((10, 4)))
        else:
            (data / name).write_text(text)
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "search", "--no-progress", f"data.path={data}")
    assert re.search(message, line), line
    assert _files(workspace) == []


MODEL_FILES = [
    ("syntax-error", "M", "import torch\nclass M(torch.nn.Module:\n    pass\n",
     r"model file '.*m.py' line 2: syntax error \(invalid syntax\); fix the file"),
    ("not-a-module", "NotModule", "class NotModule:\n    def __init__(self, width: int = 8):\n        self.width = width\n",
     r"'NotModule' in '.*m.py' is neither a torch.nn.Module subclass nor a function"),
    ("constructor-raises", "Boom", "from torch import nn\nclass Boom(nn.Module):\n    def __init__(self, width: int = 8):\n"
     "        super().__init__()\n        raise RuntimeError('constructor exploded')\n",
     r"Boom\(\*\*\{'width': 8\}\) failed: RuntimeError: constructor exploded; narrow the space or fix the constructor"),
]


@pytest.mark.parametrize("class_name, text, message", [m[1:] for m in MODEL_FILES], ids=[m[0] for m in MODEL_FILES])
def test_bad_model_file_is_one_line_and_writes_nothing(monkeypatch, capsys, tmp_path: Path, digits_folder: Path,
                                                       class_name: str, text: str, message: str) -> None:
    model = tmp_path / "m.py"
    model.write_text(text)
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "search", "--no-progress", f"data.path={digits_folder}",
                f"model.file={model}", f"model.class_name={class_name}", "model.name=m")
    assert re.search(message, line), line
    assert _files(workspace) == []


EDITED_SPACES = [
    ("unknown-label", "nosuch: {type: int, low: 1, high: 4}",
     r"dimension 'nosuch' is neither a constructor argument nor a layer dimension of .*digits_cnn.py:DigitsCNN"),
    ("low-above-high", "dropout: {type: float, low: 0.5, high: 0.1}",
     r"conf/space/digits_cnn.yaml: dimension 'dropout' has low=0.5 > high=0.1; swap or fix them"),
    ("unknown-type", "dropout: {type: weird, low: 0.1, high: 0.5}",
     r"conf/space/digits_cnn.yaml: dimension 'dropout' has type 'weird'; use one of int, float, categorical"),
    ("not-a-mapping", "dropout: 0.3", r"conf/space/digits_cnn.yaml: dimension 'dropout' must be a mapping with a 'type'"),
]


@pytest.mark.parametrize("dimension, message", [e[1:] for e in EDITED_SPACES], ids=[e[0] for e in EDITED_SPACES])
def test_edited_space_file_with_a_bad_dimension_is_one_line(monkeypatch, capsys, tmp_path: Path, digits_folder: Path,
                                                             dimension: str, message: str) -> None:
    conf = _conf(tmp_path)
    (conf / "space" / "digits_cnn.yaml").write_text(f"dimensions:\n  {dimension}\n")
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "--config-dir", str(conf), "search", "--no-progress",
                f"data.path={digits_folder}")
    assert re.search(message, line), line
    assert _files(workspace) == []


KB_QUESTIONS = [
    ("sql-that-writes", ["sql", "DELETE FROM tasks"], r"raw SQL 'DELETE FROM tasks' was rejected: not authorized"),
    ("sql-syntax", ["sql", "SELEC 1"], r"raw SQL 'SELEC 1' was rejected: near \"SELEC\": syntax error"),
    ("similar-unknown-task", ["similar", "nosuch"], r"unknown task 'nosuch'; known tasks: \(none recorded yet\)"),
    ("similar-k-0", ["similar", "digits", "-k", "0"], r"k = 0 must be a whole number >= 1"),
]


@pytest.mark.parametrize("question, message", [k[1:] for k in KB_QUESTIONS], ids=[k[0] for k in KB_QUESTIONS])
def test_bad_knowledge_base_question_is_one_line_and_changes_nothing(monkeypatch, capsys, tmp_path: Path,
                                                                      question: list[str], message: str) -> None:
    from knowledge_base import KnowledgeBase

    workspace = tmp_path / "ws"
    KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}").close()
    before = (workspace / "kb.db").read_bytes()
    line = _run(monkeypatch, capsys, workspace, "kb", *question)
    assert re.search(message, line), line
    assert (workspace / "kb.db").read_bytes() == before and _files(workspace) == ["kb.db"]


COMMAND_ARGS = [
    ("export-unknown-version", ["export", "--version", "99"],
     r"registered model 'digits_cnn-digits' has no versions: there is no MLflow store at .*mlflow.db yet"),
    ("export-unknown-alias", ["export", "--alias", "nosuch"],
     r"registered model 'digits_cnn-digits' has no versions: there is no MLflow store"),
    ("retrain-no-register-without-out", ["retrain", "--no-register"], r"--no-register needs --model-out DIR"),
    ("register-missing-dir", ["register", "--model-dir", "/nonexistent"],
     r"'/nonexistent' holds no retrained model \(weights.pt and retrain.json\)"),
]


@pytest.mark.parametrize("args, message", [c[1:] for c in COMMAND_ARGS], ids=[c[0] for c in COMMAND_ARGS])
def test_bad_export_retrain_or_register_argument_is_one_line(monkeypatch, capsys, tmp_path: Path, digits_folder: Path,
                                                             args: list[str], message: str) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, *args, f"data.path={digits_folder}")
    assert re.search(message, line), line
    assert _files(workspace) == []


@pytest.mark.parametrize("args", [["--interval", "-1", "--max-rounds", "1"], ["--max-rounds", "-1"]],
                         ids=["negative-interval", "negative-rounds"])
def test_watch_with_a_negative_interval_or_round_count_is_refused(monkeypatch, capsys, tmp_path: Path,
                                                                  digits_folder: Path, args: list[str]) -> None:
    workspace = tmp_path / "ws"
    line = _run(monkeypatch, capsys, workspace, "watch", str(digits_folder), *args)
    assert re.search(r"--interval -?\d+ and --max-rounds -?\d+ must be >= 0 \(0 rounds = forever\)", line), line
    assert _files(workspace) == []
