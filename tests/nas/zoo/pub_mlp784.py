"""Published style: a feedforward net for flattened MNIST (the tutorial's NeuralNet, 784 inputs hard-coded)."""

import torch
import torch.nn as nn

input_size = 784
hidden_size = 500
num_classes = 10


class NeuralNet(nn.Module):
    def __init__(self, input_size=input_size, hidden_size=hidden_size, num_classes=num_classes):
        super(NeuralNet, self).__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out = self.fc1(x)
        out = self.relu(out)
        out = self.fc2(out)
        return out
