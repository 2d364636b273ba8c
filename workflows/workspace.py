"""Where a run keeps its state, and the names it gives its study, experiment and registered model."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Workspace:
    """One folder (ignored by git) for the Optuna study, MLflow store and artifacts, and the knowledge base.

    The study defaults to a journal file: one append per write, shared safely by worker processes.
    """

    root: Path
    model: str
    data: str
    optuna_url: str
    mlflow_uri: str
    kb_url: str
    study_name: str
    experiment: str
    registered_model: str
    tracking_retry_s: float = 120.0  # how long calls to a tracking server are retried (tracking.retry_s)
    tracking_timeout_s: float = 30.0  # how long one request to it may take (tracking.request_timeout_s)

    @property
    def artifact_root(self) -> Path:
        """MLflow's artifact folder for experiments created in this workspace."""
        return self.root / "mlartifacts"

    @classmethod
    def from_config(cls, cfg: Any) -> Workspace:
        """Resolve every default (``null`` in ``conf/``) against the workspace folder."""
        root = Path(cfg.workspace).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        model, data = cfg.model.name, cfg.data.name
        pair = f"{model}-{data}"
        return cls(
            root=root,
            model=model,
            data=data,
            optuna_url=cfg.search.storage or f"journal:///{root / 'optuna.journal'}",
            mlflow_uri=cfg.tracking.uri or f"sqlite:///{root / 'mlflow.db'}",
            kb_url=cfg.kb.url or f"sqlite:///{root / 'kb.db'}",
            study_name=cfg.search.study_name or pair,
            experiment=cfg.tracking.experiment or f"nasflow-{pair}",
            registered_model=cfg.tracking.registered_model or pair,
            tracking_retry_s=cfg.tracking.retry_s,
            tracking_timeout_s=cfg.tracking.request_timeout_s,
        )


def git_commit(cwd: Path | None = None) -> str | None:
    """The current git commit of ``cwd`` (None outside a git repository)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None
