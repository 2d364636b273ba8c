"""The committed params.yaml (what `dvc repro` reads) is the composed default config, so it never drifts from conf/."""

from __future__ import annotations

import pytest
import yaml

from tests.workflows.conftest import REPO
from workflows.config import compose_config, config_yaml


def test_committed_params_yaml_is_the_composed_default_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASFLOW_WORKSPACE", raising=False)
    monkeypatch.delenv("NASFLOW_CONFIG_DIR", raising=False)
    composed = yaml.safe_load(config_yaml(compose_config([], REPO / "conf")))
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    assert committed == composed, "conf/ changed: regenerate with 'nasflow config --out params.yaml' and commit it"
