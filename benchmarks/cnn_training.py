"""Training throughput on CIFAR-size inputs: nasflow's loop against a hand-written loop on a small ResNet-style CNN
(3×32×32, batch 128, same device, precision and threads), and bf16 autocast against fp32 on the CPU.

The loops alternate (the order flips each round) and each figure is the median of paired ratios, as in
``benchmarks/training_speed.py``, whose hand loop this part reuses.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from benchmarks.table import Figure, PartResult
from benchmarks.training_speed import TARGET, hand_loop

BATCH, LR = 128, 3e-3


class Block(nn.Module):
    """A residual block: two 3×3 convolutions with batch norm, a strided 1×1 shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def resnet(seed: int, classes: int = 10) -> nn.Module:
    """Stem 32 → blocks 32, 64 (stride 2), 128 (stride 2) → global average pool → linear."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         Block(32, 32, 1), Block(32, 64, 2), Block(64, 128, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def nasflow_loop(precision: str) -> Callable[..., None]:
    """nasflow's trial loop at ``precision`` (no augmentation, no validation: the hand loop's work)."""
    def loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, lr: float,
             seed: int) -> None:
        from nas.training import TrainSettings, train

        train(model, x, y, TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device="cpu",
                                         precision=precision, augment="none"))
    return loop


def samples_per_s(loop: Callable[..., None], x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    model = resnet(seed)
    start = time.perf_counter()
    loop(model, x, y, 1, BATCH, LR, seed)
    return len(x) / (time.perf_counter() - start)


def paired(first: Callable[..., None], second: Callable[..., None], x: torch.Tensor, y: torch.Tensor,
           repeats: int) -> tuple[list[float], list[float], float]:
    """Samples/s of both loops, alternating, and the median of their paired ratios (first / second)."""
    a: list[float] = []
    b: list[float] = []
    for r in range(repeats):
        pair = [(first, a), (second, b)]
        for loop, out in pair if r % 2 == 0 else pair[::-1]:
            out.append(samples_per_s(loop, x, y, r))
    return a, b, statistics.median(p / q for p, q in zip(a, b))


def run(quick: bool = False) -> PartResult:
    n, repeats = (256, 1) if quick else (512, 3)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    threads = torch.get_num_threads()
    samples_per_s(hand_loop, x[:BATCH], y[:BATCH], 0)  # warm-up
    samples_per_s(nasflow_loop("bf16-mixed"), x[:BATCH], y[:BATCH], 0)
    ours, hand, ratio = paired(nasflow_loop("32"), hand_loop, x, y, repeats)
    bf16, fp32, bf16_ratio = paired(nasflow_loop("bf16-mixed"), nasflow_loop("32"), x, y, repeats)
    size = f"ResNet-style CNN, {n} samples 3×32×32, batch {BATCH}, Adam + cosine, CPU, {threads} thread(s)"
    figures = [
        Figure("CNN training: nas.training.train vs hand loop", statistics.median(ours), "samples/s",
               baseline=statistics.median(hand), baseline_name="hand-written loop", target=TARGET, target_on="ratio",
               decimals=0, paired_ratio=ratio, note=f"{size}; fp32; ratio = median of {repeats} paired ratios"),
        Figure("CNN training: bf16-mixed vs fp32 (CPU)", statistics.median(bf16), "samples/s",
               baseline=statistics.median(fp32), baseline_name="fp32", decimals=0, paired_ratio=bf16_ratio,
               note=f"{size}; nasflow's loop under bf16 autocast, reported (no target)"),
    ]
    return PartResult("cnn", figures, {"nasflow_sps": ours, "hand_sps": hand, "ratio": ratio, "bf16_sps": bf16,
                                       "fp32_sps": fp32, "bf16_ratio": bf16_ratio, "threads": threads, "n": n})
