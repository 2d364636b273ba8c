"""Hash-based train/val/test splits: each sample's split depends only on (seed, its key), never on the others."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def assign_splits(keys: Sequence[str], val: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Indices of each split: a key's position in [0, 1) is the first 8 bytes of sha256("<seed>:<key>") (big-endian)
    / 2**64, so stable across runs and machines; it lands in test below ``test``, in val below ``test + val``, else in
    train.

    Adding or removing samples never moves another sample, so a test sample stays in test.
    """
    prefixes = b"".join(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8] for key in keys)
    positions = np.frombuffer(prefixes, dtype=">u8").astype(np.float64) / 2**64  # = split_position, vectorized
    where = np.where(positions < test, 2, np.where(positions < test + val, 1, 0))
    return {name: np.flatnonzero(where == code).astype(np.int64) for code, name in enumerate(SPLITS)}


def check_measurable(split_sizes: dict[str, int], n_classes: int, where: str) -> None:
    """Refuse a validation or test split with fewer samples than classes: too small to measure accuracy
    (a 1-sample test split gives an accuracy of 0 or 1 and a meaningless champion)."""
    from nas.errors import DataError

    for split in ("val", "test"):
        if 0 < split_sizes.get(split, 0) < n_classes:
            counts = ", ".join(f"{name} {size}" for name, size in split_sizes.items())
            raise DataError(
                f"{where}: the {split} split holds {split_sizes[split]} samples for {n_classes} classes ({counts}), "
                f"too few to measure accuracy; add samples (at least one per class in {split}) or raise "
                f"split.{split} in dataset.yaml")
