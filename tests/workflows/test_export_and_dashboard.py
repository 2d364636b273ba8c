"""`nasflow export` writes plain PyTorch that reproduces the registered model; `nasflow dashboard` serves the study."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.workflows.conftest import NASFLOW, REPO, cli_env, free_port, summary_of, wait_for_http

pytestmark = pytest.mark.slow

LOAD_WITHOUT_NASFLOW = """
import importlib.util, sys, torch
for package in ('nas', 'workflows', 'knowledge_base'):
    sys.modules[package] = None  # any nasflow import would fail here
spec = importlib.util.spec_from_file_location('exported', {py!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
model = getattr(module, module.MODEL_CLASS)()
model.load_state_dict(torch.load({weights!r}, weights_only=True)); model.eval()
x = torch.load({inputs!r})
torch.save(model(x).detach(), {outputs!r})
"""


def exported_outputs(report: dict, x: torch.Tensor, folder: Path) -> torch.Tensor:
    """The outputs on ``x`` of the model ``nasflow export`` wrote (``report``), run in a process that cannot import
    nasflow."""
    torch.save(x, folder / "x.pt")
    script = LOAD_WITHOUT_NASFLOW.format(py=report["model_py"], weights=report["weights"],
                                         inputs=str(folder / "x.pt"), outputs=str(folder / "y.pt"))
    subprocess.run([sys.executable, "-c", script], cwd=folder, check=True, capture_output=True, text=True)
    return torch.load(folder / "y.pt")


def test_exported_champion_reproduces_the_registered_model(nasflow, workspace: Path, digits_folder: Path, digits,
                                                           tmp_path: Path) -> None:
    import mlflow.pytorch

    summary = summary_of(nasflow("run", "--json", "--no-progress", "+experiment=quick", f"data.path={digits_folder}"))
    proc = nasflow("export", "--out", str(tmp_path / "out"), f"data.path={digits_folder}")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["source"] == "version 1 of digits_cnn-digits" and report["params"] == summary["best_params"]
    imports = [line for line in Path(report["model_py"]).read_text().splitlines() if line.startswith(("import", "from"))]
    assert imports and all(line.split()[1].split(".")[0] in ("torch", "__future__", "math", "typing") for line in imports)

    x_test, _ = digits.split("test")
    exported = exported_outputs(report, x_test, tmp_path)
    mlflow.set_registry_uri(summary["tracking_uri"])
    registered = mlflow.pytorch.load_model(summary["champion_uri"])
    with torch.no_grad():
        expected = registered(x_test)
    assert torch.allclose(exported, expected, atol=1e-6)

    trial = nasflow("export", "--trial", "0", "--out", str(tmp_path / "trial0"), f"data.path={digits_folder}")
    assert trial.returncode == 0 and "trial 0 of digits_cnn-digits (untrained)" in trial.stdout
    missing = nasflow("export", "--version", "9", "--out", str(tmp_path / "v9"), f"data.path={digits_folder}")
    assert missing.returncode == 2 and "has no version 9" in missing.stderr


def test_dashboard_serves_the_study_on_localhost(nasflow, workspace: Path, digits_folder: Path) -> None:
    summary_of(nasflow("search", "--json", "--no-progress", "search.n_trials=1", "train.epochs=1",
                       f"data.path={digits_folder}"))
    port = free_port()
    proc = subprocess.Popen([*NASFLOW, "dashboard", "--port", str(port)], cwd=REPO, env=cli_env(workspace),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "digits_cnn-digits" in wait_for_http(f"http://127.0.0.1:{port}/api/studies", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
