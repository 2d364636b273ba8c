"""Content hash of a data folder and the task meta-features recorded with every model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

CHUNK_ROWS = 1024


def content_hash(folder: Path, files: Iterable[str]) -> str:
    """The content hash of ``files`` (relative paths in ``folder``): see :func:`digests_hash`."""
    return digests_hash({name: hashlib.sha256((folder / name).read_bytes()).digest() for name in files})


def digests_hash(digests: Mapping[str, bytes]) -> str:
    """sha256 over the sorted relative paths, each followed by the sha256 of its bytes (mtimes play no part), so
    files hashed apart (by the decoding workers) give the same hash as files hashed here."""
    digest = hashlib.sha256()
    for name in sorted(digests):
        digest.update(name.encode() + b"\0" + digests[name])
    return digest.hexdigest()


def meta_features(
    x: np.ndarray, y: np.ndarray, classes: list[str], task_type: str, fmt: str, splits: dict[str, np.ndarray],
    histogram: np.ndarray | None = None,
) -> dict[str, Any]:
    """Plain-JSON meta-features of a task.

    Keys: task_type, format (images, csv, npz), modality (image, table), n_samples, input_shape (one sample's
    shape), n_features (values per sample), n_classes, classes, class_counts, class_balance (smallest class
    count / largest), x_mean and x_std (over all of ``x``; uint8 pixels on the [0, 1] scale), split_sizes.
    ``histogram`` (counts of the 256 values of uint8 ``x``, when known) gives x_mean and x_std without reading ``x``.
    """
    counts = np.bincount(y, minlength=len(classes))
    mean, std = moments(x, tuple(range(1, x.ndim))) if histogram is None else histogram_moments(histogram)
    scale = 255.0 if x.dtype == np.uint8 else 1.0
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
        "x_mean": float(mean) / scale,
        "x_std": float(std) / scale,
        "split_sizes": {name: len(idx) for name, idx in splits.items()},
    }


def moments(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std (float64) over the rows and ``axes`` of ``x``, the other axes kept (per channel,
    per feature); read a chunk of rows at a time, so memory-mapped data is never copied whole."""
    reduce = (0, *axes)
    chunks = [x[start : start + CHUNK_ROWS] for start in range(0, len(x), CHUNK_ROWS)]
    count = len(x) * int(np.prod([x.shape[a] for a in axes]))
    if x.dtype == np.uint8:  # exact, and several times faster: a histogram of the 256 values per kept position
        kept = [d for d in range(1, x.ndim) if d not in axes]
        hist = np.zeros((int(np.prod([x.shape[d] for d in kept])), 256), dtype=np.int64)
        for c in chunks:
            flat = np.moveaxis(c, kept, range(len(kept))).reshape(len(hist), -1)
            for i, row in enumerate(flat):
                hist[i] += np.bincount(row, minlength=256)
        mean_u8, std_u8 = histogram_moments(hist)
        shape = tuple(x.shape[d] for d in kept)
        return mean_u8.reshape(shape), std_u8.reshape(shape)
    mean = sum(c.sum(axis=reduce, dtype=np.float64, keepdims=True) for c in chunks) / max(count, 1)
    square = sum(((c - mean) ** 2).sum(axis=reduce, keepdims=True) for c in chunks)
    return np.squeeze(mean, axis=reduce), np.squeeze(np.sqrt(square / max(count, 1)), axis=reduce)


def histogram_moments(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std (float64) of uint8 values from their counts (last axis: the 256 values)."""
    values = np.arange(256, dtype=np.float64)
    count = np.maximum(hist.sum(axis=-1), 1)
    mean = hist @ values / count
    var = hist @ values**2 / count - mean**2
    return mean, np.sqrt(np.maximum(var, 0))
