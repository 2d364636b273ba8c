"""Normalization learned from the training split travels inside the model: a plain MLP on breast_cancer matches a
logistic regression, and every consumer of the registered model feeds raw table values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.data import load_data_folder
from tests.workflows.conftest import summary_of

pytestmark = pytest.mark.slow

MLP_FILE = '''
import torch
from torch import nn


class PlainMLP(nn.Module):
    def __init__(self, in_features: int = 30, n_classes: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
'''


def breast_cancer_folder(folder: Path) -> Path:
    """scikit-learn's breast_cancer as a CSV data folder (raw feature values, a label column)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    folder.mkdir(parents=True)
    header = ",".join(f"f{i}" for i in range(bunch.data.shape[1])) + ",label"
    rows = [",".join(repr(float(v)) for v in row) + f",{int(t)}" for row, t in zip(bunch.data, bunch.target)]
    (folder / "table.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def logistic_regression_accuracy(folder: Path) -> float:
    """A standardized logistic regression fitted on train+validation, scored on test: the same split as nasflow's."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_data_folder(folder)
    (x, y), (x_test, y_test) = data.split("trainval"), data.split("test")
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x.numpy(), y.numpy())
    return float(lr.score(x_test.numpy(), y_test.numpy()))


def test_plain_mlp_on_raw_breast_cancer_matches_logistic_regression(nasflow, tmp_path: Path) -> None:
    import mlflow.pyfunc
    import mlflow.pytorch

    from nas.export import load_exported

    folder = breast_cancer_folder(tmp_path / "cancer")
    model_file = tmp_path / "plain_mlp.py"
    model_file.write_text(MLP_FILE)
    overrides = [f"data.path={folder}", "data.name=cancer", f"model.file={model_file}", "model.class_name=PlainMLP",
                 "model.name=plain_mlp", "search.n_trials=2", "train.epochs=2", "train.retrain_epochs=40",
                 "train.batch_size=32", "train.lr=0.001"]
    summary = summary_of(nasflow("run", "--json", "--no-progress", *overrides))
    baseline = logistic_regression_accuracy(folder)
    assert summary["test_accuracy"] >= baseline - 0.01, (summary["test_accuracy"], baseline)

    data = load_data_folder(folder)
    x_test, y_test = data.split("test")
    mlflow.set_registry_uri(summary["tracking_uri"])
    registered = mlflow.pytorch.load_model(summary["champion_uri"])
    with torch.no_grad():
        logits = registered(x_test)
    predicted = logits.argmax(dim=1)
    assert (predicted == y_test).float().mean().item() == pytest.approx(summary["test_accuracy"])

    served = mlflow.pyfunc.load_model(summary["champion_uri"]).predict(x_test.numpy())
    assert np.array_equal(np.asarray(served).argmax(axis=1), predicted.numpy())

    proc = nasflow("export", "--out", str(tmp_path / "out"), *overrides)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    exported = load_exported(Path(report["model_py"]), Path(report["weights"]))
    with torch.no_grad():
        assert torch.allclose(exported(x_test), logits, atol=1e-5)


def colour_folder(folder: Path, per_class: int = 24) -> Path:
    """Generated 3×32×32 PNGs of two classes: reddish and bluish noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, channel in (("red", 0), ("blue", 2)):
        (folder / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, size=(32, 32, 3), dtype=np.uint8)
            pixels[..., channel] += 100
            Image.fromarray(pixels, mode="RGB").save(folder / label / f"{i:03d}.png")
    return folder


def test_image_run_caches_the_folder_and_serves_raw_pixels(nasflow, workspace: Path, tmp_path: Path) -> None:
    import mlflow.pyfunc
    import mlflow.pytorch

    folder = colour_folder(tmp_path / "colours")
    summary = summary_of(nasflow("run", "--json", "--no-progress", "+experiment=quick", f"data.path={folder}",
                                 "data.name=colours", "search.n_trials=1", "train.retrain_epochs=2"))
    assert len(list((workspace / "cache").rglob("*.npy"))) == 1
    x_test = load_data_folder(folder).split("test")[0]
    assert x_test.dtype == torch.uint8
    raw = x_test.float()  # pixel values 0..255, as the PNGs hold them
    mlflow.set_registry_uri(summary["tracking_uri"])
    with torch.no_grad():
        logits = mlflow.pytorch.load_model(summary["champion_uri"])(raw)
    served = np.asarray(mlflow.pyfunc.load_model(summary["champion_uri"]).predict(raw.numpy()))
    assert np.allclose(served, logits.numpy(), atol=1e-5)
