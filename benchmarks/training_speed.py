"""Part 2: nasflow's trial training loop (``nas.training.train``) against a hand-written PyTorch loop.

Same model (the example DigitsCNN), same data (scikit-learn's digits as 1×8×8 tensors), batch size, optimizer,
learning-rate schedule, epochs and thread count; the two loops alternate and the figure is the median of their
paired speed ratios.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from benchmarks.table import Figure, PartResult

MODEL_FILE = Path(__file__).resolve().parents[1] / "examples" / "models" / "digits_cnn.py"
TARGET = 0.95


def digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as N×1×8×8 float tensors in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(digits.target, dtype=torch.long)


def make_model(seed: int) -> nn.Module:
    """A freshly initialized DigitsCNN with its default arguments."""
    from nas.model_file import ModelSpec, load_model_class

    torch.manual_seed(seed)
    return load_model_class(ModelSpec(MODEL_FILE, "DigitsCNN"))()


def hand_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, lr: float,
              seed: int) -> None:
    """The loop a PyTorch user writes by hand: shuffle, forward, loss, backward, Adam step, cosine schedule step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * math.ceil(len(x) / batch_size))
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            optimizer.step()
            schedule.step()


def nasflow_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, lr: float,
                 seed: int) -> None:
    """nasflow's trial loop with the same settings (the default cosine schedule; no validation split, so both do
    the same work)."""
    from nas.training import TrainSettings, train

    train(model, x, y, TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, optimizer="adam", seed=seed,
                                     device="cpu"))


def samples_per_s(loop: object, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> float:
    """Training samples per second of one run of ``loop`` on a fresh model."""
    model = make_model(seed)
    start = time.perf_counter()
    loop(model, x, y, epochs, 64, 3e-3, seed)  # type: ignore[operator]
    return epochs * len(x) / (time.perf_counter() - start)


def run(quick: bool = False, threads: int = 1) -> PartResult:
    """Alternate the two loops ``repeats`` times (the order flips each round); median of paired ratios."""
    torch.set_num_threads(threads)
    x, y = digits_tensors()
    repeats, epochs = (2, 1) if quick else (9, 4)
    samples_per_s(hand_loop, x, y, 1, 0)  # warm-up
    samples_per_s(nasflow_loop, x, y, 1, 0)
    ours, hand, ratios = [], [], []
    for r in range(repeats):
        pair = [(nasflow_loop, ours), (hand_loop, hand)]
        for loop, out in pair if r % 2 == 0 else pair[::-1]:
            out.append(samples_per_s(loop, x, y, epochs, r))
        ratios.append(ours[-1] / hand[-1])
    ratio = statistics.median(ratios)
    figure = Figure("training throughput: nas.training.train vs hand loop", statistics.median(ours), "samples/s",
                    baseline=statistics.median(hand), baseline_name="hand-written loop", target=TARGET,
                    target_on="ratio", decimals=0, paired_ratio=ratio,
                    note=f"DigitsCNN on 1,797 digits, batch 64, Adam with a cosine schedule, {threads} thread(s), "
                         f"{epochs} epochs × {repeats} alternating repeats; ratio = median of paired ratios")
    return PartResult("training_speed", [figure], {"ratios": ratios, "nasflow_sps": ours, "hand_sps": hand,
                                                    "median_paired_ratio": ratio, "threads": threads})
