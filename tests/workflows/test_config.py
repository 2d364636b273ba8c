"""Composing conf/ with Hydra's compose API: groups, presets, schema validation, workspace defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.config import available_options, compose_config
from workflows.errors import ConfigError
from workflows.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"


def test_defaults_compose_every_group() -> None:
    cfg = compose_config([], CONF)
    assert cfg.model.class_name == "DigitsCNN" and cfg.data.name == "digits"
    assert cfg.search.n_trials == 20 and cfg.search.sampler.value == "local"
    assert cfg.space.dimensions is None  # no conf/space/digits_cnn.yaml: the space is extracted from the file
    assert set(available_options("experiment", CONF)) >= {"quick", "thorough"}


def test_overrides_and_presets_apply_in_order() -> None:
    cfg = compose_config(["+experiment=quick", "search.n_trials=7", "train.epochs=5"], CONF)
    assert (cfg.search.n_trials, cfg.train.epochs, cfg.train.retrain_epochs) == (7, 5, 4)


@pytest.mark.parametrize("override, message", [
    ("search.n_trials=abc", r"could not be converted to Integer; key: search.n_trials"),
    ("train.optimizer=rmsprop", r"Invalid value 'rmsprop', expected one of \[adam, adamw, sgd\]"),
    ("+experiment=nope", r"Could not find 'experiment/nope'"),
    ("search.n_trials", r"Error parsing override|missing"),
])
def test_bad_overrides_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compose_config([override], CONF)


def test_workspace_resolves_every_store_under_one_folder(tmp_path: Path) -> None:
    cfg = compose_config([f"workspace={tmp_path / 'ws'}"], CONF)
    ws = Workspace.from_config(cfg)
    assert ws.optuna_url == f"journal:///{tmp_path / 'ws' / 'optuna.journal'}"
    assert ws.mlflow_uri.endswith("ws/mlflow.db") and ws.kb_url.endswith("ws/kb.db")
    assert (ws.study_name, ws.experiment, ws.registered_model) == ("digits_cnn-digits", "nasflow-digits_cnn-digits",
                                                                    "digits_cnn-digits")


def test_a_space_file_is_picked_for_its_model(tmp_path: Path) -> None:
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "space").mkdir(exist_ok=True)
    (conf / "space" / "digits_cnn.yaml").write_text("dimensions:\n  depth: {type: int, low: 1, high: 1}\n")
    cfg = compose_config([], conf)
    assert dict(cfg.space.dimensions) == {"depth": {"type": "int", "low": 1, "high": 1}}
