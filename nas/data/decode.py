"""Decode many PNG/JPEG files into one uint8 N×C×H×W array, in chunks spread over worker processes.

Each file is read once: its bytes are hashed (sha256, for the folder's content hash) and decoded from memory. A
plain 8-bit grayscale or RGB PNG (what image data sets hold) is decoded by Pillow's zlib decoder directly
(:func:`Image.frombytes`), skipping the per-file Python work of ``Image.open`` (format detection, chunk parsing),
which costs more than the decoding itself for a 32×32 image; any other file (JPEG, palette, 16-bit, interlaced, a
PNG that does not check out) goes through ``Image.open``, so it decodes and fails exactly as Pillow says.

Workers are processes: that Python work holds the GIL, so threads gain little (see ``benchmarks/image_loading.py``).
A chunk comes back as one array, its digests and its pixel histogram, so a result costs one pickle, not one per
image. Errors come out in file order: the first bad file (unreadable, truncated, another size) is the one named.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from nas.errors import DataError

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})
PARALLEL_MIN_FILES = 4096  # below this, starting the processes (~50-100 ms) costs more than they save (README)
CHUNK_FILES = 512
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODES = {0: "L", 2: "RGB"}  # colour types decoded directly (8 bits, not interlaced)
_ANIMATION = frozenset({b"acTL", b"fcTL", b"fdAT"})
_T = TypeVar("_T")

Allocate = Callable[[tuple[int, ...]], np.ndarray]


@dataclass
class Decoded:
    """Decoded files: ``pixels`` (N×C×H×W uint8), the sha256 of each file's bytes, and a 256-bin histogram of
    every pixel value (for the data's mean and std without another pass)."""

    pixels: np.ndarray
    digests: list[bytes]
    histogram: np.ndarray


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
                  workers: int | None = None) -> Decoded:
    """Every file decoded into ``allocate((N, C, H, W))`` (uint8): C=1 if every image is grayscale, else 3 (RGB).

    ``allocate`` may return a memory-mapped array (a cache file) so that data larger than memory never sits in it;
    ``workers`` defaults to the available cores; under :data:`PARALLEL_MIN_FILES` files (or with 1) the decoding
    runs in this process.
    """
    first = decode_file(files[0])
    height, width = first.shape[-2:]
    out = allocate((len(files), first.shape[0], height, width))
    workers = available_cores() if workers is None else workers
    chunks = [files[i : i + CHUNK_FILES] for i in range(0, len(files), CHUNK_FILES)]
    digests: list[bytes] = []
    histogram = np.zeros(256, dtype=np.int64)
    with _pool(workers if len(files) >= PARALLEL_MIN_FILES else 1) as pool:
        start = 0
        results = pool.map(decode_chunk, chunks, [files[0]] * len(chunks), [(width, height)] * len(chunks))
        for chunk, chunk_digests, chunk_histogram in results:
            if chunk.shape[1] > out.shape[1]:  # the first colour image after grayscale ones: everything becomes RGB
                out = _to_rgb(out, start, allocate)
                histogram *= 3
            widen = chunk.shape[1] < out.shape[1]
            out[start : start + len(chunk)] = chunk.repeat(3, axis=1) if widen else chunk
            histogram += chunk_histogram * 3 if widen else chunk_histogram
            digests += [chunk_digests[i : i + 32] for i in range(0, len(chunk_digests), 32)]
            start += len(chunk)
    return Decoded(out, digests, histogram)


def decode_chunk(files: Sequence[str | Path], reference: str | Path,
                 size: tuple[int, int]) -> tuple[np.ndarray, bytes, np.ndarray]:
    """The chunk's images as one n×C×H×W uint8 array (RGB if any is in colour; each must be ``size`` (W, H) like
    ``reference``), the sha256 digests of their bytes (32 bytes each, concatenated) and the pixels' histogram."""
    images, digests = [], []
    for path in files:
        data = _read(path)
        digests.append(hashlib.sha256(data).digest())
        pixels = decode_png(data)
        if pixels is None:
            pixels = _decode_any(data, path)
        if pixels.shape[1::-1] != size:
            (w, h), (w0, h0) = pixels.shape[1::-1], size
            raise DataError(
                f"{path}: image is {w}x{h} but {reference} is {w0}x{h0}; all images must share one size: "
                "resize them all to one size (e.g. Pillow's Image.resize)"
            )
        images.append(pixels)
    channels = max(image.shape[2] for image in images)
    stacked = np.stack([image if image.shape[2] == channels else image.repeat(channels, axis=2) for image in images])
    chunk = np.ascontiguousarray(stacked.transpose(0, 3, 1, 2))
    return chunk, b"".join(digests), np.bincount(chunk.reshape(-1), minlength=256)


def decode_file(path: str | Path) -> np.ndarray:
    """One image as a C×H×W uint8 array (C=1 for grayscale, 3 for colour)."""
    data = _read(path)
    pixels = decode_png(data)
    return (pixels if pixels is not None else _decode_any(data, path)).transpose(2, 0, 1)


def decode_png(data: bytes) -> np.ndarray | None:
    """An 8-bit grayscale or RGB, non-interlaced, still PNG whose chunks all check out (CRC) as an H×W×C array
    (C=1 or 3); None for anything else, which :func:`_decode_any` then decodes (or rejects) as Pillow does."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    mode = _PNG_MODES.get(colour)
    if mode is None or depth != 8 or compression or filtering or interlace or not width or not height:
        return None
    view, idat, pos, end = memoryview(data), [], 8, len(data)
    while True:
        if pos + 12 > end:
            return None  # cut short before IEND: let Pillow say what is missing
        length, kind = struct.unpack_from(">I4s", data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end or zlib.crc32(view[pos + 4 : body_end]) != int.from_bytes(view[body_end : body_end + 4],
                                                                                        "big"):
            return None
        if kind == b"IDAT":
            idat.append(view[pos + 8 : body_end])
        elif kind == b"IEND":
            break
        elif kind in _ANIMATION or not kind[:1].islower() and (kind != b"IHDR" or pos != 8):
            return None  # an animation, or a critical chunk (PLTE…) that Pillow should interpret
        pos = body_end + 4
    if not idat:
        return None
    try:
        image = Image.frombytes(mode, (width, height), b"".join(idat), "zip", mode)
    except ValueError:  # not enough or undecodable image data: Pillow's own path names the problem
        return None
    return np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(height, width, -1)


def _decode_any(data: bytes, path: str | Path) -> np.ndarray:
    """Any image Pillow reads, as H×W×1 (grayscale) or H×W×3 (everything else, converted to RGB)."""
    image = _open(data, path)
    mode = "L" if image.mode in GRAY_MODES else "RGB"
    pixels = np.asarray(image if image.mode == mode else image.convert(mode))
    return pixels[:, :, None] if mode == "L" else pixels


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


def _read(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({_reason(exc)}); check its permissions or delete it") from exc


def _open(data: bytes, path: str | Path) -> Image.Image:
    """``data`` (the bytes of ``path``) decoded fully (so a truncated file shows here), or a :class:`DataError`
    naming the file."""
    try:
        image = Image.open(io.BytesIO(data))
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
