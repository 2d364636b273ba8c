"""The champion, as MLflow users load and serve it: an ``nn.Module`` with ``.eval()``, class names as metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import torch

from tests.workflows.conftest import NASFLOW, REPO, cli_env, free_port, summary_of, wait_for_http
from workflows.init_project import GITIGNORE

pytestmark = pytest.mark.slow

# a script (format with uri, name) that loads the champion without nasflow as ``model``, an ``nn.Module`` in eval mode
CHAMPION_WITHOUT_NASFLOW = """
import json, sys, torch, mlflow, mlflow.pytorch
for package in ('nas', 'workflows', 'knowledge_base'):
    sys.modules[package] = None  # any nasflow import would fail here
mlflow.set_tracking_uri({uri!r})
mlflow.set_registry_uri({uri!r})  # never one inherited from the environment
model = mlflow.pytorch.load_model('models:/{name}@champion')
assert isinstance(model, torch.nn.Module) and model.eval() is model and not model.training
"""
LOAD_WITHOUT_NASFLOW = CHAMPION_WITHOUT_NASFLOW + """with torch.no_grad():
    torch.save(model(torch.load({inputs!r})), {outputs!r})
pyfunc = mlflow.pyfunc.load_model('models:/{name}@champion')
print(json.dumps({{"classes": pyfunc.metadata.metadata["class_names"]}}))
"""


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path) -> tuple[dict, Path]:
    """The summary of a tiny ``nasflow run`` (one trial, one retrain epoch) and its workspace."""
    workspace = tmp_path_factory.mktemp("ws")
    proc = subprocess.run([*NASFLOW, "run", "--json", "--no-progress", f"data.path={digits_folder}",
                           "search.n_trials=1", "train.epochs=1", "train.retrain_epochs=1"], cwd=REPO,
                          env=cli_env(workspace), capture_output=True, text=True, timeout=600)
    return summary_of(proc), workspace


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def test_champion_loads_as_a_module_without_nasflow(champion, digits, tmp_path: Path) -> None:
    summary, _ = champion
    assert summary["alias"] == "champion" and summary["serialization_format"] == "pickle"
    x_test, y_test = digits.split("test")
    torch.save(x_test, tmp_path / "x.pt")
    script = LOAD_WITHOUT_NASFLOW.format(uri=summary["tracking_uri"], name=summary["registered_model"],
                                         inputs=str(tmp_path / "x.pt"), outputs=str(tmp_path / "y.pt"))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"classes": digits.classes}
    # the loaded module scores on the test split what nasflow reported for the registered model
    assert _accuracy(torch.load(tmp_path / "y.pt"), y_test) == pytest.approx(summary["test_accuracy"], abs=1e-6)


def test_served_champion_predicts_logits_in_class_name_order(champion, digits, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.pytorch
    from mlflow.models import get_model_info

    summary, workspace = champion
    uri, name = summary["tracking_uri"], summary["registered_model"]
    port = free_port()
    env = {**cli_env(workspace, MLFLOW_TRACKING_URI=uri), "PYTHONPATH": ""}  # served without nasflow
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}@champion",
                               "--env-manager", "local", "-p", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    x_test, y_test = digits.split("test")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        body = json.dumps({"inputs": x_test.tolist()}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            logits = torch.tensor(json.loads(response.read())["predictions"])
    finally:
        server.terminate()
        server.wait(timeout=60)
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # which mlflow.set_*_uri write: undone after
        monkeypatch.setenv(variable, uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with torch.no_grad():
        assert torch.allclose(logits, mlflow.pytorch.load_model(summary["model_uri"]).eval()(x_test), atol=1e-5)
    classes = get_model_info(summary["model_uri"]).metadata["class_names"]  # served outputs -> labels, as a user maps
    labels = [classes[i] for i in logits.argmax(1)]
    right = sum(label == digits.classes[i] for label, i in zip(labels, y_test.tolist()))
    assert classes == digits.classes and right / len(labels) == pytest.approx(summary["test_accuracy"], abs=1e-6)


def test_export_from_another_folder_writes_no_mlflow_db_there(champion, digits_folder: Path, tmp_path: Path) -> None:
    summary, workspace = champion
    proc = subprocess.run([*NASFLOW, "export", f"data.path={digits_folder}"], cwd=tmp_path, env=cli_env(workspace),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["source"] == f"version {summary['version']} of {summary['registered_model']}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]  # the default folder, nothing else
    ignored = [line.strip() for line in (REPO / ".gitignore").read_text().splitlines()]
    assert "/exported/" in ignored and "/exported/" in GITIGNORE  # the repo's and `nasflow init`'s
