"""Class sub-folders of PNG/JPEG images: one folder per class, every image the same size, kept as uint8 pixels."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nas.data.cache import folder_cache, listing_key
from nas.data.decode import decode_file, decode_images, in_memory
from nas.data.meta import digests_hash
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
    folder the decoded array is kept there (see :mod:`nas.data.cache`), decoded straight into the cache file and
    memory-mapped from it; pixels larger than ``memory_mb`` are ordered train, val, test so that each split is one
    contiguous slice of the file (no copy). With ``defer_cache`` the pixels are decoded into memory and an entry is
    written only when the returned samples' ``save_cache`` is called (pixels within ``memory_mb`` only). Each file is
    read once: the content hash comes from the digests the decoding computes (or from the cache entry).
    """
    place = folder_cache(cache, folder) if cache is not None else None
    stat_first = place is not None and place.holds_entries()  # else no entry can match: the decoding stats the files
    listed = _list_images(class_dirs, stat=stat_first)
    streamed = place is not None and len(listed) * decode_file(listed[0].path).size / 2**20 > memory_mb
    if streamed:
        splits = assign_splits([image.id for image in listed], spec.val, spec.test, spec.seed)
        listed = [listed[i] for i in np.concatenate([splits[name] for name in SPLITS]).tolist()]
    files: list[str | Path] = [image.path for image in listed]
    ids = [image.id for image in listed]
    spec_digest = {SPEC_FILE: hashlib.sha256(spec.path.read_bytes()).digest()} if spec.path else {}
    if place is None:
        decoded = decode_images(files)
        digest = digests_hash({**dict(zip(ids, decoded.digests)), **spec_digest})
        return _samples(listed, folder, decoded.pixels, digest, decoded.histogram)
    spec_stamp = {}
    if spec.path is not None:
        stat = spec.path.stat()
        spec_stamp[SPEC_FILE] = (stat.st_size, stat.st_mtime_ns)
    order_key = f"split:{spec.seed}:{spec.val}:{spec.test}" if streamed else "files"
    if stat_first:
        loaded = place.entry(listing_key({**{i.id: i.stamp for i in listed}, **spec_stamp}, order_key)).load()
        if loaded is not None:
            pixels, meta = loaded
            histogram = np.asarray(meta["histogram"], dtype=np.int64)
            return _samples(listed, folder, pixels, str(meta["content_hash"]), histogram)
    now = streamed or not defer_cache  # a streamed array lives in the cache file: it is written now
    try:
        decoded = decode_images(files, place.allocate if now else in_memory)  # into the cache file: no copy
    except BaseException:
        place.discard()
        raise
    digest = digests_hash({**dict(zip(ids, decoded.digests)), **spec_digest})
    key = listing_key({**dict(zip(ids, decoded.stamps)), **spec_stamp}, order_key)  # the files as they were read
    save = partial(place.commit, key, decoded.pixels, {"content_hash": digest, "files": len(files),
                                                       "histogram": decoded.histogram.tolist()})
    if not now:
        return _samples(listed, folder, decoded.pixels, digest, decoded.histogram, save)
    save()
    reopened = place.entry(key).load()
    pixels = reopened[0] if reopened is not None else decoded.pixels  # copy-on-write: nothing writes to the cache
    return _samples(listed, folder, pixels, digest, decoded.histogram)


def _samples(listed: list[_Image], folder: Path, pixels: np.ndarray, digest: str, histogram: np.ndarray,
             save: Callable[[], None] | None = None) -> Samples:
    ids = [image.id for image in listed]
    y, classes = encode_labels([image.label for image in listed], folder)
    return Samples("images", pixels, y, classes, ids, ids, ids, content_hash=digest, save_cache=save,
                   histogram=histogram)


class _Image(NamedTuple):
    label: str
    id: str  # <class>/<file name>: the path relative to the data folder
    path: str
    stamp: tuple[int, int]  # size, mtime in ns (0, 0 when not asked for)


def _list_images(class_dirs: list[Path], stat: bool) -> list[_Image]:
    """Every image of every class folder, sorted by class then name, with its size and mtime when ``stat`` (one
    ``scandir`` per folder, each file stat'ed relative to its folder: 50,000 files list in a fraction of a second)."""
    listed: list[_Image] = []
    for class_dir in sorted(class_dirs):
        label, base, found = class_dir.name, str(class_dir), []
        fd = os.open(class_dir, os.O_RDONLY) if os.scandir in os.supports_fd else None
        try:
            with os.scandir(class_dir if fd is None else fd) as entries:
                ordered = sorted(entries, key=attrgetter("name"))
            for entry in ordered:
                name = entry.name
                if name.startswith("."):
                    continue
                path = f"{base}{os.sep}{name}"
                if entry.is_dir():
                    raise DataError(
                        f"{path}: nested folders are not supported inside class folder '{label}'; "
                        "move its images up into the class folder"
                    )
                if not name.lower().endswith(IMAGE_SUFFIXES):
                    raise DataError(
                        f"{path}: is not a PNG/JPEG image ({', '.join(IMAGE_SUFFIXES)}); "
                        "convert it or move it out of the data folder"
                    )
                info = entry.stat() if stat else None
                found.append(_Image(label, f"{label}/{name}", path,
                                    (info.st_size, info.st_mtime_ns) if info is not None else (0, 0)))
        finally:
            if fd is not None:
                os.close(fd)
        if not found:
            raise DataError(f"{class_dir}: class folder '{label}' is empty; add PNG/JPEG images to it or delete it")
        listed += found
    return listed
