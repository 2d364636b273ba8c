"""Every published model file of the zoo (tests/nas/zoo/pub_*.py) through the CLI: `nasflow space FILE:TARGET`, a
tiny `nasflow run` (search, retrain, register), `nasflow export`, and the exported model.py reproduces the registered
model within 1e-6 on raw data-shaped input in a process that cannot import nasflow.

The MNIST-style files run on a small subset of the bundled digits (1x8x8), the CIFAR-style ones on a 4-class
3x32x32 image folder made here. To stay cheap the commands run in this process through ``workflows.cli.main`` (the
console script's entry point, same argv; tests/workflows/test_export_and_dashboard.py runs the script itself) against
one workspace and MLflow store, one model name per case, and one process without nasflow runs every exported model.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tests.workflows.conftest import REPO
from tests.workflows.test_export_and_dashboard import LOAD_WITHOUT_NASFLOW

pytestmark = pytest.mark.slow
ZOO = REPO / "tests" / "nas" / "zoo"
TINY = ("search.n_trials=1", "train.epochs=1", "train.retrain_epochs=1", "search.proxy=none", "train.batch_size=16")
RESIZED = "1x8x8 -> 1x32x32 (bilinear resize"


SPLIT = "split:\n  val: 0.25\n  test: 0.25\n  seed: 0\n"  # enough of each split for a handful of images per class


def digits_subset(folder: Path, per_class: int) -> Path:
    """The first ``per_class`` bundled digits of each class as 8x8 PNGs in class folders."""
    from sklearn.datasets import load_digits

    data, counts = load_digits(), dict.fromkeys(range(10), 0)
    for index, (image, target) in enumerate(zip(data.images, data.target)):
        if counts[int(target)] < per_class:
            counts[int(target)] += 1
            path = folder / str(int(target)) / f"img_{index:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(image * (255 / 16)).astype(np.uint8), mode="L").save(path)
    (folder / "dataset.yaml").write_text(SPLIT)
    return folder


def images32(folder: Path, classes: int, per_class: int) -> Path:
    """Random 3x32x32 RGB PNGs in class folders (a CIFAR-shaped folder; the class only shifts the mean colour)."""
    rng = np.random.default_rng(0)
    for label in range(classes):
        for index in range(per_class):
            pixels = rng.integers(0, 200, (32, 32, 3)) + np.array([label * 5, 0, 50 - label * 5])
            path = folder / f"class{label}" / f"{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels.astype(np.uint8), mode="RGB").save(path)
    (folder / "dataset.yaml").write_text(SPLIT)
    return folder


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One workspace and conf/ copy for every case, with the two data folders."""
    root = tmp_path_factory.mktemp("published")
    shutil.copytree(REPO / "conf", root / "conf")
    import mlflow

    uris = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")  # MLflow exports its global URIs to the environment
    before = {name: os.environ.get(name) for name in uris}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NASFLOW_WORKSPACE", str(root / "ws"))
        patch.setenv("NASFLOW_CONFIG_DIR", str(root / "conf"))
        yield {"root": root, "conf": root / "conf", "digits": digits_subset(root / "digits", per_class=8),
               "images32": images32(root / "images32", classes=4, per_class=8)}
    mlflow.set_tracking_uri(None)  # the commands pointed MLflow at this module's store: later tests must not inherit it
    mlflow.set_registry_uri(None)
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


#: A process that runs, one per stdin line, the (JSON-quoted) script that ``exported_outputs`` runs in a fresh one.
RUNNER = """
import json, sys, traceback
for package in ('nas', 'workflows', 'knowledge_base'):
    sys.modules[package] = None  # any nasflow import would fail here
import torch
for line in sys.stdin:
    try:
        exec(json.loads(line), {})
        print('ok', flush=True)
    except Exception:
        print(json.dumps(traceback.format_exc()), flush=True)
"""


@pytest.fixture(scope="module")
def without_nasflow() -> Iterator[Callable[[dict, torch.Tensor, Path], torch.Tensor]]:
    """``outputs(report, x, folder)``: what ``exported_outputs`` gives (the exported model.py and weights run on
    ``x`` where nasflow cannot be imported), from one process for all cases, so they pay torch's import once."""
    runner = subprocess.Popen([sys.executable, "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert runner.stdin is not None and runner.stdout is not None

    def outputs(report: dict, x: torch.Tensor, folder: Path) -> torch.Tensor:
        torch.save(x, folder / "x.pt")
        script = LOAD_WITHOUT_NASFLOW.format(py=report["model_py"], weights=report["weights"],
                                             inputs=str(folder / "x.pt"), outputs=str(folder / "y.pt"))
        runner.stdin.write(json.dumps(script) + "\n")
        runner.stdin.flush()
        answer = runner.stdout.readline().strip()
        assert answer == "ok", json.loads(answer) if answer else f"the runner exited with {runner.wait()}"
        return torch.load(folder / "y.pt")

    yield outputs
    runner.stdin.close()
    assert runner.wait(timeout=60) == 0


def space_notes(conf: Path, name: str) -> list[str]:
    """The notes of the space ``nasflow space --name name`` wrote."""
    return yaml.safe_load((conf / "space" / f"{name}.yaml").read_text())["notes"]


def cli(*argv: str) -> tuple[int, str, str]:
    """``nasflow argv`` run by the console script's entry point in this process: exit code, stdout, stderr."""
    from workflows.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def registered_and_exported(summary: dict, report: dict, folder: Path, tmp_path: Path,
                            exported_outputs: Callable[[dict, torch.Tensor, Path], torch.Tensor]
                            ) -> tuple[torch.Tensor, ...]:
    """Outputs on ``folder``'s raw test split of the champion loaded from MLflow and of the exported model.py."""
    import mlflow.pytorch

    from nas.data import load_data_folder

    x_test, _ = load_data_folder(folder).split("test")
    exported = exported_outputs(report, x_test, tmp_path)
    mlflow.set_registry_uri(summary["tracking_uri"])
    with torch.no_grad():
        expected = mlflow.pytorch.load_model(summary["champion_uri"])(x_test)
    return expected, exported


CASES = [  # target, data folder, constructor arguments, a note the space must list
    ("pub_mlp784.py:NeuralNet", "digits", (), "flatten(x, 1)"),  # a Linear first layer: flattened input
    ("pub_mlp_required.py:MLP", "digits", ("+model.args.hidden=32", "+model.args.depth=2"), "flatten(x, 1)"),
    ("pub_convnet.py:ConvNet", "digits", (), "fc.in_features"),
    ("pub_lstm.py:RNN", "digits", ("+model.args.hidden_size=32", "+model.args.num_layers=2"),
     "reshape(-1, 28, 28) -> reshape(-1, 8, 8)"),  # image rows as a sequence
    ("pub_bigru.py:BiRNN", "digits", (), "view(-1, 8, 8)"),
    ("pub_birnn_h0.py:BiRNN", "digits", ("+model.args.hidden_size=16", "+model.args.num_layers=2"),
     "(initial state of 'lstm')"),
    ("pub_resnet.py:ResNet10", "digits", (), RESIZED),  # avg_pool2d(out, 4) after three strides
    ("pub_lenet.py:LeNet", "images32", (), "fc3.out_features: 10 -> 4 (classes)"),
    ("pub_vgg.py:VGG", "images32", ("+model.args.vgg_name=VGGS",), "classifier.out_features: 10 -> 4"),
    ("pub_resnet.py:ResNet", "images32", ("+model.args.block=Bottleneck", "+model.args.num_blocks=[1,1,1,1]",
                                          "+model.args.width=4"), "num_classes: set from the data"),
    ("pub_preact_resnet.py:PreActResNet8", "images32", (), "linear.out_features: 10 -> 4"),
    ("pub_mobilenet.py:MobileNet", "images32", (), "num_classes: set from the data"),
    ("pub_mobilenetv2.py:MobileNetV2", "images32", (), "num_classes: set from the data"),
    ("pub_dla.py:SimpleDLA", "images32", (), "num_classes: set from the data"),
]


@pytest.mark.parametrize("index, target, data, args, note", [(i, *c) for i, c in enumerate(CASES)],
                         ids=[f"{t.split(':')[1]}-{d}" for t, d, _, _ in CASES])
def test_published_file_is_searched_registered_and_exported(published: dict[str, Path], without_nasflow: Callable,
                                                            tmp_path: Path, index: int,
                                                            target: str, data: str, args: tuple[str, ...],
                                                            note: str) -> None:
    name, folder = f"pub{index}", published[data]
    data_args = (f"data.path={folder}", f"data.name={data}")
    timings = {}

    def timed(step: str, *argv: str) -> str:
        start = time.perf_counter()
        code, out, err = cli(*argv)
        timings[step] = round(time.perf_counter() - start, 1)
        assert code == 0, err[-3000:]
        return out

    timed("space", "space", str(ZOO / target), "--name", name, *data_args, *args)
    assert note in " ".join(space_notes(published["conf"], name))  # the adaptation is listed in the space's notes
    summary = json.loads(timed("run", "run", "--json", "--no-progress", f"model={name}", *data_args, *TINY))
    assert summary["trials"] == {"complete": 1} and summary["champion_uri"].endswith(f"{name}-{data}@champion")
    report = json.loads(timed("export", "export", "--out", str(tmp_path / "out"), f"model={name}", *data_args))
    start = time.perf_counter()
    expected, exported = registered_and_exported(summary, report, folder, tmp_path, without_nasflow)
    timings["check"] = round(time.perf_counter() - start, 1)
    print(f"{target} on {data}: {timings} s")
    assert expected.shape == (len(expected), 10 if data == "digits" else 4) and len(expected) >= 4
    assert torch.allclose(exported, expected, atol=1e-6)



def test_a_file_nasflow_cannot_fit_ends_before_the_search_in_one_line(published: dict[str, Path]) -> None:
    path = published["root"] / "huge_pool.py"
    path.write_text("import torch.nn as nn\nimport torch.nn.functional as F\n\n\nclass HugePool(nn.Module):\n"
                    "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(1, 4, 3)\n"
                    "        self.fc = nn.Linear(4, 10)\n\n    def forward(self, x):\n"
                    "        return self.fc(F.avg_pool2d(self.conv(x), 512).flatten(1))\n")
    code, _, err = cli("space", f"{path}:HugePool", "--name", "huge", f"data.path={published['digits']}")
    assert code == 2 and err.count("\n") == 1 and not (published["conf"] / "space" / "huge.yaml").exists()
    assert "'avg_pool2d' (torch._C._nn.avg_pool2d) fails on the data (nasflow tried same padding and input sizes up " \
           "to 256)" in err and "replace the fixed pooling window with adaptive pooling" in err
