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


def _leaves(node: object, prefix: str = "") -> set[str]:
    """The dotted keys of every leaf setting under ``node`` (a dict of the composed config)."""
    if not isinstance(node, dict) or not node:
        return {prefix}
    return set().union(*(_leaves(value, f"{prefix}{key}.") for key, value in node.items()))


def test_dvc_stages_declare_every_schema_setting() -> None:
    from omegaconf import OmegaConf

    from workflows.schema import NasflowConfig

    schema = OmegaConf.to_container(OmegaConf.structured(NasflowConfig), throw_on_missing=False)
    settings = {key.rstrip(".") for key in _leaves(schema)}
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = {param for stage in stages.values() for param in stage.get("params", [])}
    undeclared = {key for key in settings if not any(key == p or key.startswith(p + ".") for p in declared)}
    assert not undeclared, f"dvc.yaml stages read these settings without declaring them: {sorted(undeclared)}"
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for param in declared:  # each declared name exists in params.yaml, or DVC would fail on it
        node = params
        for part in param.split("."):
            assert isinstance(node, dict) and part in node, f"dvc.yaml declares '{param}', absent from params.yaml"
            node = node[part]
