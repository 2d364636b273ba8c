"""Retrain one configuration on train+validation with more epochs, then test it once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nas.cost import ModelCost, measure_cost
from nas.factory import ModelFactory
from nas.search import SplitData
from nas.training import EpochHook, TrainSettings, evaluate, train


@dataclass
class RetrainResult:
    """The retrained model (back on the CPU) with its test metrics, cost and the device it trained on."""

    model: nn.Module
    params: dict[str, Any]
    metrics: dict[str, float]
    cost: ModelCost
    settings: TrainSettings
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    device: str = "cpu"


def retrain(factory: ModelFactory, params: dict[str, Any], data: SplitData, settings: TrainSettings,
            on_epoch: EpochHook | None = None) -> RetrainResult:
    """Build ``params`` afresh (seeded), train on ``trainval`` on ``settings.device`` (``on_epoch`` after each
    epoch) and evaluate once on ``test`` there; the model is returned on the CPU in the default memory layout (what registries and exports hold)."""
    x, y = data.split("trainval")
    x_test, y_test = data.split("test")
    torch.manual_seed(settings.seed)
    model = factory.build(params)
    result = train(model, x, y, settings, on_epoch=on_epoch)
    test = evaluate(model, x_test, y_test, precision=settings.precision, channels_last=settings.channels_last)
    model.eval()
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], **result.final,
               **({"compile_s": result.compile_s} if settings.compile else {})}
    cost = measure_cost(model, x[: settings.batch_size])
    model.to("cpu", memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    return RetrainResult(model, dict(params), metrics, cost, settings, result.history, result.wall_time_s,
                         result.device)
