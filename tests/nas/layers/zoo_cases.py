"""The model zoo under tests/nas/zoo: which class, which data shape it is searched on, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.factory import DataShape
from nas.model_file import ModelSpec

ZOO = Path(__file__).resolve().parents[1] / "zoo"
REPO = Path(__file__).resolve().parents[3]
NB201 = REPO / "examples" / "models" / "nb201_cell.py"

DIGITS = DataShape((1, 8, 8), 10)  # the bundled 8x8 digits
IMAGES = DataShape((3, 16, 16), 4)  # a small RGB image folder
TABLE = DataShape((30,), 3)  # a 30-feature table


@dataclass(frozen=True)
class Case:
    """One zoo model file, its class, the data shape it is searched on, and fixed constructor arguments."""

    file: str
    cls: str
    shape: DataShape
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(ZOO / self.file, self.cls, dict(self.args))

    def __str__(self) -> str:
        return self.file.removesuffix(".py")


CASES = [
    Case("zoo_sequential.py", "SequentialNet", DIGITS),
    Case("zoo_functional.py", "LeNet", DIGITS),
    Case("zoo_mnist.py", "MnistNet", DIGITS),
    Case("zoo_resnet.py", "ResNet", IMAGES),
    Case("zoo_required_args.py", "RequiredArgsNet", DIGITS, {"hidden": 24}),
    Case("zoo_mlp.py", "TableMLP", TABLE),
    Case("zoo_conv1d.py", "Conv1dNet", TABLE),
    Case("zoo_modulelist.py", "ModuleListNet", IMAGES),
    Case("zoo_data_if.py", "DataIfNet", DIGITS),
    Case("zoo_unknown.py", "UnknownLayerNet", IMAGES),
    Case("zoo_branches.py", "BranchNet", IMAGES),
    Case("zoo_vgg.py", "SmallVGG", DIGITS),
    Case("zoo_transformer.py", "TinyTransformer", TABLE),
]


IMAGES32 = DataShape((3, 32, 32), 4)  # a CIFAR-sized RGB folder
#: Model files as they are published (tests/nas/zoo/pub_*.py): hard-coded sizes for 28x28 or 32x32, no annotations.
PUBLISHED = [
    Case("pub_mlp784.py", "NeuralNet", DIGITS),
    Case("pub_mlp_required.py", "MLP", DIGITS, {"hidden": 32, "depth": 2}),
    Case("pub_convnet.py", "ConvNet", DIGITS),
    Case("pub_lenet.py", "LeNet", DIGITS),
    Case("pub_vgg.py", "VGG", DIGITS, {"vgg_name": "VGGS"}),
    Case("pub_resnet.py", "ResNet10", DIGITS),
    Case("pub_resnet.py", "ResNet", IMAGES32, {"block": "Bottleneck", "num_blocks": [1, 1, 1, 1], "width": 4}),
    Case("pub_preact_resnet.py", "PreActResNet8", DIGITS),
    Case("pub_mobilenet.py", "MobileNet", DIGITS),
    Case("pub_mobilenetv2.py", "MobileNetV2", DIGITS),
    Case("pub_dla.py", "SimpleDLA", DIGITS),
    Case("pub_lstm.py", "RNN", DIGITS, {"hidden_size": 32, "num_layers": 2}),
    Case("pub_bigru.py", "BiRNN", DIGITS),
    Case("pub_birnn_h0.py", "BiRNN", DIGITS, {"hidden_size": 16, "num_layers": 2}),
]


def case(name: str) -> Case:
    """The zoo case whose file stem is ``name``."""
    return next(c for c in CASES if str(c) == name)


def batch(shape: DataShape, n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch ``(x, y)`` of ``shape``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand((n, *shape.input_shape), generator=generator)
    return x, torch.randint(0, shape.n_classes, (n,), generator=generator)


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float = 0.01) -> float:
    """One plain SGD step on ``(x, y)`` (every parameter must get a gradient); the loss before the step."""
    model.train()
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    with torch.no_grad():
        for name, param in model.named_parameters():
            assert param.grad is not None, f"{name} got no gradient"
            param -= lr * param.grad
    return loss.item()


def digits_batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` real 8x8 digits (scikit-learn's bundled set) as N x 1 x 8 x 8 in [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images[:n], dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(data.target[:n], dtype=torch.int64)
