"""nasflow's workflow layer: the command line, Hydra configs, MLflow tracking and registry, DVC glue.

Owns composing and validating configs (``schema``, ``config``), the run context (``context``: config → data, space,
settings, workspace), MLflow tracking (``tracking``), the registry (``registry``, ``versioning``), knowledge-base
records (``kb_records``), the DVC loop (``data_versioning``, ``watch``), the search run (``search_run``), the servers
it starts (``serve``), and the
thin CLI (``cli`` binds each subcommand's handler in ``commands``). It may import ``nas``, ``knowledge_base`` and
every library; ``nas`` and ``knowledge_base`` never import it. Within it, arrows point one way (context at the
bottom, the CLI on top) and ``tests/test_import_rules.py`` fails on any import circle.

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
