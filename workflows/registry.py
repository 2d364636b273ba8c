"""MLflow model registry: log a retrained model, register a version, move ``champion`` only if better."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.workspace import Workspace

if TYPE_CHECKING:
    from nas.data import Dataset

CHAMPION, CHALLENGER = "champion", "challenger"
PICKLE, CLASS_NAMES = "pickle", "class_names"  # the logged format; the metadata key naming the outputs


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
    previous_champion_split: str | None = None  # the test split (tag test_split_hash) the champion was registered on
    test_split: str | None = None  # the test split (tag test_split_hash) this version was scored on
    already_registered: bool = False  # the same model bytes were registered before: this names that version
    resumed: bool = False  # their registration had been interrupted: this call finished it

    @property
    def uri(self) -> str:
        """The URI that loads this version."""
        return f"models:/{self.name}/{self.version}"

    @property
    def alias_uri(self) -> str:
        """The URI of the alias this version holds."""
        return f"models:/{self.name}@{self.alias}"


def log_torch_model(model: Any, example: Any, model_file: Path, class_names: list[str]) -> tuple[Any, str]:
    """Log ``model`` in the active run, pickled with its source file (``code_paths``); returns (info, format).

    Pickled, ``mlflow.pytorch.load_model`` gives back the user's own ``nn.Module`` (``.eval()``, ``.to()``,
    ``state_dict()`` work; a ``pt2`` program's ``.module()`` refuses ``.eval()``); the model file travels as
    code, so loading needs torch and MLflow, no nasflow. ``class_names`` are the model's metadata: a served
    prediction's column *i* is the logit of ``class_names[i]``. nasflow's normalization layer (``nas.normalize``) is
    pickled by value, so it needs no nasflow either. The input example (hence the signature a served model checks)
    is float32 raw values: uint8 pixels as 0..255.
    """
    import cloudpickle
    import mlflow.pytorch
    import torch

    import nas.normalize

    cloudpickle.register_pickle_by_value(nas.normalize)
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"cloudpickle=={cloudpickle.__version__}"]
    example_np = example[:1].float().repeat(2, *([1] * (example.dim() - 1))).numpy()  # batch 2: the signature's is -1
    info = mlflow.pytorch.log_model(model, name="model", input_example=example_np, pip_requirements=requirements,
                                    serialization_format=PICKLE, code_paths=[str(model_file)],
                                    metadata={CLASS_NAMES: list(class_names)})
    return info, PICKLE


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


def test_split_tags(data: Dataset) -> dict[str, str]:
    """The test split a version is scored on: the hash of its samples and labels, and its size."""
    import hashlib

    x, y = data.split("test")
    digest = hashlib.sha256(x.contiguous().numpy().tobytes() + y.contiguous().numpy().tobytes()).hexdigest()[:16]
    return {"test_split_hash": digest, "test_split_size": str(len(y))}


def version_holding(client: Any, name: str, hash_: str) -> Any | None:
    """The first version (an MLflow ``ModelVersion``) of ``name`` tagged with ``hash_`` (the same model bytes)."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name='{name}' and tags.{MODEL_HASH_TAG}='{hash_}'")
    except MlflowException:  # no such registered model yet
        return None
    if not found:
        return None
    return client.get_model_version(name, min(found, key=lambda v: int(v.version)).version)


def registered(version: Any) -> RegisteredVersion:
    """An already registered ``ModelVersion`` as a :class:`RegisteredVersion` (``already_registered``)."""
    return RegisteredVersion(version.name, str(version.version), version.aliases[0] if version.aliases else "none",
                             version.run_id, version.tags.get("serialization_format", PICKLE),
                             test_split=version.tags.get("test_split_hash"), already_registered=True)


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
            client.create_registered_model(
                name, description="Retrained by nasflow; alias 'champion' is the best so far.")
        except MlflowException:
            client.get_registered_model(name)


ALIAS_TAG = "nasflow.alias_at_registration"  # set last: a version without it was interrupted while registering


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
    """Register ``model_info`` as a new version; it takes ``champion`` only if it beats the current one
    (see :func:`assign_alias`)."""
    from workflows.pause import pause_at

    ensure_registered_model(client, ws.registered_model)
    version = client.create_model_version(ws.registered_model, source=model_info.model_uri, run_id=run_id, tags=tags,
                                          model_id=model_info.model_id)
    pause_at("version-created")
    return assign_alias(client, ws.registered_model, str(version.version), run_id, serialization_format,
                        test_accuracy, score_champion, margin)


def assign_alias(client: Any, name: str, version: str, run_id: str, serialization_format: str, test_accuracy: float,
                 score_champion: Callable[[str], float], margin: float = 0.0) -> RegisteredVersion:
    """Give ``version`` its alias: ``champion`` if it beats the current champion by more than ``margin``, else
    ``challenger``; then tag :data:`ALIAS_TAG`, which marks the registration finished.

    ``score_champion(uri)`` scores the current champion on today's test split, so both are compared on the same
    samples. A version that already holds an alias (a registration interrupted before its last tag) keeps it.
    """
    own = client.get_model_version(name, version)
    held = own.aliases
    champion = current_champion(client, name)
    if champion is not None and str(champion.version) == version:
        champion = None
    champion_score = score_champion(f"models:/{name}@{CHAMPION}") if champion and not held else None
    alias = held[0] if held else CHAMPION if champion_score is None or test_accuracy > champion_score + margin \
        else CHALLENGER
    if champion_score is not None:  # both figures of the comparison on the version
        client.set_model_version_tag(name, version, "champion_test_accuracy", f"{champion_score:.6f}")
    if not held:
        client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, ALIAS_TAG, alias)
    compared = champion if champion is not None and champion_score is not None else None
    return RegisteredVersion(name, version, alias, run_id, serialization_format,
                             str(compared.version) if compared else None, champion_score,
                             compared.tags.get("test_split_hash") if compared else None,
                             own.tags.get("test_split_hash"))
