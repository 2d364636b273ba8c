"""What a format reader returns, and the label encoding and row ids shared by the readers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.errors import DataError


@dataclass
class Samples:
    """Decoded samples of one data folder, before splitting.

    ``x`` is uint8 pixels (N×C×H×W images, possibly memory-mapped from the decode cache) or float32 (N×F raw
    table features, float images of an ``.npz``); ``y`` holds int64 indices into ``classes``; ``split_keys`` decide
    each sample's split (equal keys share a split); ``files`` are the data files read, relative to the folder, for
    the content hash, which a reader that knows it already (the decode cache) gives as ``content_hash``;
    ``save_cache`` writes a decode-cache entry that was asked to wait (see :func:`nas.data.load_data_folder`);
    ``histogram`` counts the 256 values of uint8 ``x`` when the reader knows them (so the meta-features need not read
    ``x`` again).
    """

    format: str
    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    sample_ids: list[str]
    split_keys: list[str]
    files: list[str]
    content_hash: str | None = None
    save_cache: Callable[[], None] | None = None
    histogram: np.ndarray | None = None


def encode_labels(labels: Sequence[str], source: Path) -> tuple[np.ndarray, list[str]]:
    """Map label strings to int64 class indices; classes sorted numerically if all are integers, else as text."""
    names = set(labels)
    try:
        classes = sorted(names, key=int)
    except ValueError:
        classes = sorted(names)
    if len(classes) < 2:
        raise DataError(
            f"{source}: found {len(classes)} class ({', '.join(classes) or 'none'}); "
            "classification needs at least 2 classes, add samples of another class"
        )
    index = {name: i for i, name in enumerate(classes)}
    return np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels)), classes


def row_ids(x: np.ndarray) -> tuple[list[str], list[str]]:
    """Content ids of table rows: ``row:<sha256 of the float64 values, 16 hex>``, ``#k`` added to repeats.

    Returns (sample_ids, split_keys); a row's split key is its content hash, so identical rows share a split
    and a row keeps its split when rows are added, removed or reordered.
    """
    values = np.ascontiguousarray(x.reshape(len(x), -1), dtype="<f8")
    keys = [hashlib.sha256(row.tobytes()).hexdigest()[:16] for row in values]
    seen: dict[str, int] = {}
    ids = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        ids.append(f"row:{key}" if seen[key] == 1 else f"row:{key}#{seen[key]}")
    return ids, keys
