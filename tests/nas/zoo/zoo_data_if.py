"""Style: a data-dependent ``if`` in ``forward`` (torch.fx cannot trace it; constructor arguments still work)."""

from typing import Literal

import torch
from torch import nn


class DataIfNet(nn.Module):
    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, width: int = 16, activation: Literal["relu", "gelu"] = "relu"
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.act = nn.ReLU() if activation == "relu" else nn.GELU()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv(x))
        if x.mean() > 0:  # depends on the values: no static graph
            x = x * 0.5
        return self.fc(x.mean(dim=(2, 3)))
