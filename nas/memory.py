"""Memory the layer probing of a model needs, estimated on the meta device before any real build.

Probing builds every layer dimension at its largest at once (widths up to ``WIDEST`` times their default, so a
weight that is wide on both sides grows ``WIDEST**2`` times) while the model as written is kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from nas.errors import ModelFileError

WIDEST = 4  # nas.layers.plan: a free width is searched in default // 4 .. 4 * default
GB = 1024**3


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of the model as written, of its largest probe build, and the module whose growth dominates."""

    model_bytes: int
    largest_bytes: int
    layer: str
    layer_params: int
    layer_width: int | None

    @property
    def needed(self) -> int:
        """The model as written plus its largest build (the probe keeps the first while it builds the second)."""
        return self.model_bytes + self.largest_bytes


def _grown(tensor_numel: int, dims: int, widest: int) -> int:
    return tensor_numel * (widest**2 if dims >= 2 else widest)


def _width(module: nn.Module) -> int | None:
    for attr in ("out_features", "out_channels", "num_features", "embedding_dim"):
        value = getattr(module, attr, None)
        if isinstance(value, int):
            return value
    return None


def estimate_memory(model: nn.Module, widest: int = WIDEST) -> MemoryEstimate:
    """The memory of ``model`` (built on the meta device: nothing is allocated) and of its largest probe build."""
    model_bytes = largest = 0
    top: tuple[int, str, nn.Module | None, int] = (-1, "", None, 0)
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        if not own:
            continue
        size = sum(t.numel() * t.element_size() for t in own)
        grown = sum(_grown(t.numel(), t.dim(), widest) * t.element_size() for t in own)
        model_bytes, largest = model_bytes + size, largest + grown
        if grown > top[0]:
            params = sum(p.numel() for p in module.parameters(recurse=False))
            top = (grown, name or type(module).__name__, module, params)
    return MemoryEstimate(model_bytes, largest, top[1], top[3], _width(top[2]) if top[2] is not None else None)


def available_memory() -> int:
    """Bytes of memory this host can still give (``MemAvailable``, else free pages)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_probe_memory(build_on_meta: Callable[[], nn.Module], where: str, available: int | None = None) -> None:
    """Refuse, before the real model is built, a model whose layer probing would not fit in memory: one line naming
    the dominant layer, the estimate, the memory available and the widths that would fit. A constructor that
    cannot run on the meta device is not estimated."""
    import torch

    try:
        with torch.device("meta"):
            model = build_on_meta()
    except Exception:  # noqa: BLE001 - a constructor that needs real tensors: left to the real build
        return
    est = estimate_memory(model)
    free = available_memory() if available is None else available
    if est.needed <= free:
        return
    scale = (free / est.needed) ** 0.5  # the probe's memory grows with the square of the widths
    if est.layer_width:
        suggestion = (f"give {est.layer} a width of at most {max(1, int(est.layer_width * scale))} (today "
                      f"{est.layer_width}, searched from a quarter to {WIDEST}x of it)")
    else:
        suggestion = f"shrink {est.layer} to at most {scale * scale:.0%} of its size"
    raise ModelFileError(
        f"{where}: layer {est.layer} ({est.layer_params:,} parameters) makes the layer probing need about "
        f"{est.needed / GB:.1f} GB (the model as written plus its largest build, widths up to {WIDEST}x), but "
        f"{free / GB:.1f} GB are available; {suggestion} in the model file so that it fits"
    )


__all__ = ["GB", "WIDEST", "MemoryEstimate", "available_memory", "check_probe_memory", "estimate_memory"]
