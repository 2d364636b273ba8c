"""`nasflow space` writes an editable space that `nasflow search` then uses; `nasflow ui` serves MLflow."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from optuna import load_study

from nas.study import make_storage
from tests.workflows.conftest import NASFLOW, REPO, cli_env, free_port, summary_of, wait_for_http


@pytest.fixture
def conf_copy(tmp_path: Path) -> Path:
    """A private copy of conf/ so that generated files never land in the repository."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    return conf


def test_space_is_written_read_back_and_searched(nasflow, conf_copy: Path, digits_folder: Path) -> None:
    target = "examples/models/digits_cnn.py:DigitsCNN"
    proc = nasflow("space", target, "--name", "my_cnn", f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(conf_copy))
    assert proc.returncode == 0, proc.stderr
    assert "channels" in proc.stdout and "8 .. 64 (log)" in proc.stdout  # the table: label, kind, range, today
    space_file = conf_copy / "space" / "my_cnn.yaml"
    space = yaml.safe_load(space_file.read_text())
    assert space["dimensions"]["kernel_size"] == {"type": "categorical", "choices": [3, 5], "default": 3}
    model_conf = yaml.safe_load((conf_copy / "model" / "my_cnn.yaml").read_text())
    assert model_conf["class_name"] == "DigitsCNN"

    again = nasflow("space", target, "--name", "my_cnn", f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(conf_copy))
    assert again.returncode == 2 and "pass --force" in again.stderr

    # the user edits the space: freeze depth at 1, narrow channels, drop the activation choice
    space["dimensions"]["depth"] = {"type": "int", "low": 1, "high": 1, "default": 1}
    space["dimensions"]["channels"] = {"type": "int", "low": 4, "high": 6}
    del space["dimensions"]["activation"]
    space_file.write_text(yaml.safe_dump(space))
    summary = summary_of(nasflow("search", "--json", "--no-progress", "model=my_cnn", "search.n_trials=3",
                                 "train.epochs=1", f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(conf_copy)))
    study = load_study(study_name=summary["study"], storage=make_storage(summary["optuna_storage"]))
    assert len(study.trials) == 3
    for trial in study.trials:
        assert trial.params["depth"] == 1 and 4 <= trial.params["channels"] <= 6 and "activation" not in trial.params

    space["dimensions"]["depth"]["low"] = 5
    space_file.write_text(yaml.safe_dump(space))
    bad = nasflow("search", "model=my_cnn", f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(conf_copy))
    assert bad.returncode == 2 and "dimension 'depth' has low=5 > high=1" in bad.stderr


def test_ui_serves_the_workspace_store_on_localhost(workspace: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([*NASFLOW, "ui", "--port", str(port)], cwd=REPO, env=cli_env(workspace),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "OK" in wait_for_http(f"http://127.0.0.1:{port}/health", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search?max_results=10",
                                    timeout=5) as response:
            assert "nasflow-digits_cnn-digits" in response.read().decode()
        assert (workspace / "mlflow.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    leftovers = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "stopping `nasflow ui` must stop the MLflow server it started"


REQUIRED_ARG_MODEL = '''
import torch.nn as nn


class NeuralNet(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flat(x))))
'''


def test_space_honours_model_args_and_writes_them(nasflow, conf_copy: Path, digits_folder: Path, tmp_path: Path) -> None:
    model_file = tmp_path / "tutorial_mlp.py"
    model_file.write_text(REQUIRED_ARG_MODEL)
    target = f"{model_file}:NeuralNet"
    missing = nasflow("space", target, f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(conf_copy))
    assert missing.returncode == 2 and "'hidden_size' has neither a default nor a type" in missing.stderr
    assert "+model.args.hidden_size=<value>" in missing.stderr  # the hint is what the CLI accepts

    proc = nasflow("space", target, "--name", "mlp", f"data.path={digits_folder}", "+model.args.hidden_size=12",
                   NASFLOW_CONFIG_DIR=str(conf_copy))
    assert proc.returncode == 0, proc.stderr
    model_conf = yaml.safe_load((conf_copy / "model" / "mlp.yaml").read_text())
    assert model_conf["args"] == {"hidden_size": 12}
    summary = summary_of(nasflow("search", "--json", "--no-progress", "model=mlp", "search.n_trials=2",
                                 "train.epochs=1", f"data.path={digits_folder}", NASFLOW_CONFIG_DIR=str(conf_copy)))
    study = load_study(study_name=summary["study"], storage=make_storage(summary["optuna_storage"]))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
