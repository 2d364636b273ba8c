"""Cost of a built model: parameter count, FLOPs of one forward pass, latency of one batch on the model's device."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, fields
from typing import cast

import torch
from torch import nn


@dataclass(frozen=True)
class ModelCost:
    """The cost figures of one model."""

    params: int
    flops: int
    latency_ms: float
    memory_mb: float = 0.0
    device: str = "cpu"

    def as_dict(self) -> dict[str, float | int | str]:
        """The figures as a flat mapping."""
        return dict(self.__dict__)


COSTS = tuple(f.name for f in fields(ModelCost) if f.name != "device")  #: the figures a search may minimize


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, example: torch.Tensor) -> int:
    """FLOPs (2 × multiply-accumulates) of conv and linear layers for one sample of ``example``'s shape."""
    total = 0

    def conv_hook(module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        kernel = cast(torch.Tensor, module.weight).shape[1:].numel()  # in_channels/groups × kernel elements
        total += 2 * kernel * out[0].numel()

    def linear_hook(module: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        nonlocal total
        linear = cast(nn.Linear, module)
        rows = inp[0][0].numel() // linear.in_features
        total += 2 * linear.in_features * linear.out_features * rows

    handles = []
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example[:1])
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total


def measure_latency_ms(model: nn.Module, batch: torch.Tensor, repeats: int = 5) -> float:
    """Median wall time in milliseconds of one forward pass over ``batch`` on the model's device (after one
    warm-up; GPU work is waited for)."""
    from nas.device import synchronize
    from nas.training import model_device

    device = model_device(model)
    batch = batch.to(device).float()
    was_training = model.training
    model.eval()
    times = []
    with torch.no_grad():
        model(batch)
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            model(batch)
            synchronize(device)
            times.append((time.perf_counter() - start) * 1000)
    model.train(was_training)
    return statistics.median(times)


def estimate_training_memory_mb(model: nn.Module, batch: torch.Tensor) -> float:
    """Training memory for one batch: weights, gradients and two Adam moments, plus activations kept for backward."""
    activations = 0

    def hook(_module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal activations
        if isinstance(out, torch.Tensor):
            activations += out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    state = 4 * sum(p.numel() for p in model.parameters())
    return (4 * state + 4 * activations) / 2**20


def measure_cost(model: nn.Module, batch: torch.Tensor) -> ModelCost:
    """Parameter count, FLOPs per sample, latency of one batch on the model's device (its label in ``device``)
    and estimated training memory."""
    from nas.device import device_name
    from nas.training import model_device

    device = model_device(model)
    batch = batch.to(device).float()
    return ModelCost(count_params(model), count_flops(model, batch), measure_latency_ms(model, batch),
                     estimate_training_memory_mb(model, batch), device_name(device))
