"""The logged (registered) model takes any batch size, whatever the example's size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from workflows.registry import log_torch_model

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("example_rows", [1, 3])
def test_logged_model_has_a_dynamic_batch_dimension(tmp_path: Path, example_rows: int) -> None:
    import mlflow
    import mlflow.pytorch

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    with mlflow.start_run():
        info, fmt = log_torch_model(model, torch.randn(example_rows, 1, 8, 8), REPO / "examples/models/digits_cnn.py",
                                    [str(i) for i in range(10)])
    assert fmt == "pickle"
    loaded = mlflow.pytorch.load_model(info.model_uri).eval()
    for batch in (1, 2, 7, 100):
        x = torch.randn(batch, 1, 8, 8)
        assert torch.allclose(loaded(x), model(x), atol=1e-5)
