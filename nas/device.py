"""Where training runs: resolve ``train.device``, name the device, place data there (once, or per batch through
pinned memory), and assign GPUs to worker processes."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from nas.errors import NasError

DEVICES = "auto, cpu, cuda, cuda:N or mps"
GPU_ATTR = "gpu"


class DeviceError(NasError):
    """A requested device is not a device, or not present on this machine."""


def _no_cuda(spec: str) -> DeviceError:
    return DeviceError(f"train.device={spec}: CUDA is not available on this machine (torch {torch.__version__}); "
                       "use train.device=auto or train.device=cpu, or install a CUDA build of PyTorch")


def resolve_device(spec: str) -> torch.device:
    """The device ``spec`` names (``auto``: CUDA if available, else MPS, else CPU); raises :class:`DeviceError`
    for a device that is malformed or not present."""
    text = str(spec).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError(f"train.device={spec}: MPS is not available on this machine; use train.device=auto or cpu")
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text.partition(":")[2]
        if index_text and not index_text.isdigit():
            raise DeviceError(f"train.device={spec}: the GPU index must be a number (cuda:0); use one of {DEVICES}")
        if not torch.cuda.is_available():
            raise _no_cuda(spec)
        index = int(index_text) if index_text else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceError(f"train.device={spec}: this machine has {torch.cuda.device_count()} visible GPU(s) "
                              f"(0..{torch.cuda.device_count() - 1}); use a visible index or train.device=cuda")
        return torch.device("cuda", index)
    raise DeviceError(f"train.device={spec} is not a device; use one of {DEVICES}")


def device_name(device: torch.device) -> str:
    """A label for ``device``: ``cpu``, ``mps`` or ``cuda:0 (NVIDIA H200)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (so wall times measure it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class DeviceData:
    """Tensors served to the training loop in batches on ``device``: moved there once when they fit
    ``budget_mb``, else kept on the host (pinned when the device is a GPU) and copied per batch without blocking."""

    def __init__(self, tensors: Sequence[torch.Tensor], device: torch.device, budget_mb: float) -> None:
        size_mb = sum(t.element_size() * t.numel() for t in tensors) / 2**20
        self.device = device
        self.resident = device.type == "cpu" or size_mb <= budget_mb
        self.pinned = not self.resident and device.type == "cuda"
        if self.resident:
            self.tensors = [t.to(device) for t in tensors]
        else:
            self.tensors = list(tensors)

    def batch(self, index: torch.Tensor) -> list[torch.Tensor]:
        """The rows ``index`` (a CPU index tensor) of every tensor, on the device."""
        if self.resident:
            index = index.to(self.device)
            return [t[index] for t in self.tensors]
        rows = [t[index] for t in self.tensors]
        if self.pinned:
            rows = [r.pin_memory() for r in rows]
        return [r.to(self.device, non_blocking=self.pinned) for r in rows]


def visible_gpus(gpus: str | Sequence[int]) -> list[str]:
    """The GPU ids workers may use: ``auto`` = every GPU this process sees (as ``CUDA_VISIBLE_DEVICES`` names
    them, so a worker's id means the same GPU), else the given ids."""
    if not isinstance(gpus, str):
        return [str(g) for g in gpus]
    if gpus != "auto":
        raise DeviceError(f"search.gpus={gpus}: use auto or a list of GPU ids such as [0,2,3]")
    count = torch.cuda.device_count()
    inherited = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return inherited[:count] if inherited else [str(i) for i in range(count)]


def worker_gpu(index: int, gpus: Sequence[str]) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` value of worker ``index`` (round robin over ``gpus``; None without GPUs)."""
    return gpus[index % len(gpus)] if gpus else None


def check_workers_per_gpu(workers: int, gpus: Sequence[str], workers_per_gpu: int | None) -> None:
    """Refuse more workers than GPUs unless ``search.workers_per_gpu`` allows that many per GPU."""
    if not gpus:
        return
    allowed = len(gpus) * (workers_per_gpu or 1)
    if workers > allowed:
        hint = ("set search.workers_per_gpu to share GPUs" if workers_per_gpu is None
                else f"raise search.workers_per_gpu to {-(-workers // len(gpus))} or lower search.workers")
        raise DeviceError(f"search.workers={workers} on {len(gpus)} GPU(s) [{','.join(gpus)}] with "
                          f"search.workers_per_gpu={workers_per_gpu}: {hint}")
