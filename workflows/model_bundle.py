"""A retrained model saved to a folder (weights + what it was trained on), so that registering is a separate step.

``nasflow retrain --model-out DIR --no-register`` writes it (DVC's ``retrain`` stage, a cached output the run cache
may restore); ``nasflow register --model-dir DIR`` registers it (DVC's ``register`` stage, never restored).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas.retrain import RetrainResult
    from workflows.context import RunContext

from workflows.errors import WorkflowError

WEIGHTS, META = "weights.pt", "retrain.json"


@dataclass(frozen=True)
class SavedModel:
    """A loaded bundle: the retrain result, its trial and the hash of the bundle's bytes."""

    result: RetrainResult
    trial_number: int | None
    model_hash: str


def save_bundle(folder: Path, ctx: RunContext, result: RetrainResult, trial_number: int | None) -> Path:
    """Write ``result`` (a :class:`nas.retrain.RetrainResult`) to ``folder``: state dict + JSON metadata."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(result.model.state_dict(), folder / WEIGHTS)
    meta = {"model": ctx.ws.model, "data_hash": ctx.data.content_hash, "study": ctx.ws.study_name,
            "trial": trial_number, "params": result.params, "metrics": result.metrics, "cost": result.cost.as_dict(),
            "settings": result.settings.as_dict(), "wall_time_s": result.wall_time_s}
    (folder / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return folder


def bundle_hash(folder: Path) -> str:
    """SHA-256 of the bundle's files: one model, one hash, however often it is restored."""
    digest = hashlib.sha256()
    for name in (WEIGHTS, META):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def _fix(folder: Path) -> str:
    return f"retrain first: 'nasflow retrain --model-out {folder} --no-register' (DVC: 'dvc repro retrain')"


def require_bundle(folder: Path) -> Path:
    """``folder`` if it holds a saved model, else a clear error (checked before any data is loaded)."""
    if not (folder / WEIGHTS).is_file() or not (folder / META).is_file():
        raise WorkflowError(f"'{folder}' holds no retrained model ({WEIGHTS} and {META}); {_fix(folder)}")
    return folder


def load_bundle(folder: Path, ctx: RunContext) -> SavedModel:
    """The bundle in ``folder``, rebuilt with ``ctx``'s model factory; it must be of ``ctx``'s model and data."""
    import torch

    from nas.cost import ModelCost
    from nas.retrain import RetrainResult
    from nas.training import TrainSettings

    fix = _fix(require_bundle(folder))
    try:
        meta = json.loads((folder / META).read_text())
        params, trial = dict(meta["params"]), meta["trial"]
        settings, cost = TrainSettings(**meta["settings"]), ModelCost(**meta["cost"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkflowError(
            f"'{folder / META}' is not a nasflow retrain record ({type(exc).__name__}: {exc}); {fix}"
        ) from None
    for key, expected in (("model", ctx.ws.model), ("data_hash", ctx.data.content_hash)):
        if meta.get(key) != expected:
            raise WorkflowError(f"'{folder / META}' has {key} {meta.get(key)!r} but the config's is {expected!r} "
                                f"(data folder '{ctx.cfg.data.path}'); the model is stale, {fix}")
    model = ctx.factory.build(params)
    try:
        model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
    except (RuntimeError, OSError, ValueError) as exc:
        raise WorkflowError(f"'{folder / WEIGHTS}' does not fit the architecture in {META} ({exc}); {fix}") from None
    model.eval()
    result = RetrainResult(model, params, {k: float(v) for k, v in meta["metrics"].items()}, cost, settings,
                           wall_time_s=float(meta["wall_time_s"]))
    return SavedModel(result, trial, bundle_hash(folder))
