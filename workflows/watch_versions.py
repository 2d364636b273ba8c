"""What the registry already holds for a watch round: versions by data hash, the champion's architecture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

from workflows.context import PARAMS_TAG, tagged_params
from workflows.errors import WorkflowError
from workflows.registry import current_champion


@dataclass(frozen=True)
class Champion:
    """The version holding ``champion``: its architecture (typed params) and where it came from."""

    version: str
    params: dict[str, Any]
    study: str | None
    trial: int | None
    data_hash: str | None


def versions_with_data_hash(client: MlflowClient, name: str, data_hash: str) -> list[str]:
    """Versions of registered model ``name`` whose ``data_hash`` tag is ``data_hash``, oldest first."""
    if not all(c.isalnum() for c in data_hash):
        raise WorkflowError(f"data hash {data_hash!r} is not a hex digest; it comes from nas.data.load_data_folder")
    found = client.search_model_versions(f"name='{name}' and tags.data_hash='{data_hash}'")
    return sorted((str(v.version) for v in found), key=int)


def champion_architecture(client: MlflowClient, name: str) -> Champion | None:
    """The champion's architecture (the typed params its run was registered with); None without a champion."""
    version = current_champion(client, name)
    if version is None:
        return None
    params = tagged_params(client, version.run_id)
    if params is None:
        raise WorkflowError(
            f"champion version {version.version} of '{name}' (run {version.run_id}) has no '{PARAMS_TAG}' tag; "
            "retrain with 'nasflow retrain' or pass --research to search again"
        )
    trial = version.tags.get("trial", "")
    return Champion(str(version.version), params, version.tags.get("study") or None,
                    int(trial) if trial.lstrip("-").isdigit() else None, version.tags.get("data_hash"))


def champion_label(client: MlflowClient, name: str) -> str:
    """``v<N>`` of the current champion of ``name``, or ``none``."""
    version = current_champion(client, name)
    return f"v{version.version}" if version is not None else "none"


def tag_version(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    """Set ``tags`` on version ``version`` of ``name``."""
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
