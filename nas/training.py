"""A seeded training loop over in-memory tensors, with a per-epoch hook for reporting and pruning."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

EpochHook = Callable[[int, dict[str, float]], None]
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainSettings:
    """How to train one model."""

    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    schedule: str = "cosine"

    def __post_init__(self) -> None:
        from nas.limits import TRAIN_LIMITS, check_limits

        check_limits(self.__dict__, TRAIN_LIMITS, "TrainSettings.")

    def as_dict(self) -> dict[str, float | int | str]:
        """The settings as a flat mapping (for logging)."""
        return dict(self.__dict__)


@dataclass
class TrainResult:
    """Per-epoch history and final metrics of one training run."""

    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's metrics (empty if no epoch ran)."""
        return self.history[-1] if self.history else {}


def warm_up() -> None:
    """Import now what a process's first optimizer imports lazily (``torch._dynamo``, about a second), so
    the first trial takes as long as the others (and a worker can do it while it waits to start)."""
    import torch._dynamo  # noqa: F401


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """The optimizer named by ``settings.optimizer``."""
    params = model.parameters()
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=0.9, weight_decay=settings.weight_decay, nesterov=True)
    raise ValueError(f"unknown optimizer '{settings.optimizer}'; use one of {', '.join(OPTIMIZERS)}")


def make_scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings,
                   steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule named by ``settings.schedule`` over ``steps`` optimizer steps: ``cosine``
    decays the rate to zero along a half cosine, ``constant`` keeps it (None)."""
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    if settings.schedule == "constant":
        return None
    raise ValueError(f"unknown schedule '{settings.schedule}'; use one of {', '.join(SCHEDULES)}")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``(x, y)``.

    Works for exported programs too (``torch.export`` modules refuse ``eval()``; they are frozen already).
    """
    try:
        model.eval()
    except NotImplementedError:  # an exported program: already in inference mode
        pass
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model(x[start : start + batch_size])
        target = y[start : start + batch_size]
        loss_sum += nn.functional.cross_entropy(logits, target, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == target).sum())
    n = max(len(x), 1)
    return {"accuracy": correct / n, "loss": loss_sum / n}


def train(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    settings: TrainSettings,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    on_epoch: EpochHook | None = None,
) -> TrainResult:
    """Train ``model`` in place (the learning rate follows ``settings.schedule`` over all epochs); after each
    epoch evaluate on the validation split and call ``on_epoch``.

    ``on_epoch`` may raise (for example Optuna's ``TrialPruned``) to stop training early.
    """
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = make_optimizer(model, settings)
    n = len(x_train)
    scheduler = make_scheduler(optimizer, settings, settings.epochs * math.ceil(n / settings.batch_size))
    loss_fn = nn.CrossEntropyLoss()
    result = TrainResult()
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        loss_sum = 0.0
        for start in range(0, n, settings.batch_size):
            idx = order[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.item() * len(idx)
        metrics = {"train_loss": loss_sum / max(n, 1)}
        if x_val is not None and y_val is not None:
            val = evaluate(model, x_val, y_val)
            metrics.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
        result.history.append(metrics)
        result.wall_time_s = time.perf_counter() - started
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    return result
