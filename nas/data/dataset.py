"""An in-memory classification dataset: tensors, classes, stable sample ids, splits, content hash, meta."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nas.errors import SplitError

SPLIT_NAMES = ("train", "val", "test", "trainval", "all")


@dataclass
class Dataset:
    """A loaded data folder.

    ``x`` holds raw inputs: uint8 pixels 0..255 for images (N×C×H×W; memory-mapped when larger than the memory
    budget), float32 raw values for tables (N×F, not standardized; the model's first layer normalizes), ``y``
    int64 class indices into ``classes``; ``sample_ids[i]`` names sample ``i`` stably (an image's relative path, or a
    table row's content hash); ``train_idx``/``val_idx``/``test_idx`` are int64 index tensors.
    """

    name: str
    task_type: str
    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    sample_ids: list[str]
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor
    content_hash: str
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    pending_cache: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def save_cache(self) -> None:
        """Write the decode-cache entry that loading was asked to defer (``defer_cache``), once; else nothing."""
        save, self.pending_cache = self.pending_cache, None
        if save is not None:
            save()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (F,) for tables."""
        return tuple(self.x.shape[1:])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def indices(self, name: str) -> torch.Tensor:
        """Indices of split ``name``: train, val, test, trainval (train + val, sorted) or all."""
        if name == "trainval":
            return torch.sort(torch.cat([self.train_idx, self.val_idx])).values
        if name == "all":
            return torch.arange(len(self.y), dtype=torch.int64)
        if name in ("train", "val", "test"):
            return getattr(self, f"{name}_idx")
        raise SplitError(f"unknown split {name!r}; use one of {', '.join(SPLIT_NAMES)}")

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of split ``name`` (see :meth:`indices`); a split of consecutive samples is a view (no copy)."""
        idx = self.indices(name)
        if len(idx) and int(idx[-1]) - int(idx[0]) + 1 == len(idx):  # sorted and unique, so a contiguous run
            start, stop = int(idx[0]), int(idx[-1]) + 1
            return self.x[start:stop], self.y[start:stop]
        return self.x[idx], self.y[idx]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(getattr(self, n + '_idx'))}" for n in ("train", "val", "test"))
        return (
            f"Dataset(name={self.name!r}, n_samples={len(self.y)}, input_shape={self.input_shape}, "
            f"n_classes={self.n_classes}, {sizes}, content_hash={self.content_hash[:12]}…)"
        )
