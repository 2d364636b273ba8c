"""Register a saved retrained model (``nasflow register``, DVC's ``register`` stage): one version per model.

A model whose bytes are already registered (tag ``model_hash``) is not registered again: the answer names the
version. That is what happens when DVC's run cache restores the ``retrain`` stage's model (data or params back
to an earlier state): the ``register`` stage still runs (its outputs are ``persist``, so the run cache never
stands in for it) and says which version holds that model, as ``nasflow watch`` does for reverted data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.context import RunContext


def register_saved(ctx: RunContext, folder: Path) -> dict[str, Any]:
    """Register the bundle in ``folder`` (champion only if better) unless already registered; returns a summary."""
    from workflows.model_bundle import load_bundle
    from workflows.registry import MODEL_HASH_TAG, model_hash
    from workflows.summary import decision, finished_note
    from workflows.versioning import register_result

    saved = load_bundle(folder, ctx)
    result, name = saved.result, ctx.ws.registered_model
    hash_ = model_hash(result.model)  # the weights' hash, as every registering path tags it
    summary: dict[str, Any] = {
        "registered_model": name, "model_hash": hash_, "data_hash": ctx.data.content_hash,
        "dvc_hash": ctx.lineage["dvc_hash"], "trial": saved.trial_number,
        "test_accuracy": result.metrics["test_accuracy"],
        "metrics": {k: round(v, 6) for k, v in result.metrics.items()}, "params": result.cost.params,
        "flops": result.cost.flops,
    }
    registered = register_result(ctx, result, saved.trial_number, {MODEL_HASH_TAG: hash_})
    summary["decision"] = decision(registered, result.metrics["test_accuracy"], ctx.cfg.tracking.promote_margin)
    if registered.already_registered:
        return {**summary, "status": "matched", "version": registered.version, "alias": registered.alias,
                "model_uri": registered.uri,
                "message": f"this model ({hash_[:12]}) is already version {registered.version} of '{name}'; "
                           f"no new version registered{finished_note(registered)}"}
    summary.update(status="registered", version=registered.version, alias=registered.alias, model_uri=registered.uri,
                   message=f"registered version {registered.version} of '{name}' as {registered.alias}")
    if registered.previous_champion is not None:
        summary["previous_champion"] = {"version": registered.previous_champion,
                                        "test_accuracy": registered.previous_champion_accuracy}
    return summary
