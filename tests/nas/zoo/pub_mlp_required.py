"""Published style: required untyped constructor arguments (set through +model.args), input reshaped in forward."""

import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, hidden, depth, num_classes=10):
        super(MLP, self).__init__()
        layers = [nn.Linear(28 * 28, hidden), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        return self.head(F.dropout(self.body(x), 0.2, self.training))
