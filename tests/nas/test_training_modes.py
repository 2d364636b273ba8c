"""Evaluation runs in inference mode whatever the model is: eager, a traced GraphModule or an exported program."""

from __future__ import annotations

import torch
from torch import nn

from nas.training import evaluate


def test_evaluate_switches_dropout_off_for_eager_and_traced_models() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.9), nn.Linear(16, 3))
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    for candidate in (model, torch.fx.symbolic_trace(model)):
        candidate.train()
        first, second = evaluate(candidate, x, y), evaluate(candidate, x, y)
        assert not candidate.training and first == second  # deterministic: dropout is off


def test_evaluate_accepts_an_exported_program() -> None:
    model = nn.Sequential(nn.Linear(4, 3)).eval()
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    exported = torch.export.export(model, (x,)).module()
    assert evaluate(exported, x, y) == evaluate(model, x, y)
