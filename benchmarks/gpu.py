"""``python -m benchmarks --only gpu``: nasflow's loop on a GPU against a hand loop on the same GPU.

A ResNet-style 3×32×32 CNN at batch 128 on generated data: fp32, bf16 (or fp16 where bf16 is missing) with
channels_last, device-resident data against pinned per-batch copies, and one trial per GPU: a worker process per
visible GPU (``CUDA_VISIBLE_DEVICES`` set as nasflow's search workers get it), all training at once, against one
worker alone. On a machine without CUDA it says so and runs nothing; the logic runs on the CPU in the tests.
``python -m benchmarks.gpu --worker N DEVICE`` is one such worker (it prints its samples/s as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from benchmarks.table import Figure, PartResult

TARGET = 0.95
SCALING_TARGET = 0.9  # aggregate throughput of G GPUs at least 0.9 × G × one GPU
REPO = Path(__file__).resolve().parents[1]


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


def worker_envs(gpus: Sequence[str]) -> list[dict[str, str]]:
    """One environment per GPU, ``CUDA_VISIBLE_DEVICES`` naming it as :func:`nas.device.worker_gpu` assigns search
    workers theirs (no GPUs: one environment, unchanged, for a worker on the CPU)."""
    from nas.device import worker_gpu

    if not gpus:
        return [dict(os.environ)]
    return [{**os.environ, "CUDA_VISIBLE_DEVICES": str(worker_gpu(i, gpus))} for i in range(len(gpus))]


def run_workers(envs: Sequence[dict[str, str]], n: int, device: str, timeout: float = 240) -> list[float]:
    """Samples/s of one worker process per environment, measured at the same time: each warms up, says it is
    ready, and trains once every worker is ready."""
    command = [sys.executable, "-m", "benchmarks.gpu", "--worker", str(n), device]
    procs = [subprocess.Popen(command, env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for env in envs]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a GPU benchmark worker failed to start: {line}{proc.communicate()[1][-2000:]}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outs = [proc.communicate(timeout=timeout) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (_, err) in zip(procs, outs):
        if proc.returncode != 0:
            raise RuntimeError(f"a GPU benchmark worker exited {proc.returncode}: {err[-2000:]}")
    return [float(json.loads(out)["samples_per_s"]) for out, _ in outs]


def scaling_figure(alone: float, together: Sequence[float], label: str) -> Figure:
    """The aggregate throughput of ``together`` (one worker per GPU, at once) against ``len(together)`` × one
    worker ``alone``; the ratio is the scaling efficiency."""
    count = len(together)
    return Figure(f"one trial per GPU: {count} worker(s) at once vs {count} × one alone", sum(together),
                  "samples/s", baseline=alone * count, baseline_name=f"{count} × one worker alone",
                  target=SCALING_TARGET, target_on="ratio", decimals=0,
                  note=f"fp32 nasflow loop per worker, {label}; per worker: "
                       + ", ".join(f"{t:.0f}" for t in together))


def scaling_figures(gpus: Sequence[str], n: int, device: str) -> list[Figure]:
    """One worker on the first GPU alone, then one per GPU at once."""
    envs = worker_envs(gpus)
    (alone,) = run_workers(envs[:1], n, device)
    together = run_workers(envs, n, device)
    label = f"GPUs {','.join(gpus)}" if gpus else "CPU"
    return [scaling_figure(alone, together, label)]


def worker(n: int, device: str) -> None:
    """One benchmark worker: warm up, print ``ready``, wait for ``go`` on stdin, train ``n`` samples and print the
    samples/s as JSON."""
    target = torch.device(device)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    nasflow_loop(resnet_ish(0), x[:256], y[:256], target, "32", False)
    print("ready", flush=True)
    sys.stdin.readline()
    seconds = timed(nasflow_loop, resnet_ish(1), x, y, target, "32", False, device=target)
    print(json.dumps({"samples_per_s": n / seconds}), flush=True)


def available() -> bool:
    """Whether this machine has a CUDA GPU to measure."""
    return torch.cuda.is_available()


def run(quick: bool = False) -> PartResult:
    """The GPU figures on ``cuda`` (the caller checks :func:`available` first)."""
    from nas.device import visible_gpus

    n, repeats = (1024, 1) if quick else (20_000, 3)
    gpus = visible_gpus("auto")
    figures = throughput_figures(torch.device("cuda"), n, repeats)
    torch.cuda.empty_cache()  # the workers get the GPUs' memory
    figures += scaling_figures(gpus, n * 2, "cuda")
    return PartResult("gpu", figures, {"samples": n, "repeats": repeats, "gpus": gpus,
                                       "names": [torch.cuda.get_device_name(i) for i in range(len(gpus))]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description="one GPU benchmark worker")
    parser.add_argument("--worker", type=int, metavar="N", required=True, help="samples to train")
    parser.add_argument("device", help="the device the worker trains on (cuda: the one CUDA_VISIBLE_DEVICES names)")
    args = parser.parse_args(argv)
    worker(args.worker, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
