"""nasflow's workflow layer: the command line, Hydra configs, MLflow tracking and registry, DVC glue.

The public names load on first use, so that ``nasflow --help`` imports almost nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "main": "workflows.cli",
    "compose_config": "workflows.config",
    "ConfigError": "workflows.errors",
    "WorkflowError": "workflows.errors",
    "RunContext": "workflows.context",
    "prepare": "workflows.context",
    "register_result": "workflows.versioning",
    "retrain_and_register": "workflows.pipeline",
    "run": "workflows.pipeline",
    "search": "workflows.search_run",
    "Workspace": "workflows.workspace",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workflows' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
