"""MLflow model registry: log a retrained model, register a version, move ``champion`` only if better."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.workspace import Workspace

CHAMPION, CHALLENGER = "champion", "challenger"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisteredVersion:
    """A newly registered model version and what happened to the aliases."""

    name: str
    version: str
    alias: str
    run_id: str
    serialization_format: str
    previous_champion: str | None = None
    previous_champion_accuracy: float | None = None
    already_registered: bool = False  # the same model bytes were registered before: this names that version

    @property
    def uri(self) -> str:
        """The URI that loads this version."""
        return f"models:/{self.name}/{self.version}"

    @property
    def alias_uri(self) -> str:
        """The URI of the alias this version holds."""
        return f"models:/{self.name}@{self.alias}"


def log_torch_model(model: Any, example: Any, model_file: Path) -> tuple[Any, str]:
    """Log ``model`` in the active run as ``pt2`` (no code needed to load); fall back to pickle + code. The input
    example (hence the signature a served model checks) is float32 raw values: uint8 pixels as 0..255."""
    import mlflow.pytorch
    import torch

    requirements = [f"torch=={torch.__version__.split('+')[0]}"]
    example_np = example[:1].float().repeat(2, *([1] * (example.dim() - 1))).numpy()  # batch 2 keeps it dynamic
    try:
        info = mlflow.pytorch.log_model(model, name="model", input_example=example_np,
                                        pip_requirements=requirements, serialization_format="pt2")
        return info, "pt2"
    except Exception as exc:  # torch.export cannot trace every model (data-dependent control flow)
        log.warning("torch.export failed (%s); logging the model pickled with its source file", exc)
        info = mlflow.pytorch.log_model(model, name="model", input_example=example_np, pip_requirements=requirements,
                                        serialization_format="pickle", code_paths=[str(model_file)])
        return info, "pickle"


MODEL_HASH_TAG = "model_hash"


def model_hash(model: Any) -> str:
    """SHA-256 of a model's state (names, dtypes, shapes and bytes of every tensor): one model, one hash."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def version_holding(client: Any, name: str, hash_: str) -> RegisteredVersion | None:
    """The first version of ``name`` tagged with ``hash_`` (the same model bytes), if any."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name='{name}' and tags.{MODEL_HASH_TAG}='{hash_}'")
    except MlflowException:  # no such registered model yet
        return None
    if not found:
        return None
    first = min(found, key=lambda v: int(v.version))
    aliases = client.get_model_version(name, first.version).aliases
    return RegisteredVersion(name, str(first.version), aliases[0] if aliases else "none", first.run_id,
                             first.tags.get("serialization_format", "pt2"), already_registered=True)


def current_champion(client: Any, name: str) -> Any | None:
    """The version holding alias ``champion``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def ensure_registered_model(client: Any, name: str) -> None:
    """Create registered model ``name`` unless it exists (tolerates a concurrent creator)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, description="Retrained by nasflow; alias 'champion' is the best so far.")
        except MlflowException:
            client.get_registered_model(name)


def register_version(
    client: Any,
    ws: Workspace,
    run_id: str,
    model_info: Any,
    serialization_format: str,
    test_accuracy: float,
    tags: dict[str, str],
    score_champion: Callable[[str], float],
    margin: float = 0.0,
) -> RegisteredVersion:
    """Register ``model_info`` as a new version; it takes ``champion`` only if it beats the current one.

    ``score_champion(uri)`` scores the current champion on today's test split, so both are compared
    on the same samples; a version that does not win by more than ``margin`` becomes ``challenger``.
    """
    champion = current_champion(client, ws.registered_model)
    ensure_registered_model(client, ws.registered_model)
    version = client.create_model_version(ws.registered_model, source=model_info.model_uri, run_id=run_id, tags=tags,
                                          model_id=model_info.model_id)
    champion_score = score_champion(f"models:/{ws.registered_model}@{CHAMPION}") if champion else None
    promote = champion_score is None or test_accuracy > champion_score + margin
    alias = CHAMPION if promote else CHALLENGER
    client.set_registered_model_alias(ws.registered_model, alias, version.version)
    client.set_model_version_tag(ws.registered_model, version.version, "nasflow.alias_at_registration", alias)
    return RegisteredVersion(
        ws.registered_model, str(version.version), alias, run_id, serialization_format,
        str(champion.version) if champion else None, champion_score,
    )
