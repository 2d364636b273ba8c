"""Style: a constructor with required arguments (data-bound ones, a required range, one fixed by the user)."""

from typing import Annotated

import torch
from torch import nn


class RequiredArgsNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: Annotated[int, (4, 16)], hidden: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(2)
        )
        self.fc1 = nn.Linear(width * 4, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.features(x).flatten(1))))
