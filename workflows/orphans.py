"""A deleted MLflow store: before it is created anew, name what still points at its runs and versions.

A leaf of ``workflows``: it imports the workspace, the knowledge base and the study storage only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from workflows.workspace import Workspace

_VERSIONS = ("SELECT DISTINCT coalesce(text_value, CAST(CAST(num_value AS INTEGER) AS TEXT)) AS v FROM lineage "
             "WHERE key = 'mlflow_model_version' "
             "AND evaluation_id IN (SELECT evaluation_id FROM lineage WHERE key = 'registered_model' AND text_value = '{}')")
_RUNS = "SELECT count(DISTINCT evaluation_id) AS n FROM lineage WHERE key = 'mlflow_run_id' AND text_value IS NOT NULL"


def _sqlite_file(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _kb_orphans(ws: Workspace) -> list[str]:
    from knowledge_base import KnowledgeBase

    path = _sqlite_file(ws.kb_url)
    if path is None or not path.is_file():
        return []
    with KnowledgeBase(ws.kb_url, upgrade=False) as kb:
        runs = int(kb.sql(_RUNS).rows[0][0])
        versions = sorted((str(row[0]) for row in kb.sql(_VERSIONS.format(ws.registered_model.replace("'", "''"))).rows),
                          key=lambda v: int(v) if v.isdigit() else 0)
    found = [f"{runs} knowledge-base records whose MLflow runs are gone"] if runs else []
    if versions:
        found.append(f"registered versions {', '.join(versions)} of '{ws.registered_model}' named in the knowledge base "
                     "(new versions will reuse those numbers)")
    return found


def _study_orphans(ws: Workspace) -> list[str]:
    import optuna

    from nas.study import make_storage, study_names

    names = study_names(ws.optuna_url)
    storage = make_storage(ws.optuna_url) if names else None
    state = optuna.trial.TrialState
    finished = (state.COMPLETE, state.PRUNED, state.FAIL)  # each had its MLflow run
    counts = {name: len(optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False, states=finished))
              for name in names}
    return [f"study '{name}' with {n} finished trials whose runs are gone" for name, n in counts.items() if n]


def orphaned_by_lost_store(ws: Workspace) -> str | None:
    """The warning to give when ``ws``'s SQLite MLflow store is missing while the knowledge base or the study
    still name its runs and versions; None when the store exists, is a server, or nothing points at it."""
    path = _sqlite_file(ws.mlflow_uri)
    if path is None or path.exists():
        return None
    orphaned = _kb_orphans(ws) + _study_orphans(ws)
    if not orphaned:
        return None
    return (f"nasflow: warning: the MLflow store {path} is missing and is created anew, empty; orphaned: "
            f"{'; '.join(orphaned)}; restore {path.name} from a backup to keep their lineage, or go on: new results "
            "are tracked in the new store")


def warn_if_store_lost(ws: Workspace) -> None:
    """Print :func:`orphaned_by_lost_store`'s warning (one line on stderr) if there is one."""
    warning = orphaned_by_lost_store(ws)
    if warning:
        print(warning, file=sys.stderr)
