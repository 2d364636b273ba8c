"""A small CNN for 8×8 handwritten digits: the example model nasflow searches by default.

An ordinary PyTorch file: typed constructor arguments with defaults become search dimensions
(``Literal`` choices, ``Annotated`` ranges, plain ``int``/``float``/``bool`` with inferred ranges);
``in_channels``, ``num_classes`` and ``input_size`` are filled from the data.
"""

from typing import Annotated, Literal

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class DigitsCNN(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: int = 8,
        channels: Annotated[int, (8, 64, "log")] = 32,
        depth: Annotated[int, (1, 3)] = 2,
        kernel_size: Literal[3, 5] = 3,
        hidden: Annotated[int, (16, 256, "log")] = 64,
        dropout: Annotated[float, (0.0, 0.5)] = 0.2,
        activation: Literal["relu", "gelu", "silu"] = "relu",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width, size = in_channels, input_size
        for block in range(depth):
            layers.append(nn.Conv2d(width, channels, kernel_size, padding=kernel_size // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(channels))
            layers.append(ACTIVATIONS[activation]())
            if block == 0 and size >= 4:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            width = channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * size * size, hidden),
            ACTIVATIONS[activation](),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
