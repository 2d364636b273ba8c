"""Input normalization learned from the training split and shipped inside the model (``data.normalize``).

Images get per-channel mean/std, tables per-feature standardization; the statistics become the buffers of the
model's first layer, so a registered or exported model takes raw inputs exactly as the data folder holds them
(pixels 0..255, table values as written). Raw uint8 pixels with ``none`` are still scaled to [0, 1] inside the
model, so every model of uint8 data starts with that layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nas.factory import ModelFactory
from nas.space import SearchSpace

NORMALIZE_MODES = ("auto", "none")


@dataclass(frozen=True)
class InputStats:
    """What the first layer subtracts and divides by, shaped to broadcast over one batch (C×1×1 or F)."""

    mean: torch.Tensor
    std: torch.Tensor


class InputNormalization(nn.Module):
    """``(x - mean) / std`` in float32, with ``mean`` and ``std`` as buffers (saved with the weights)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, stats: InputStats) -> None:
        super().__init__()
        self.register_buffer("mean", stats.mean.clone())
        self.register_buffer("std", stats.std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Normalized(nn.Module):
    """``model`` behind an :class:`InputNormalization` first layer."""

    def __init__(self, model: nn.Module, stats: InputStats) -> None:
        super().__init__()
        self.normalize = InputNormalization(stats)
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalize(x))


def input_stats(x_train: torch.Tensor, mode: str) -> InputStats | None:
    """The statistics ``mode`` asks for, computed on ``x_train`` (the training split only): per channel for
    N×C×H×W images, per feature for N×F tables; None when the model needs no first layer (``none`` on float data).
    A constant channel or feature keeps its scale (std 1)."""
    if mode not in NORMALIZE_MODES:
        raise ValueError(f"data.normalize={mode} is not a mode; use one of {', '.join(NORMALIZE_MODES)}")
    shape = (x_train.shape[1],) + (1,) * (x_train.dim() - 2) if x_train.dim() > 2 else (x_train.shape[1],)
    if mode == "none":
        if x_train.is_floating_point():
            return None
        return InputStats(torch.zeros(shape), torch.full(shape, 255.0))
    from nas.data.meta import moments

    mean, std = moments(x_train.numpy(), tuple(range(2, x_train.dim())))
    std[std <= 1e-12] = 1.0
    return InputStats(torch.from_numpy(mean).float().reshape(shape), torch.from_numpy(std).float().reshape(shape))


class NormalizedFactory:
    """A factory whose models all start with the same :class:`InputNormalization` (same space as ``inner``)."""

    def __init__(self, inner: ModelFactory, stats: InputStats) -> None:
        self.inner = inner
        self.stats = stats
        self.space: SearchSpace = inner.space

    def build(self, params: Mapping[str, Any]) -> Normalized:
        """The inner factory's model for ``params`` behind the normalization layer."""
        return Normalized(self.inner.build(params), self.stats)


def normalized_factory(factory: ModelFactory, x_train: torch.Tensor, mode: str) -> ModelFactory:
    """``factory`` whose models normalize their inputs as ``mode`` says (itself when no layer is needed)."""
    stats = input_stats(x_train, mode)
    return factory if stats is None else NormalizedFactory(factory, stats)


__all__ = ["InputNormalization", "InputStats", "NORMALIZE_MODES", "Normalized", "NormalizedFactory", "input_stats",
           "normalized_factory"]
