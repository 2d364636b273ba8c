"""Published style: a bidirectional GRU over image rows (28x28 hard-coded), the last step's two directions joined."""

import torch
import torch.nn as nn


class BiRNN(nn.Module):
    def __init__(self):
        super(BiRNN, self).__init__()
        self.gru = nn.GRU(28, 64, 1, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(64 * 2, 10)

    def forward(self, x):
        x = x.view(-1, 28, 28)
        out, _ = self.gru(x)
        return self.fc(out[:, -1, :])
