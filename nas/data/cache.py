"""A cache of decoded image folders: one ``.npy`` of uint8 pixels (N×C×H×W) plus a small JSON, per folder.

An entry is keyed by the folder's file listing (relative path, size and mtime of every file, dataset.yaml too),
so a changed, added or removed file gives another key and the folder is decoded again; each folder keeps only its
latest entry. An entry is read back memory-mapped (copy-on-write): nothing is copied until it is used, and
processes loading the same folder share the pages. A cache file that does not read back (truncated, overwritten,
its JSON missing or garbled) is rebuilt with a :class:`CacheWarning`. Arrays are written to a temporary name first
and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import one_line

FORMAT = 2  # of an entry's files: a new format gives new keys, so older entries are replaced, not misread


class CacheWarning(UserWarning):
    """A cache entry could not be read back and is being rebuilt."""


@dataclass(frozen=True)
class CacheEntry:
    """Where one folder's decoded pixels live, and what they were decoded from."""

    pixels: Path
    meta: Path

    def load(self) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The pixels (memory-mapped, copy-on-write) and metadata; None if absent; a :class:`CacheWarning` and None
        if unreadable."""
        if not self.pixels.is_file() and not self.meta.is_file():
            return None
        try:
            meta = json.loads(self.meta.read_text())
            pixels = np.load(self.pixels, mmap_mode="c", allow_pickle=False)
            if pixels.dtype != np.uint8 or list(pixels.shape) != meta["shape"]:
                raise ValueError(f"holds {pixels.dtype} {list(pixels.shape)}, expected uint8 {meta['shape']}")
            if not isinstance(meta["content_hash"], str) or len(meta["histogram"]) != 256:
                raise ValueError("its metadata lacks the content hash or the pixel histogram")
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            reason = one_line(exc)[:200]
            warnings.warn(f"{self.pixels}: the decoded-image cache is corrupt ({reason}); decoding the folder again "
                          "and rebuilding it", CacheWarning, stacklevel=3)
            return None
        return pixels, meta


@dataclass(frozen=True)
class FolderCache:
    """One data folder's place in the cache: its latest entry, and the array a decoding writes before it has one."""

    place: Path

    def holds_entries(self) -> bool:
        """True if an entry of the folder was ever written here (so a load must find out whether it still fits)."""
        return self.place.is_dir() and any(p.suffix == ".json" for p in self.place.iterdir())

    def entry(self, key: str) -> CacheEntry:
        """The entry of the folder's files as ``key`` (see :func:`listing_key`) describes them."""
        return CacheEntry(self.place / f"{key}.npy", self.place / f"{key}.json")

    def allocate(self, shape: tuple[int, ...]) -> np.ndarray:
        """A writable memory-mapped array of ``shape`` at this process's temporary name (see :meth:`commit`)."""
        self.place.mkdir(parents=True, exist_ok=True)
        return np.lib.format.open_memmap(self._partial(), mode="w+", dtype=np.uint8, shape=shape)

    def commit(self, key: str, pixels: np.ndarray, meta: dict[str, Any]) -> None:
        """Store ``pixels`` (an array from :meth:`allocate`, or any uint8 array) and ``meta`` as the entry of
        ``key``, and remove the folder's older entries (and what killed processes of this host left half written)."""
        entry, partial = self.entry(key), self._partial()
        self.place.mkdir(parents=True, exist_ok=True)
        allocated = isinstance(pixels, np.memmap) and Path(str(pixels.filename)) == partial
        if not allocated:  # an allocated array is in the page cache already, for every reader (no msync needed)
            np.save(partial, pixels)  # np.save keeps a name that already ends in .npy
        os.replace(partial, entry.pixels)
        tmp = entry.meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({**meta, "shape": list(pixels.shape)}))
        os.replace(tmp, entry.meta)
        for old in self.place.iterdir():
            if old.name.split(".")[0] != key and not _written_now(old.name):
                old.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove what :meth:`allocate` wrote (decoding into it failed)."""
        self._partial().unlink(missing_ok=True)

    def _partial(self) -> Path:
        from nas.recovery import worker_id

        return self.place / f"{_PARTIAL}{worker_id().replace(':', '~')}.npy"  # one per writing process


_PARTIAL = "partial-"


def _written_now(name: str) -> bool:
    """True for a partial array of a process that still runs, or of another host (which this one cannot ask)."""
    from nas.recovery import is_dead

    return name.startswith(_PARTIAL) and not is_dead(name[len(_PARTIAL) :].removesuffix(".npy").replace("~", ":"))


def listing_key(stamps: Mapping[str, tuple[int, int]], extra: str = "") -> str:
    """A key of a folder's files as they are now: ``stamps`` maps each relative path to (size, mtime in ns)."""
    listing = "\0".join(f"{name}\0{size}\0{mtime_ns}" for name, (size, mtime_ns) in sorted(stamps.items()))
    return hashlib.sha256(f"{FORMAT}\0{extra}\0{listing}".encode()).hexdigest()[:32]


def folder_cache(root: Path, folder: Path) -> FolderCache:
    """The place of ``folder`` in the cache folder ``root`` (one sub-folder per data folder)."""
    return FolderCache(root / hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16])
