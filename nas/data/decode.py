"""Decode many PNG/JPEG files into one uint8 N×C×H×W array, in chunks spread over worker processes.

Small images cost more in Python per file than in the decoder (which holds the GIL for much of a 32×32 PNG), so
processes beat threads here; a chunk comes back as one array, so a result costs one pickle, not one per image.
Errors come out in file order: the first bad file (unreadable, truncated, another size) is the one named.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from nas.errors import DataError

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})
PARALLEL_MIN_FILES = 2048  # below this, starting processes costs more than it saves
CHUNK_FILES = 512
_T = TypeVar("_T")

Allocate = Callable[[tuple[int, ...]], np.ndarray]


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def in_memory(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialized uint8 array of ``shape`` in memory."""
    return np.empty(shape, dtype=np.uint8)


def decode_images(files: Sequence[str | Path], allocate: Allocate = in_memory,
                  workers: int | None = None) -> np.ndarray:
    """Every file decoded into ``allocate((N, C, H, W))`` (uint8): C=1 if every image is grayscale, else 3 (RGB).

    ``allocate`` may return a memory-mapped array (a cache file) so that data larger than memory never sits in it;
    ``workers`` defaults to the available cores (1 = decode in this process).
    """
    first = decode_file(files[0])
    height, width = first.shape[-2:]
    out = allocate((len(files), first.shape[0], height, width))
    workers = available_cores() if workers is None else workers
    chunks = [files[i : i + CHUNK_FILES] for i in range(0, len(files), CHUNK_FILES)]
    with _pool(workers if len(files) >= PARALLEL_MIN_FILES else 1) as pool:
        start = 0
        results = pool.map(decode_chunk, chunks, [files[0]] * len(chunks), [(width, height)] * len(chunks))
        for chunk in results:
            if chunk.shape[1] > out.shape[1]:  # the first colour image after grayscale ones: everything becomes RGB
                out = _to_rgb(out, start, allocate)
            out[start : start + len(chunk)] = chunk if chunk.shape[1] == out.shape[1] else chunk.repeat(3, axis=1)
            start += len(chunk)
    return out


def decode_chunk(files: Sequence[str | Path], reference: str | Path, size: tuple[int, int]) -> np.ndarray:
    """The chunk's images as one n×C×H×W uint8 array (RGB if any is in colour); each must be ``size`` (W, H) like
    ``reference``."""
    images = []
    for path in files:
        image = _open(path)
        if image.size != size:
            (w, h), (w0, h0) = image.size, size
            raise DataError(
                f"{path}: image is {w}x{h} but {reference} is {w0}x{h0}; all images must share one size: "
                "resize them all to one size (e.g. Pillow's Image.resize)"
            )
        images.append(image)
    mode = "L" if all(image.mode in GRAY_MODES for image in images) else "RGB"
    pixels = np.stack([np.asarray(image if image.mode == mode else image.convert(mode)) for image in images])
    return pixels[:, None] if mode == "L" else np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def decode_file(path: str | Path) -> np.ndarray:
    """One image as a C×H×W uint8 array (C=1 for grayscale, 3 for colour)."""
    image = _open(path)
    return decode_chunk([path], path, image.size)[0]


def _to_rgb(out: np.ndarray, filled: int, allocate: Allocate) -> np.ndarray:
    head = out[:filled].repeat(3, axis=1)  # copied first: ``allocate`` may reuse the file behind ``out``
    wider = allocate((out.shape[0], 3, *out.shape[2:]))
    wider[:filled] = head
    return wider


class _Serial(Executor):
    def map(self, fn: Callable[..., _T], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[_T]:
        return map(fn, *iterables)


@contextmanager
def _pool(workers: int) -> Iterator[Executor]:
    """Worker processes (forked where the platform can, so they import nothing again), or this process for 1."""
    if workers <= 1:
        yield _Serial()
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield pool


def _open(path: str | Path) -> Image.Image:
    """``path`` decoded fully (so a truncated file shows here), or a :class:`DataError` naming it."""
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "Pillow cannot identify its format" if isinstance(exc, UnidentifiedImageError) else _reason(exc)
        raise DataError(
            f"{path}: is not a readable PNG/JPEG image ({reason}); replace it with a valid image or delete it"
        ) from exc
    try:
        with image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"{path}: image is truncated or corrupt ({_reason(exc)}); replace it with a complete copy or delete it"
        ) from exc
    return image


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
