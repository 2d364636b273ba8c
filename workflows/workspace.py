"""Where a run keeps its state, and the names it gives its study, experiment and registered model."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omegaconf import DictConfig

from workflows.errors import WorkflowError


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
    def from_config(cls, cfg: DictConfig) -> Workspace:
        """Resolve every default (``null`` in ``conf/``) against the workspace folder."""
        root = workspace_root(cfg)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkflowError(f"cannot create the workspace {root} ({exc.strerror or exc}); {_FIX}") from None
        model, data = cfg.model.name, cfg.data.name
        pair = f"{model}-{data}"
        check_tracking_uri(cfg.tracking.uri or "sqlite:///")
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


#: the URI schemes of an MLflow tracking and registry store (a database, a server, a folder)
TRACKING_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "file", "databricks")
_FIX = "make it writable (chmod -R u+w, or remount it read-write) or point workspace= (NASFLOW_WORKSPACE) elsewhere"


def check_tracking_uri(uri: str) -> None:
    """Refuse a ``tracking.uri`` that names no MLflow store before anything is written."""
    scheme = uri.split("://", 1)[0].split("+", 1)[0]
    if "://" in uri and scheme not in TRACKING_SCHEMES:  # a plain path is a file store
        raise WorkflowError(f"tracking.uri={uri} is not an MLflow store URI; use sqlite:////abs/path/mlflow.db, "
                            "postgresql://user@host/db, http://host:port of an mlflow server, "
                            "or null (the workspace's)")


def workspace_root(cfg: DictConfig) -> Path:
    """The workspace folder ``cfg.workspace`` names, absolute (it may not exist yet)."""
    return Path(cfg.workspace).expanduser().resolve()


def require_writable(root: Path) -> None:
    """Refuse, in one line naming the folder and the fix, a workspace this process cannot write (read-only folder
    or mount), before any store is opened; reading it (``nasflow kb ...``) still works."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=root, prefix=".nasflow-write-check-"):
            pass
    except OSError as exc:
        raise WorkflowError(f"workspace {root} is read-only ({exc.strerror or exc}); {_FIX}; "
                            "'nasflow kb query' still reads its knowledge base") from None


def git_commit(cwd: Path | None = None) -> str | None:
    """The current git commit of ``cwd`` (None outside a git repository)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None
