"""``nasflow export``: a chosen architecture as a standalone plain-PyTorch ``.py`` plus its weights."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.errors import WorkflowError

if TYPE_CHECKING:
    from workflows.context import RunContext


def _version_params(ctx: RunContext, version: str | None, alias: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Parameters and trained weights of a registered version (by number, else by alias)."""
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException

    from workflows.context import PARAMS_TAG, tagged_params
    from workflows.tracking import mlflow_client

    name = ctx.ws.registered_model
    store = Path(ctx.ws.mlflow_uri.removeprefix("sqlite:///"))
    if ctx.ws.mlflow_uri.startswith("sqlite:///") and not store.is_file():
        raise WorkflowError(f"registered model '{name}' has no versions: there is no MLflow store at {store} yet; "
                            "run 'nasflow run' first, or export a trial with --trial N")
    client = mlflow_client(ctx.ws)
    try:
        mv = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
    except MlflowException:
        which = f"version {version}" if version else f"alias '{alias}'"
        raise WorkflowError(
            f"registered model '{name}' has no {which}; run 'nasflow run' first or pick another"
        ) from None
    params = tagged_params(client, mv.run_id)
    if params is None:
        raise WorkflowError(
            f"version {mv.version} of '{name}' has no '{PARAMS_TAG}' tag; register it again with nasflow"
        )
    mlflow.set_registry_uri(ctx.ws.mlflow_uri)
    mlflow.set_tracking_uri(ctx.ws.mlflow_uri)  # the version's logged model; MLflow's default is ./mlflow.db
    loaded = mlflow.pytorch.load_model(f"models:/{name}/{mv.version}")
    return params, loaded.state_dict(), f"version {mv.version} of {name}"


def export_architecture(ctx: RunContext, out: Path, trial: int | None, version: str | None,
                        alias: str) -> dict[str, Any]:
    """Export a registered version (trained weights) or a study trial (architecture, freshly initialized)."""
    import torch

    from nas.export import export_standalone
    from nas.selection import trial_by_number
    from nas.study import open_existing_study

    if trial is None:
        params, weights, source = _version_params(ctx, version, alias)
    else:
        chosen = trial_by_number(open_existing_study(ctx.search_settings), trial)
        params, weights, source = dict(chosen.params), None, f"trial {trial} of {ctx.ws.study_name} (untrained)"
    torch.manual_seed(ctx.train_settings.seed)
    model = ctx.factory.build(params)
    if weights is not None:
        model.load_state_dict(weights)
    model.eval()
    example = ctx.data.split("test")[0][:4].float()  # raw values, as the registered model's signature takes them
    py_path, weights_path = export_standalone(model, example, out, class_name="ExportedModel")
    return {"source": source, "params": params, "model_py": str(py_path), "weights": str(weights_path)}
