"""``python -m benchmarks --only gpu``: nasflow's loop on a GPU against a hand loop on the same GPU.

A ResNet-style 3×32×32 CNN at batch 128 on generated data: fp32, bf16 (or fp16 where bf16 is missing) with
channels_last, and device-resident data against pinned per-batch copies. On a machine without CUDA it says so and
runs nothing. (One-trial-per-GPU scaling is not measured here yet.)
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from benchmarks.table import Figure, PartResult

TARGET = 0.95


def resnet_ish(seed: int) -> nn.Module:
    """A small residual CNN for 3×32×32 inputs, 10 classes."""
    torch.manual_seed(seed)

    class Block(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                      nn.ReLU(), nn.Conv2d(width, width, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(width))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x + self.body(x))

    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), Block(32), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), Block(64), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(64, 10))


def hand_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, dtype: torch.dtype | None,
              channels_last: bool, batch_size: int = 128) -> None:
    """One epoch as a user writes it: data already on the device, Adam, autocast when ``dtype`` is set."""
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stubs lack it
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16 and device.type == "cuda")
    order = torch.randperm(len(x), device=device)
    model.train()
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        xb = x[idx].contiguous(memory_format=torch.channels_last) if channels_last else x[idx]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = nn.functional.cross_entropy(model(xb).float(), y[idx])
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


def nasflow_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, precision: str,
                 channels_last: bool, data_mb: float = 4096.0) -> None:
    """One epoch of ``nas.training.train`` with the same settings (constant rate, like the hand loop)."""
    from nas.training import TrainSettings, train

    train(model, x, y, TrainSettings(epochs=1, batch_size=128, lr=1e-3, schedule="constant", device=str(device),
                                     precision=precision, channels_last=channels_last, device_data_mb=data_mb))


def timed(fn: object, *args: object, device: torch.device) -> float:
    """Seconds of one call of ``fn`` with the device's queue drained on both sides."""
    from nas.device import synchronize

    synchronize(device)
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    synchronize(device)
    return time.perf_counter() - start


def throughput_figures(device: torch.device, n: int, repeats: int) -> list[Figure]:
    """fp32 and mixed precision with channels_last (nasflow vs hand loop), and resident vs pinned data."""
    from nas.device import device_name
    from nas.training import PRECISIONS

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    mixed = "bf16-mixed" if device.type != "cuda" or torch.cuda.is_bf16_supported() else "16-mixed"
    figures = []
    for precision, channels_last in (("32", False), (mixed, True)):
        dtype = PRECISIONS[precision]
        ours, hand = [], []
        for r in range(repeats + 1):  # the first round warms up
            t_ours = timed(nasflow_loop, resnet_ish(r), x, y, device, precision, channels_last, device=device)
            t_hand = timed(hand_loop, resnet_ish(r), x, y, device, dtype, channels_last, device=device)
            if r:
                ours.append(n / t_ours)
                hand.append(n / t_hand)
        figures.append(Figure(f"{device.type} throughput {precision}{' channels_last' if channels_last else ''}: "
                              "nasflow vs hand loop", statistics.median(ours), "samples/s",
                              baseline=statistics.median(hand), baseline_name="hand-written loop", target=TARGET,
                              target_on="ratio", decimals=0,
                              paired_ratio=statistics.median(a / b for a, b in zip(ours, hand)),
                              note=f"ResNet-style 3x32x32 CNN, batch 128, {n} samples, {device_name(device)}"))
    resident = statistics.median(n / timed(nasflow_loop, resnet_ish(0), x, y, device, "32", False, device=device)
                                 for _ in range(repeats))
    pinned = statistics.median(n / timed(nasflow_loop, resnet_ish(0), x, y, device, "32", False, 0.0, device=device)
                               for _ in range(repeats))
    figures.append(Figure(f"{device.type} data resident on the device vs per-batch copies", resident, "samples/s",
                          baseline=pinned, baseline_name="pinned non-blocking copies (train.device_data_mb=0)",
                          decimals=0, note="fp32, nasflow loop"))
    return figures


def available() -> bool:
    """Whether this machine has a CUDA GPU to measure."""
    return torch.cuda.is_available()


def run(quick: bool = False) -> PartResult:
    """The GPU figures on ``cuda`` (the caller checks :func:`available` first)."""
    n, repeats = (1024, 1) if quick else (20_000, 3)
    figures = throughput_figures(torch.device("cuda"), n, repeats)
    return PartResult("gpu", figures, {"samples": n, "repeats": repeats, "gpus": torch.cuda.device_count()})
