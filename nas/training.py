"""A seeded training loop over in-memory tensors, with a per-epoch hook for reporting and pruning."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from nas.errors import TrainSettingsError

EpochHook = Callable[[int, dict[str, float]], None]
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")
PRECISIONS = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


@dataclass(frozen=True)
class TrainSettings:
    """How to train one model."""

    epochs: int = 6  # = workflows.schema.TrainConfig.epochs (tests/workflows/test_settings_agree.py)
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    schedule: str = "cosine"
    device: str = "auto"
    precision: str = "32"
    channels_last: bool = False
    compile: bool = False
    device_data_mb: float = 4096.0
    augment: str = "auto"  # auto: crop and flip for colour images only (nas.augment.auto_augment)

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
    device: str = "cpu"
    compile_s: float = 0.0

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
    raise TrainSettingsError(f"unknown optimizer '{settings.optimizer}'; use one of {', '.join(OPTIMIZERS)}")


def make_scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings,
                   steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule named by ``settings.schedule`` over ``steps`` optimizer steps: ``cosine``
    decays the rate to zero along a half cosine, ``constant`` keeps it (None)."""
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    if settings.schedule == "constant":
        return None
    raise TrainSettingsError(f"unknown schedule '{settings.schedule}'; use one of {', '.join(SCHEDULES)}")


def check_precision(precision: str) -> torch.dtype | None:
    """The autocast dtype of ``train.precision`` (None for full precision)."""
    if str(precision) not in PRECISIONS:
        raise TrainSettingsError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)}")
    return PRECISIONS[str(precision)]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    try:
        return next(iter(model.parameters())).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def _inputs(x: torch.Tensor, channels_last: bool, augmentations: tuple[str, ...] = ()) -> torch.Tensor:
    """A batch of inputs as the model takes them: float (uint8 pixels convert here, on the device), augmented
    when asked, in the channels-last layout when asked and the batch is 4-D."""
    from nas.augment import augment

    if not x.is_floating_point():
        x = x.float()
    x = augment(x, augmentations) if augmentations else x
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024,
             precision: str = "32", channels_last: bool = False) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``(x, y)``, on the model's device.

    Works for exported programs too (``torch.export`` modules refuse ``eval()``; they are frozen already).
    """
    with contextlib.suppress(NotImplementedError):  # an exported program: already in inference mode
        model.eval()
    device = model_device(model)
    dtype = check_precision(precision)
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        inputs = _inputs(x[start : start + batch_size].to(device), channels_last)
        target = y[start : start + batch_size].to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(inputs)
        loss_sum += nn.functional.cross_entropy(logits.float(), target, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == target).sum())
    n = max(len(x), 1)
    return {"accuracy": correct / n, "loss": loss_sum / n}


def prepare_model(model: nn.Module, settings: TrainSettings) -> tuple[nn.Module, torch.device]:
    """Move ``model`` to the settings' device (in the channels-last layout when asked); returns it and the device."""
    from nas.device import resolve_device

    device = resolve_device(settings.device)
    model.to(device)
    if settings.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stubs lack it
    return model, device


def train(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    settings: TrainSettings,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    on_epoch: EpochHook | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``settings.device`` (the learning rate follows ``settings.schedule`` over all
    epochs, under autocast for a mixed ``settings.precision``, each batch augmented by ``settings.augment``); after each
    epoch evaluate on the validation split
    and call ``on_epoch``. With ``settings.compile`` the steps run a ``torch.compile``d model; the first step's
    extra time is reported as ``compile_s``.

    ``on_epoch`` may raise (for example Optuna's ``TrialPruned``) to stop training early.
    """
    from nas.augment import auto_augment, parse_augment
    from nas.device import DeviceData, device_name, synchronize

    dtype = check_precision(settings.precision)
    chosen = auto_augment(tuple(x_train.shape[1:])) if settings.augment == "auto" else settings.augment
    augmentations = parse_augment(chosen)
    model, device = prepare_model(model, settings)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = make_optimizer(model, settings)
    n = len(x_train)
    scheduler = make_scheduler(optimizer, settings, settings.epochs * math.ceil(n / settings.batch_size))
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16 and device.type == "cuda")
    step_model = torch.compile(model) if settings.compile else model
    data = DeviceData((x_train, y_train), device, settings.device_data_mb)
    loss_fn = nn.CrossEntropyLoss()
    result = TrainResult(device=device_name(device))
    started = time.perf_counter()
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        loss_sum = torch.zeros((), device=device)
        for start in range(0, n, settings.batch_size):
            step_started = time.perf_counter()
            xb, yb = data.batch(order[start : start + settings.batch_size])
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = loss_fn(step_model(_inputs(xb, settings.channels_last, augmentations)).float(), yb)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.detach() * len(yb)
            if settings.compile and epoch == 0 and start == 0:
                synchronize(device)
                result.compile_s = time.perf_counter() - step_started
        metrics = {"train_loss": loss_sum.item() / max(n, 1)}
        if x_val is not None and y_val is not None:
            val = evaluate(model, x_val, y_val, precision=settings.precision, channels_last=settings.channels_last)
            metrics.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
        result.history.append(metrics)
        result.wall_time_s = time.perf_counter() - started
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    return result
