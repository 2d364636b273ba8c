"""Image-folder loading: generated 32×32×3 PNGs, nasflow's first load and cached reload against a plain PIL loop.

The default count runs in about a minute on 2 cores; ``NASFLOW_BENCH_IMAGES=50000`` measures the issue's
CIFAR-size folder. Each load is timed from a cold start of its own (a fresh cache folder for the first load). A
thread-pool decode of the same chunks is reported beside the process pool, which is what nasflow uses.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.table import Figure, PartResult

COUNT_ENV = "NASFLOW_BENCH_IMAGES"
DEFAULT_COUNT, QUICK_COUNT = 10_000, 600
FIRST_LOAD_TARGET, RELOAD_TARGET_S = 1.6, 1.5


def write_folder(folder: Path, count: int, classes: int = 10) -> list[Path]:
    """``count`` random 32×32 RGB PNGs in ``classes`` class folders; returns the files in load order."""
    rng = np.random.default_rng(0)
    files = []
    for i in range(count):
        path = folder / f"c{i % classes}" / f"{i:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8), mode="RGB").save(path)
        files.append(path)
    return sorted(files)


def pil_loop(files: list[Path]) -> np.ndarray:
    """The loop a user writes: open, convert, stack."""
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


def thread_decode(files: list[Path]) -> np.ndarray:
    """nasflow's chunks decoded by a thread pool instead of processes (for comparison)."""
    from nas.data.decode import CHUNK_FILES, available_cores, decode_chunk

    chunks = [files[i : i + CHUNK_FILES] for i in range(0, len(files), CHUNK_FILES)]
    with ThreadPoolExecutor(available_cores()) as pool:
        return np.concatenate(list(pool.map(decode_chunk, chunks, [files[0]] * len(chunks),
                                            [(32, 32)] * len(chunks))))


def timed(fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def run(quick: bool = False) -> PartResult:
    from nas.data import load_data_folder
    from nas.data.decode import available_cores

    count = QUICK_COUNT if quick else int(os.environ.get(COUNT_ENV, DEFAULT_COUNT))
    with tempfile.TemporaryDirectory(prefix="nasflow-bench-images-") as tmp:
        folder, cache = Path(tmp) / "pngs", Path(tmp) / "cache"
        files = write_folder(folder, count)
        pil_s, pixels = timed(pil_loop, files)
        threads_s, _ = timed(thread_decode, files)
        first_s, first = timed(load_data_folder, folder, None, cache)
        reload_s, again = timed(load_data_folder, folder, None, cache)
        assert np.array_equal(again.x.numpy(), first.x.numpy())
        assert np.array_equal(first.x.numpy().transpose(0, 2, 3, 1), pixels)
    cores = available_cores()
    size = f"{count:,} PNGs 32×32×3, {cores} core(s)"
    figures = [
        Figure("image folder first load: nasflow vs PIL loop", count / first_s, "images/s", baseline=count / pil_s,
               baseline_name="plain PIL loop", target=FIRST_LOAD_TARGET, target_on="ratio", decimals=0,
               note=f"{size}; load_data_folder: processes from 2,048 files, hash, splits, cache write"),
        Figure("image decode in a thread pool vs PIL loop", count / threads_s, "images/s", baseline=count / pil_s,
               baseline_name="plain PIL loop", decimals=0,
               note=f"{size}; nasflow's chunks, threads instead of processes"),
        Figure("image folder cached reload", reload_s, "s", baseline=first_s, baseline_name="first load",
               target=RELOAD_TARGET_S, higher_is_better=False, note=f"{size}; the decoded array read from the cache"),
    ]
    return PartResult("images", figures, {"count": count, "cores": cores, "pil_s": pil_s, "threads_s": threads_s,
                                          "first_load_s": first_s, "reload_s": reload_s})
