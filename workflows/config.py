"""Compose and validate the run's config from ``conf/`` with Hydra's compose API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workflows.defaults import package_conf
from workflows.errors import ConfigError
from workflows.validation import validate_ranges


def config_dir(explicit: str | Path | None = None) -> Path:
    """The config folder: ``explicit``, ``$NASFLOW_CONFIG_DIR``, ``./conf`` or the ``conf/`` nasflow ships."""
    for candidate in (explicit, os.environ.get("NASFLOW_CONFIG_DIR"), Path.cwd() / "conf"):
        if candidate and (Path(candidate) / "config.yaml").is_file():
            return Path(candidate).resolve()
    if explicit:
        raise ConfigError(f"config folder '{explicit}' has no config.yaml; point --config-dir at a nasflow conf/ folder")
    return package_conf()


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


def _yaml_fault(exc: BaseException | None) -> str | None:
    """One line naming the file, line and column of a malformed YAML file in Hydra's exception chain, if any."""
    import yaml

    while exc is not None and not isinstance(exc, yaml.MarkedYAMLError):
        exc = exc.__cause__ or exc.__context__
    if exc is None:
        return None
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return None
    problem = " ".join(part for part in (exc.problem, exc.context) if part)
    fix = "fix the syntax"
    if Path(mark.name).parent.name == "space":
        fix += (f", or regenerate it with 'nasflow space FILE.py:Class --name {Path(mark.name).stem} --force' "
                "(deleting it extracts the space from the model file at every run)")
    return f"{mark.name}: is not valid YAML (line {mark.line + 1}, column {mark.column + 1}: {problem}); {fix}"


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
        fault = _yaml_fault(exc)
        if fault is not None:
            raise ConfigError(fault) from None
        hint = "check the override syntax (key=value, +key=value for new keys) and the values against conf/"
        raise ConfigError(f"bad config or override ({_explain(exc)}); {hint}") from None
    validate_ranges(cfg)
    return cfg


def load_config_file(path: str | Path) -> Any:
    """A fully composed config from ``path`` (DVC's ``params.yaml``), validated against the schema like ``conf/``."""
    import yaml
    from omegaconf import OmegaConf

    from workflows.schema import NasflowConfig

    fix = "regenerate it from conf/ with 'dvc exp run' (Hydra composition) or 'nasflow config --out " + str(path) + "'"
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"params file '{path}' cannot be read ({exc.strerror or exc}); {fix}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file '{path}' is not valid YAML ({_explain(exc)}); {fix}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"params file '{path}' holds a {type(loaded).__name__}, not a nasflow config mapping; {fix}")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(NasflowConfig), loaded)
        OmegaConf.resolve(cfg)
    except Exception as exc:  # OmegaConf raises many types; all are the file's content
        raise ConfigError(f"params file '{path}' is not a valid nasflow config ({_explain(exc)}); {fix}") from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"params file '{path}' lacks {', '.join(missing)}; {fix}")
    validate_ranges(cfg)
    return cfg


def config_yaml(cfg: Any) -> str:
    """``cfg`` as YAML, exactly as DVC's Hydra composition writes ``params.yaml``."""
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(cfg)


def available_options(group: str, conf: str | Path | None = None) -> list[str]:
    """The option names of a config group (the YAML files in ``conf/<group>/``)."""
    return sorted(p.stem for p in (config_dir(conf) / group).glob("*.yaml"))
