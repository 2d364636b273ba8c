"""Compose and validate the run's config from ``conf/`` with Hydra's compose API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workflows.errors import ConfigError

PACKAGE_CONF = Path(__file__).resolve().parent.parent / "conf"


def config_dir(explicit: str | Path | None = None) -> Path:
    """The config folder: ``explicit``, ``$NASFLOW_CONFIG_DIR``, ``./conf`` or the project's own ``conf/``."""
    for candidate in (explicit, os.environ.get("NASFLOW_CONFIG_DIR"), Path.cwd() / "conf"):
        if candidate and (Path(candidate) / "config.yaml").is_file():
            return Path(candidate).resolve()
    if explicit:
        raise ConfigError(f"config folder '{explicit}' has no config.yaml; point --config-dir at a nasflow conf/ folder")
    return PACKAGE_CONF


def _explain(exc: BaseException) -> str:
    """One line from a Hydra/OmegaConf exception chain: the innermost message that names the key."""
    messages = []
    while exc is not None:
        text = str(exc).strip().splitlines()
        if text and "$VALUE" not in text[0]:
            messages.append(text[0].strip())
        key = getattr(exc, "full_key", None)
        if key:
            messages.append(f"key: {key}")
            break
        exc = exc.__cause__ or exc.__context__
    return "; ".join(dict.fromkeys(messages))


def compose_config(overrides: list[str], conf: str | Path | None = None) -> Any:
    """The composed, schema-validated config for ``overrides`` (Hydra override syntax)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from workflows.schema import register_schemas

    folder = config_dir(conf)
    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
            cfg = compose("config", overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except Exception as exc:  # Hydra and OmegaConf raise many types; all are the user's config
        hint = "check the override syntax (key=value, +key=value for new keys) and the values against conf/"
        raise ConfigError(f"bad config or override ({_explain(exc)}); {hint}") from None
    return cfg


def available_options(group: str, conf: str | Path | None = None) -> list[str]:
    """The option names of a config group (the YAML files in ``conf/<group>/``)."""
    return sorted(p.stem for p in (config_dir(conf) / group).glob("*.yaml"))
