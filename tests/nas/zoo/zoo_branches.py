"""Style: parallel branches joined by ``torch.cat``, a depthwise conv and squeeze-and-excitation gating."""

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // 4, 1)
        self.fc2 = nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class BranchNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch_a = nn.Conv2d(3, 8, 1)
        self.branch_b = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.bn = nn.BatchNorm2d(16)
        self.se = SqueezeExcite(16)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.branch_a(x), self.branch_b(x)], dim=1)
        x = self.se(torch.relu(self.bn(self.depthwise(x))))
        return self.head(x.amax(dim=(2, 3)))
