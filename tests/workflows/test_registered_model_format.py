"""The champion, as MLflow users load and serve it: an ``nn.Module`` with ``.eval()``, class names as metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import torch

from tests.workflows.conftest import NASFLOW, REPO, cli_env, free_port, wait_for_http
from workflows.init_project import GITIGNORE

pytestmark = pytest.mark.slow

# a script (format with uri, name) that loads the champion without nasflow as ``model``, an ``nn.Module`` in eval mode
CHAMPION_WITHOUT_NASFLOW = """
import json, sys, torch, mlflow, mlflow.pytorch
for package in ('nas', 'workflows', 'knowledge_base'):
    sys.modules[package] = None  # any nasflow import would fail here
mlflow.set_tracking_uri({uri!r})
model = mlflow.pytorch.load_model('models:/{name}@champion')
assert isinstance(model, torch.nn.Module) and model.eval() is model and not model.training
"""
LOAD_WITHOUT_NASFLOW = CHAMPION_WITHOUT_NASFLOW + """with torch.no_grad():
    torch.save(model(torch.load({inputs!r})), {outputs!r})
pyfunc = mlflow.pyfunc.load_model('models:/{name}@champion')
print(json.dumps({{"classes": pyfunc.metadata.metadata["class_names"], "state": len(model.state_dict())}}))
"""


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path):
    """A model registered through nasflow's registry path (one retrain epoch) and its run context."""
    from workflows.config import compose_config
    from workflows.context import prepare
    from workflows.pipeline import retrain_model
    from workflows.versioning import register_result

    workspace = tmp_path_factory.mktemp("ws")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NASFLOW_WORKSPACE", str(workspace))
        ctx = prepare(compose_config([f"data.path={digits_folder}", "train.retrain_epochs=1"], REPO / "conf"))
        result = retrain_model(ctx, ctx.factory.space.defaults())
        registered = register_result(ctx, result, 0)
    return ctx, result, registered, workspace


def test_champion_loads_as_a_module_without_nasflow(champion, tmp_path: Path) -> None:
    ctx, result, registered, _ = champion
    assert registered.alias == "champion" and registered.serialization_format == "pickle"
    x_test, _ = ctx.data.split("test")
    torch.save(x_test, tmp_path / "x.pt")
    script = LOAD_WITHOUT_NASFLOW.format(uri=ctx.ws.mlflow_uri, name=registered.name, inputs=str(tmp_path / "x.pt"),
                                         outputs=str(tmp_path / "y.pt"))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"classes": ctx.data.classes, "state": len(result.model.state_dict())}
    with torch.no_grad():
        assert torch.allclose(torch.load(tmp_path / "y.pt"), result.model.eval()(x_test), atol=1e-6)


def test_served_champion_predicts_logits_in_class_name_order(champion, tmp_path: Path) -> None:
    ctx, result, registered, workspace = champion
    port = free_port()
    env = {**cli_env(workspace, MLFLOW_TRACKING_URI=ctx.ws.mlflow_uri), "PYTHONPATH": ""}  # served without nasflow
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                               f"models:/{registered.name}@champion", "--env-manager", "local", "-p", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        x_test, y_test = ctx.data.split("test")
        body = json.dumps({"inputs": x_test[:8].tolist()}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            logits = torch.tensor(json.loads(response.read())["predictions"])
    finally:
        server.terminate()
        server.wait(timeout=60)
    with torch.no_grad():
        assert torch.allclose(logits, result.model.eval()(x_test[:8]), atol=1e-5)
    import mlflow
    from mlflow.models import get_model_info

    mlflow.set_tracking_uri(ctx.ws.mlflow_uri)
    mlflow.set_registry_uri(ctx.ws.mlflow_uri)
    classes = get_model_info(f"models:/{registered.name}/{registered.version}").metadata["class_names"]
    assert [classes[i] for i in logits.argmax(1)] == [ctx.data.classes[i] for i in result.model(x_test[:8]).argmax(1)]


def test_export_from_another_folder_writes_no_mlflow_db_there(champion, digits_folder: Path, tmp_path: Path) -> None:
    ctx, _, registered, workspace = champion
    proc = subprocess.run([*NASFLOW, "export", f"data.path={digits_folder}"], cwd=tmp_path, env=cli_env(workspace),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["source"] == f"version {registered.version} of {registered.name}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]  # the default folder, nothing else
    ignored = [line.strip() for line in (REPO / ".gitignore").read_text().splitlines()]
    assert "/exported/" in ignored and "/exported/" in GITIGNORE  # the repo's and `nasflow init`'s
