"""Style: a 1-D conv net over a feature vector (a table row seen as a 1-channel signal)."""

import torch
import torch.nn.functional as F
from torch import nn


class Conv1dNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 16, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(16)
        self.conv2 = nn.Conv1d(16, 32, 3, padding=1)
        self.head = nn.Linear(32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1)
        x = F.silu(self.bn1(self.conv1(x)))
        x = F.max_pool1d(x, 2)
        x = F.silu(self.conv2(x))
        x = F.adaptive_max_pool1d(x, 1).squeeze(-1)
        return self.head(x)
