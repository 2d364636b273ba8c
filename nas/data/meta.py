"""Content hash of a data folder and the task meta-features recorded with every model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def content_hash(folder: Path, files: Iterable[str]) -> str:
    """sha256 over the sorted relative paths and bytes of ``files`` in ``folder`` (mtimes play no part)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = (folder / name).read_bytes()
        digest.update(name.encode())
        digest.update(b"\0" + str(len(data)).encode() + b"\0")
        digest.update(data)
    return digest.hexdigest()


def meta_features(
    x: np.ndarray, y: np.ndarray, classes: list[str], task_type: str, fmt: str, splits: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Plain-JSON meta-features of a task.

    Keys: task_type, format (images, csv, npz), modality (image, table), n_samples, input_shape (one sample's
    shape), n_features (values per sample), n_classes, classes, class_counts, class_balance (smallest class
    count / largest), x_mean and x_std (over all of ``x``), split_sizes.
    """
    counts = np.bincount(y, minlength=len(classes))
    input_shape = [int(d) for d in x.shape[1:]]
    return {
        "task_type": task_type,
        "format": fmt,
        "modality": "table" if x.ndim == 2 else "image",
        "n_samples": len(x),
        "input_shape": input_shape,
        "n_features": int(np.prod(input_shape)),
        "n_classes": len(classes),
        "classes": list(classes),
        "class_counts": {name: int(n) for name, n in zip(classes, counts)},
        "class_balance": float(counts.min() / counts.max()),
        "x_mean": float(x.mean(dtype=np.float64)),
        "x_std": float(x.std(dtype=np.float64)),
        "split_sizes": {name: len(idx) for name, idx in splits.items()},
    }
