"""Model files as they are published (tests/nas/zoo/pub_*.py) get a space on data they were not written for: an MLP
for flattened 28x28 input, CIFAR nets whose pooling needs 32x32, LSTM/GRU classifiers over image rows."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import optuna
import pytest
import torch

from nas.errors import ModelFileError
from nas.export import export_standalone, load_exported
from nas.extract import make_factory
from nas.factory import DataShape
from nas.model_file import ModelSpec
from tests.nas.layers.zoo_cases import DIGITS, PUBLISHED, Case, batch, train_step

optuna.logging.set_verbosity(optuna.logging.WARNING)


def notes_of(file: str, cls: str, args: dict | None = None, shape: DataShape = DIGITS) -> list[str]:
    return next(make_factory(c.spec, shape).space.notes for c in PUBLISHED
                if c.file == file and c.cls == cls and (args is None or c.args == args))


@pytest.mark.parametrize("zoo", PUBLISHED, ids=lambda c: f"{c}-{c.cls}")
def test_published_model_builds_trains_and_exports(zoo: Case, tmp_path: Path) -> None:
    factory = make_factory(zoo.spec, zoo.shape)
    sampler = optuna.samplers.RandomSampler(seed=1)
    study = optuna.create_study(sampler=sampler)
    x, y = batch(zoo.shape, n=4)
    for params in [factory.space.defaults(), factory.space.sample(study.ask())]:
        model = factory.build(params)
        assert model(x).shape == (4, zoo.shape.n_classes)
        assert math.isfinite(train_step(model, x, y))
    py_path, weights_path = export_standalone(model.eval(), x, tmp_path)  # checks 1e-6 on raw data-shaped input
    with torch.no_grad():
        assert (load_exported(py_path, weights_path)(x) - model(x)).abs().max().item() <= 1e-6


def test_mlp_written_for_flattened_mnist_gets_flattened_digits() -> None:
    notes = notes_of("pub_mlp784.py", "NeuralNet")
    flatten = "forward.input: x (1x8x8) -> flatten(x, 1) (the first layer 'fc1' (nn.Linear) takes flattened input)"
    assert flatten in notes
    assert "input_size: 64 (the first layer 'fc1' (nn.Linear) reads flattened 1x8x8 input)" in notes


def test_pooling_too_big_for_digits_resizes_the_input_once_for_training_and_export() -> None:
    notes = notes_of("pub_resnet.py", "ResNet10")
    assert ("forward.input: 1x8x8 -> 1x32x32 (bilinear resize: 'avg_pool2d' (torch._C._nn.avg_pool2d) fails at "
            "1x8x8)") in notes
    vgg = notes_of("pub_vgg.py", "VGG")
    assert any(n.startswith("forward.input: 1x8x8 -> 1x32x32 (bilinear resize: 'features.15' (nn.MaxPool2d)")
               for n in vgg)
    assert not any(n.startswith("forward.input") for n in notes_of("pub_lenet.py", "LeNet"))  # same padding is enough


def test_sequence_models_read_digit_rows_and_search_their_recurrent_layers() -> None:
    lstm = next(c for c in PUBLISHED if c.cls == "RNN")
    factory = make_factory(lstm.spec, DIGITS)
    assert "forward.reshape: reshape(-1, 28, 28) -> reshape(-1, 8, 8) (sizes of input 1x8x8)" in factory.space.notes
    assert {"lstm.hidden_size", "lstm.num_layers", "lstm.bidirectional"} <= set(factory.space.dimensions)
    model = factory.build({"lstm.hidden_size": 12, "lstm.num_layers": 1, "lstm.bidirectional": True})
    assert model.fc.in_features == 24 and model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    gru = notes_of("pub_bigru.py", "BiRNN")
    assert "gru.input_size: 28 -> 8 (reshaped rows for input 1x8x8)" in gru


def test_initial_states_built_in_forward_follow_the_recurrent_layer() -> None:
    tutorial = next(c for c in PUBLISHED if c.file == "pub_birnn_h0.py")
    factory = make_factory(tutorial.spec, DIGITS)
    assert {"lstm.hidden_size", "lstm.num_layers", "lstm.bidirectional"} <= set(factory.space.dimensions)
    assert "forward.to: to('cpu') -> to(reshape) (initial state of 'lstm')" in factory.space.notes
    assert "zeros.to(reshape)" in factory.build(factory.space.defaults()).code
    model = factory.build({"lstm.hidden_size": 10, "lstm.num_layers": 1, "lstm.bidirectional": False})
    assert "torch.zeros(1, size, 10)" in model.code and model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert "zeros.to(reshape)" in model.code  # the states follow the input's device, not the one traced on


def write_model(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "model.py"
    path.write_text("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n" + textwrap.dedent(body))
    return path


@pytest.mark.parametrize("body, cls, advice", [
    ("""
     class HugePool(nn.Module):
         def __init__(self):
             super().__init__()
             self.conv = nn.Conv2d(1, 4, 3, padding=1)
             self.fc = nn.Linear(4, 10)

         def forward(self, x):
             return self.fc(F.avg_pool2d(self.conv(x), 512).flatten(1))
     """, "HugePool", r"'avg_pool2d' .* fails on the data \(nasflow tried same padding and input sizes up to 256\).*"
                      r"replace the fixed pooling window with adaptive pooling"),
    ("""
     class Rows(nn.Module):
         def __init__(self):
             super().__init__()
             self.fc = nn.Linear(2, 10)

         def forward(self, x):
             return self.fc(x.reshape(-1, 5, 3, 2, 2).mean((1, 2, 3)))
     """, "Rows", r"'reshape' \(Tensor.reshape\) fails on the data.*nasflow rewrites view\(-1, N\) into a per-sample "
                  r"flatten and reshape sizes .* compute the sizes from the tensor"),
    ("""
     class ImageLSTM(nn.Module):
         def __init__(self):
             super().__init__()
             self.lstm = nn.LSTM(28, 16, batch_first=True)
             self.fc = nn.Linear(16, 10)

         def forward(self, x):
             out, _ = self.lstm(x)
             return self.fc(out[:, -1, :])
     """, "ImageLSTM", r"'lstm' \(nn.LSTM\) fails on the data.*the layer gets a 1x8x8 sample; reshape its input to "
                       r"\(batch, steps, features\) first"),
], ids=["pooling", "reshape", "recurrent-rank"])
def test_a_model_nasflow_cannot_fit_ends_in_one_line_with_its_fix(tmp_path: Path, body: str, cls: str,
                                                                  advice: str) -> None:
    with pytest.raises(ModelFileError, match=advice) as info:
        make_factory(ModelSpec(write_model(tmp_path, body), cls), DIGITS)
    assert "\n" not in str(info.value)
