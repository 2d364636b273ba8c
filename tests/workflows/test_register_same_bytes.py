"""Registering the same model bytes again names the version that already holds them (tag model_hash)."""

from __future__ import annotations

from pathlib import Path

from tests.workflows.conftest import REPO


def test_same_bytes_register_once_and_name_the_version(tmp_path: Path, digits_folder: Path, monkeypatch) -> None:
    from mlflow import MlflowClient

    from workflows.config import compose_config
    from workflows.context import prepare
    from workflows.pipeline import retrain_model
    from workflows.registry import model_hash
    from workflows.versioning import register_result

    monkeypatch.setenv("NASFLOW_WORKSPACE", str(tmp_path / "ws"))
    cfg = compose_config([f"data.path={digits_folder}", "train.retrain_epochs=1", "search.n_trials=1"], REPO / "conf")
    ctx = prepare(cfg)
    result = retrain_model(ctx, ctx.factory.space.defaults())
    first = register_result(ctx, result, 0)
    again = register_result(ctx, retrain_model(ctx, ctx.factory.space.defaults()), 0)  # a deterministic rerun
    assert not first.already_registered and again.already_registered
    assert (again.version, again.run_id) == (first.version, first.run_id)
    client = MlflowClient(ctx.ws.mlflow_uri)
    versions = client.search_model_versions(f"name='{ctx.ws.registered_model}'")
    assert [str(v.version) for v in versions] == [first.version]
    assert versions[0].tags["model_hash"] == model_hash(result.model)
