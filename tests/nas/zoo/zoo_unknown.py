"""Style: an unusual layer nasflow does not know (raw parameters used through ``F.conv2d``) and an ``nn.PReLU``."""

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbed(nn.Module):
    """A 2x2 patch embedding with its own weight, written for RGB input."""

    def __init__(self, channels: int = 3, dim: int = 16) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, channels, 2, 2) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, stride=2)


class UnknownLayerNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = PatchEmbed()
        self.conv = nn.Conv2d(16, 32, 3, padding=1)
        self.prelu = nn.PReLU(32)
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.conv(self.embed(x)))
        return self.fc2(torch.relu(self.fc1(x.mean((2, 3)))))
