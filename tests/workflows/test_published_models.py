"""Published model files through the real CLI: `nasflow space FILE:TARGET`, a tiny `nasflow run` (search, retrain,
register), `nasflow export`, and the exported model.py reproduces the registered model on raw digits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.workflows.conftest import REPO, summary_of
from tests.workflows.test_export_and_dashboard import exported_outputs
from tests.workflows.test_space_and_ui import conf_copy  # noqa: F401 - the private conf/ fixture

pytestmark = pytest.mark.slow
ZOO = REPO / "tests" / "nas" / "zoo"
TINY = ("search.n_trials=2", "train.epochs=1", "train.retrain_epochs=1", "search.proxy=none")


@pytest.mark.parametrize("target, args, note", [
    ("pub_mlp784.py:NeuralNet", (), "flatten(x, 1)"),  # a Linear first layer: flattened input
    ("pub_vgg.py:VGG", ("+model.args.vgg_name=VGGS",), "1x8x8 -> 1x32x32"),  # five MaxPools: resized input
    ("pub_bigru.py:BiRNN", (), "view(-1, 8, 8)"),  # image rows as a sequence
], ids=["mlp784", "vgg", "bigru"])
def test_published_file_is_searched_registered_and_exported(nasflow, conf_copy: Path, digits_folder: Path,  # noqa: F811
                                                            digits, tmp_path: Path, target: str, args: tuple[str, ...],
                                                            note: str) -> None:
    import mlflow.pytorch

    env = {"NASFLOW_CONFIG_DIR": str(conf_copy)}
    data = f"data.path={digits_folder}"
    space = nasflow("space", f"{ZOO / target}", "--name", "pub", data, *args, **env)
    assert space.returncode == 0, space.stderr[-3000:]
    assert note in (conf_copy / "space" / "pub.yaml").read_text()  # the adaptation is listed in the space's notes
    summary = summary_of(nasflow("run", "--json", "--no-progress", "model=pub", data, *TINY, **env))
    proc = nasflow("export", "--out", str(tmp_path / "out"), "model=pub", data, **env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)

    x_test, _ = digits.split("test")
    exported = exported_outputs(report, x_test, tmp_path)
    mlflow.set_registry_uri(summary["tracking_uri"])
    with torch.no_grad():
        expected = mlflow.pytorch.load_model(summary["champion_uri"])(x_test)
    assert expected.shape == (len(x_test), 10)
    assert torch.allclose(exported, expected, atol=1e-6)
