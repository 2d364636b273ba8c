"""Decode many PNG/JPEG files into one uint8 N×C×H×W array, in chunks spread over worker processes.

Each file is read once: its bytes are hashed (sha256, for the folder's content hash), its size and mtime taken
from the open file (for the decode cache's key), and it is decoded from memory. A plain 8-bit grayscale or RGB PNG
(what image data sets hold) is decoded by Pillow's zlib decoder straight into its band of one image per chunk,
skipping the per-file Python work of ``Image.open`` (format detection, chunk parsing) and of one image object per
file, which cost more than the decoding itself for a 32×32 image; any other file (JPEG, palette, 16-bit,
interlaced, a PNG that does not check out) goes through ``Image.open``, so it decodes and fails exactly as Pillow
says.

Workers are processes, forked after the output array exists, so each writes its chunks into it directly (a shared
memory map, or the cache file) and returns only digests, stamps and a histogram; that Python work holds the GIL, so
threads gain little (see ``benchmarks/image_loading.py``). Where the platform cannot fork, one process decodes.
Errors come out in file order: the first bad file (unreadable, truncated, another size) is the one named.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import multiprocessing
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nas.errors import DataError, one_line

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})
PARALLEL_MIN_FILES = 4096  # below this, starting the processes (~50-100 ms) costs more than they save (README)
CHUNK_FILES = 512
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MODES = {0: "L", 2: "RGB"}  # colour types decoded directly (8 bits, not interlaced)
_ANIMATION = frozenset({b"acTL", b"fcTL", b"fdAT"})

Allocate = Callable[[tuple[int, ...]], np.ndarray]
Stamp = tuple[int, int]  # a file's size and mtime in ns, as read


@dataclass
class Decoded:
    """Decoded files: ``pixels`` (N×C×H×W uint8), the sha256 of each file's bytes, each file's (size, mtime in
    ns) when it was read, and a 256-bin histogram of every pixel value (for the data's mean and std without
    another pass)."""

    pixels: np.ndarray
    digests: list[bytes]
    stamps: list[Stamp]
    histogram: np.ndarray


@dataclass
class _Chunk:
    """What decoding a chunk into the output returns; ``colour`` says it held colour images while the output is
    grayscale (nothing was written)."""

    digests: list[bytes]
    stamps: list[Stamp]
    histogram: np.ndarray
    colour: bool = False


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def in_memory(shape: tuple[int, ...]) -> np.ndarray:
    """An uint8 array of ``shape`` in memory shared with the processes this one forks (zero-filled)."""
    size = int(np.prod(shape))
    return np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=np.uint8, count=size).reshape(shape)


def decode_images(files: Sequence[str | Path], allocate: Allocate = in_memory,
                  workers: int | None = None) -> Decoded:
    """Every file decoded into ``allocate((N, C, H, W))`` (uint8): C=1 if every image is grayscale, else 3 (RGB).

    ``allocate`` returns memory the forked workers share (:func:`in_memory`, or a memory-mapped cache file, so that
    data larger than memory never sits in it); ``workers`` defaults to the available cores; under
    :data:`PARALLEL_MIN_FILES` files (or with 1) the decoding runs in this process. A grayscale first image with
    colour ones later costs a second pass, in RGB.
    """
    channels, height, width = decode_file(files[0]).shape
    workers = available_cores() if workers is None else workers
    if len(files) < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        workers = 1
    jobs = [(files[s : s + CHUNK_FILES], s, files[0], (width, height)) for s in range(0, len(files), CHUNK_FILES)]
    while True:
        out = allocate((len(files), channels, height, width))
        chunks = list(_decoded(out, jobs, workers))
        if channels == 1 and any(chunk.colour for chunk in chunks):
            del out  # the cache file behind it is allocated again
            channels = 3
            continue
        digests = [d for chunk in chunks for d in chunk.digests]
        stamps = [s for chunk in chunks for s in chunk.stamps]
        return Decoded(out, digests, stamps, np.sum([chunk.histogram for chunk in chunks], axis=0))


_OUTPUT: list[np.ndarray] = []  # a worker's output array, inherited through fork


def _decoded(out: np.ndarray, jobs: list[tuple[Sequence[str | Path], int, str | Path, tuple[int, int]]],
             workers: int) -> Iterator[_Chunk]:
    if workers <= 1:
        yield from (decode_chunk(out, *job) for job in jobs)
        return
    _OUTPUT[:] = [out]  # forked below: every worker sees it (as a module global, nothing pickled)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(_decode_shared, *zip(*jobs))
    finally:
        _OUTPUT.clear()


def _decode_shared(files: Sequence[str | Path], start: int, reference: str | Path, size: tuple[int, int]) -> _Chunk:
    return decode_chunk(_OUTPUT[0], files, start, reference, size)


def decode_chunk(out: np.ndarray, files: Sequence[str | Path], start: int, reference: str | Path,
                 size: tuple[int, int]) -> _Chunk:
    """Decode ``files`` into ``out[start : start + len(files)]`` (grayscale images repeated into RGB ones); each
    must be ``size`` (W, H) like ``reference``. A chunk holding colour images while ``out`` is grayscale writes
    nothing and says so."""
    width, height = size
    bands: dict[str, Image.Image] = {}  # per mode, one image of every file's pixels, a band of ``height`` rows each
    modes: list[str] = []  # each file's band, or "" for one Pillow decoded by itself
    alone: dict[int, np.ndarray] = {}
    digests, stamps = [], []
    for i, path in enumerate(files):
        data, stamp = _read(path)
        digests.append(hashlib.sha256(data).digest())
        stamps.append(stamp)
        png = parse_png(data)
        if png is not None:
            mode, png_size, idat = png
            _check_size(png_size, size, path, reference)
            band = bands.get(mode)
            if band is None:
                band = bands[mode] = Image.new(mode, (width, height * len(files)))
            if _decode_into_band(band, idat, i * height, height):
                modes.append(mode)
                continue
        pixels = _decode_any(data, path)
        _check_size(pixels.shape[1::-1], size, path, reference)
        alone[i] = pixels
        modes.append("")
    colour = "RGB" in bands or any(p.shape[2] == 3 for p in alone.values())
    if colour and out.shape[1] == 1:
        return _Chunk(digests, stamps, np.zeros(256, dtype=np.int64), colour=True)
    if len(bands) == 1 and not alone:
        pixels = _band_pixels(next(iter(bands.values())), len(files), size)
    else:
        pixels = np.empty((len(files), height, width, 3 if colour else 1), dtype=np.uint8)
        for mode, band in bands.items():
            rows = [i for i, m in enumerate(modes) if m == mode]
            pixels[rows] = _band_pixels(band, len(files), size)[rows]
        for i, single in alone.items():
            pixels[i] = single
    out[start : start + len(files)] = pixels.transpose(0, 3, 1, 2)  # a gray chunk broadcasts into RGB
    return _Chunk(digests, stamps, histogram(pixels) * (out.shape[1] // pixels.shape[3]))


def histogram(pixels: np.ndarray) -> np.ndarray:
    """Counts of the 256 values of uint8 ``pixels`` (by pairs of bytes: twice as fast as a bincount of bytes)."""
    flat = pixels.reshape(-1)
    pairs = np.bincount(flat[: len(flat) // 2 * 2].view(np.uint16), minlength=65536).reshape(256, 256)
    counts = pairs.sum(axis=0) + pairs.sum(axis=1)  # low byte (the first of a pair) and high byte
    if len(flat) % 2:
        counts[flat[-1]] += 1
    return counts


def decode_file(path: str | Path) -> np.ndarray:
    """One image as a C×H×W uint8 array (C=1 for grayscale, 3 for colour)."""
    data, _ = _read(path)
    pixels = decode_png(data)
    return (pixels if pixels is not None else _decode_any(data, path)).transpose(2, 0, 1)


def decode_png(data: bytes) -> np.ndarray | None:
    """A PNG that :func:`parse_png` takes, as an H×W×C array (C=1 or 3); None for anything else, which
    :func:`_decode_any` then decodes (or rejects) as Pillow does."""
    png = parse_png(data)
    if png is None:
        return None
    mode, size, idat = png
    image = Image.new(mode, size)
    if not _decode_into_band(image, idat, 0, size[1]):
        return None
    return _band_pixels(image, 1, size)[0]


def parse_png(data: bytes) -> tuple[str, tuple[int, int], bytes] | None:
    """The mode, size (W, H) and compressed pixels of an 8-bit grayscale or RGB, non-interlaced, still PNG whose
    chunks all check out (CRC); None for anything else."""
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
    return (mode, (width, height), b"".join(idat)) if idat else None


def _decode_into_band(image: Image.Image, idat: bytes, top: int, rows: int) -> bool:
    """Inflate and unfilter ``idat`` into ``rows`` rows of ``image`` from ``top`` on (as :meth:`Image.frombytes`
    does with the zip decoder); False if the data is short or does not decode."""
    decoder = Image._getdecoder(image.mode, "zip", image.mode)
    decoder.setimage(image.im, (0, top, image.width, top + rows))
    consumed, error = decoder.decode(idat)
    return consumed < 0 and error == 0


def _band_pixels(image: Image.Image, count: int, size: tuple[int, int]) -> np.ndarray:
    """The pixels of an image of ``count`` bands of ``size`` (W, H), as count×H×W×C."""
    width, height = size
    return np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(count, height, width, -1)


def _check_size(found: tuple[int, int], size: tuple[int, int], path: str | Path, reference: str | Path) -> None:
    if found != size:
        (w, h), (w0, h0) = found, size
        raise DataError(
            f"{path}: image is {w}x{h} but {reference} is {w0}x{h0}; all images must share one size: "
            "resize them all to one size (e.g. Pillow's Image.resize)"
        )


def _decode_any(data: bytes, path: str | Path) -> np.ndarray:
    """Any image Pillow reads, as H×W×1 (grayscale) or H×W×3 (everything else, converted to RGB)."""
    image = _open(data, path)
    mode = "L" if image.mode in GRAY_MODES else "RGB"
    pixels = np.asarray(image if image.mode == mode else image.convert(mode))
    return pixels[:, :, None] if mode == "L" else pixels


def _read(path: str | Path) -> tuple[bytes, Stamp]:
    """The bytes of ``path`` and its (size, mtime in ns) from the open file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            info = os.fstat(fd)
            data = b""
            while part := os.read(fd, max(info.st_size - len(data), 0) + 65536):
                data += part
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({one_line(exc)}); check its permissions or delete it") from exc
    return data, (info.st_size, info.st_mtime_ns)


def _open(data: bytes, path: str | Path) -> Image.Image:
    """``data`` (the bytes of ``path``) decoded fully (so a truncated file shows here), or a :class:`DataError`
    naming the file."""
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "Pillow cannot identify its format" if isinstance(exc, UnidentifiedImageError) else one_line(exc)
        raise DataError(
            f"{path}: is not a readable PNG/JPEG image ({reason}); replace it with a valid image or delete it"
        ) from exc
    try:
        with image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"{path}: image is truncated or corrupt ({one_line(exc)}); replace it with a complete copy or delete it"
        ) from exc
    return image
