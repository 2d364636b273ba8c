"""Class sub-folders of PNG/JPEG images: one folder per class, every image the same size, kept as uint8 pixels."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from nas.data.cache import cache_entry, listing_key
from nas.data.decode import decode_file, decode_images, in_memory
from nas.data.meta import content_hash
from nas.data.samples import Samples, encode_labels
from nas.data.spec import SPEC_FILE, DatasetSpec
from nas.data.splits import SPLITS, assign_splits
from nas.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def is_image(path: Path) -> bool:
    """True if ``path`` has a PNG/JPEG file name."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_images(folder: Path, class_dirs: list[Path], spec: DatasetSpec, cache: Path | None = None,
                memory_mb: float = math.inf, defer_cache: bool = False) -> Samples:
    """Decode every image under ``class_dirs`` into one N×C×H×W uint8 array (raw pixels 0..255).

    All images are converted to grayscale (C=1) if every one is grayscale, else to RGB (C=3). With a ``cache``
    folder the decoded array is kept there (see :mod:`nas.data.cache`) and read back while the files are unchanged;
    pixels larger than ``memory_mb`` are decoded straight into the cache file and memory-mapped from it, the samples
    ordered train, val, test so that each split is one contiguous slice of the file (no copy). With ``defer_cache``
    an in-memory entry is written only when the returned samples' ``save_cache`` is called.
    """
    listed = _list_images(class_dirs)
    files: list[str | Path] = [entry.path for _, entry in listed]
    labels = [label for label, _ in listed]
    ids = [f"{label}/{entry.name}" for label, entry in listed]
    stamps = {name: _stamp(entry) for name, (_, entry) in zip(ids, listed)}
    streamed = cache is not None and len(files) * decode_file(files[0]).size / 2**20 > memory_mb
    if streamed:
        splits = assign_splits(ids, spec.val, spec.test, spec.seed)
        order = np.concatenate([splits[name] for name in SPLITS]).tolist()
        files, labels, ids = [files[i] for i in order], [labels[i] for i in order], [ids[i] for i in order]
    names = ids + ([SPEC_FILE] if spec.path else [])
    digest: str | None = None
    save: Callable[[], None] | None = None
    if cache is None:
        pixels = decode_images(files)
    else:
        order_key = f"split:{spec.seed}:{spec.val}:{spec.test}" if streamed else "files"
        if spec.path is not None:
            stamps[SPEC_FILE] = _stamp(spec.path.stat())
        entry = cache_entry(cache, folder, listing_key(stamps, order_key))
        loaded = entry.load(mmap=streamed)
        if loaded is not None:
            pixels, digest = loaded[0], str(loaded[1]["content_hash"])
        else:
            pixels = decode_images(files, entry.allocate if streamed else in_memory)
            digest = content_hash(folder, names)
            meta = {"content_hash": digest, "files": len(files)}
            save = partial(entry.commit, pixels, meta)
            if streamed or not defer_cache:  # a streamed array lives in the cache file: it is written now
                save()
                save = None
            reopened = entry.load(mmap=True) if streamed else None
            pixels = reopened[0] if reopened is not None else pixels  # copy-on-write: nothing writes to the cache
    y, classes = encode_labels(labels, folder)
    return Samples("images", pixels, y, classes, ids, ids, ids, content_hash=digest, save_cache=save)


def _stamp(entry: os.DirEntry[str] | os.stat_result) -> tuple[int, int]:
    stat = entry.stat() if isinstance(entry, os.DirEntry) else entry
    return stat.st_size, stat.st_mtime_ns


def _list_images(class_dirs: list[Path]) -> list[tuple[str, os.DirEntry[str]]]:
    """(class, file) of every image of every class folder, sorted by class then name (one ``scandir`` per folder:
    a CIFAR-size folder lists in a fraction of a second)."""
    listed: list[tuple[str, os.DirEntry[str]]] = []
    for class_dir in sorted(class_dirs):
        found = []
        with os.scandir(class_dir) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in ordered:
            if entry.name.startswith("."):
                continue
            path = entry.path
            if entry.is_dir():
                raise DataError(
                    f"{path}: nested folders are not supported inside class folder '{class_dir.name}'; "
                    "move its images up into the class folder"
                )
            if os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
                raise DataError(
                    f"{path}: is not a PNG/JPEG image ({', '.join(IMAGE_SUFFIXES)}); "
                    "convert it or move it out of the data folder"
                )
            found.append((class_dir.name, entry))
        if not found:
            raise DataError(
                f"{class_dir}: class folder '{class_dir.name}' is empty; add PNG/JPEG images to it or delete it"
            )
        listed += found
    return listed
