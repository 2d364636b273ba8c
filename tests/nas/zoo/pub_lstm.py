"""Published style: an LSTM classifier reading MNIST image rows as a sequence (28 steps of 28 pixels)."""

import torch
import torch.nn as nn

sequence_length = 28
input_size = 28
hidden_size = 128
num_layers = 2
num_classes = 10


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers, num_classes):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        x = x.reshape(-1, sequence_length, input_size)
        out, _ = self.lstm(x)
        out = self.fc(out[:, -1, :])
        return out
