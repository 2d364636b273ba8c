"""Image-folder loading: 50,000 generated 32×32×3 PNGs, nasflow's first load and cached reload against a plain PIL
loop.

The folder is generated once into ``benchmarks/.cache/`` (ignored by git; ``NASFLOW_BENCH_IMAGES`` sets another count)
and read once before any timing, so every side finds the files in the OS cache. The rounds alternate the order of the
sides, and each ratio is the median of the rounds' paired ratios. The baseline is the loop a user writes (open,
convert, stack into one uint8 array) over the file list, given for free; nasflow's first load also lists the folder,
stats and hashes every file, splits, computes the meta-features and writes the cache (into a fresh cache folder each
round; a folder with an outdated entry is stat'ed once more before decoding), and its pixels are checked against the
baseline's after the timing. The reload is timed up to one full pass over the returned pixels, since a cached array
comes back memory-mapped. Beside them: nasflow's decoding in one process and in a thread pool (the strategies it does
not use), on the same files.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.table import Figure, PartResult

COUNT_ENV = "NASFLOW_BENCH_IMAGES"
DEFAULT_COUNT, QUICK_COUNT = 50_000, 600
ROUNDS, QUICK_ROUNDS = 3, 1
FIRST_LOAD_TARGET, RELOAD_TARGET_S = 1.6, 1.5
CACHE = Path(__file__).resolve().parent / ".cache"


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


def generated_folder(count: int, root: Path = CACHE) -> tuple[Path, list[Path]]:
    """The folder of ``count`` PNGs under ``root``, written once (a ``done`` marker says it is complete)."""
    folder, done = root / f"pngs-{count}", root / f"pngs-{count}.done"
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("*\n")  # generated data: never in git
    if not done.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        files = write_folder(folder, count)
        done.write_text(f"{count}\n")
        return folder, files
    return folder, sorted(folder.rglob("*.png"))


def pil_loop(files: list[Path]) -> np.ndarray:
    """The loop a user writes: open, convert, stack."""
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


def thread_decode(files: list[Path]) -> np.ndarray:
    """nasflow's chunks decoded by a thread pool instead of processes (for comparison)."""
    from nas.data.decode import CHUNK_FILES, available_cores, decode_chunk, in_memory

    out = in_memory((len(files), 3, 32, 32))
    starts = range(0, len(files), CHUNK_FILES)
    with ThreadPoolExecutor(available_cores()) as pool:
        list(pool.map(lambda s: decode_chunk(out, files[s : s + CHUNK_FILES], s, files[0], (32, 32)), starts))
    return out


def serial_decode(files: list[Path]) -> np.ndarray:
    """nasflow's decoding in this process only."""
    from nas.data.decode import decode_images

    return decode_images(files, workers=1).pixels


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(quick: bool = False) -> PartResult:
    from nas.data import load_data_folder
    from nas.data.decode import PARALLEL_MIN_FILES, available_cores, decode_images

    count = QUICK_COUNT if quick else int(os.environ.get(COUNT_ENV, DEFAULT_COUNT))
    rounds = QUICK_ROUNDS if quick else ROUNDS
    with tempfile.TemporaryDirectory(prefix="nasflow-bench-images-") as tmp:
        folder, files = generated_folder(count, Path(tmp) if quick else CACHE)
        for path in files:  # into the OS cache, for every side alike
            path.read_bytes()
        pixels = pil_loop(files)
        cache = Path(tmp) / "cache"

        first_loads: list[np.ndarray] = []

        def first_load() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            first_loads[:] = [load_data_folder(folder, None, cache).x.numpy()]  # checked after the timing

        def reload() -> None:
            int(load_data_folder(folder, None, cache).x.max())  # every page of the memory-mapped array read

        few = files[:PARALLEL_MIN_FILES]
        sides: dict[str, Callable[[], object]] = {
            "pil": lambda: pil_loop(files), "first": first_load, "reload": reload,
            "serial": lambda: serial_decode(files), "threads": lambda: thread_decode(files),
            "few_serial": lambda: serial_decode(few), "few_processes": lambda: decode_images(few)}
        times: dict[str, list[float]] = {name: [] for name in sides}
        for r in range(rounds):
            for name in list(sides) if r % 2 == 0 else reversed(list(sides)):  # a reload finds the last round's cache
                times[name].append(seconds(sides[name]))
        assert np.array_equal(first_loads[0].transpose(0, 2, 3, 1), pixels)
        assert np.array_equal(load_data_folder(folder, None, cache).x.numpy().transpose(0, 2, 3, 1), pixels)
    cores, pil = available_cores(), times["pil"]

    def speedup(name: str, baseline: str = "pil") -> float:
        return statistics.median(p / t for p, t in zip(times[baseline], times[name]))

    size = f"{count:,} PNGs 32×32×3 (random pixels), {cores} core(s), median of {rounds} round(s)"
    figures = [
        Figure("image folder first load: nasflow vs PIL loop", count / statistics.median(times["first"]), "images/s",
               baseline=count / statistics.median(pil), baseline_name="plain PIL loop", target=FIRST_LOAD_TARGET,
               target_on="ratio", decimals=0, paired_ratio=speedup("first"),
               note=f"{size}; load_data_folder: list, decode (processes from {PARALLEL_MIN_FILES:,} files), "
                    "sha256 of every file, splits, meta-features, cache write"),
        Figure("image decode in one process vs PIL loop", count / statistics.median(times["serial"]), "images/s",
               baseline=count / statistics.median(pil), baseline_name="plain PIL loop", decimals=0,
               paired_ratio=speedup("serial"), note=f"{size}; nas.data.decode.decode_images(workers=1)"),
        Figure("image decode in a thread pool vs PIL loop", count / statistics.median(times["threads"]), "images/s",
               baseline=count / statistics.median(pil), baseline_name="plain PIL loop", decimals=0,
               paired_ratio=speedup("threads"), note=f"{size}; nasflow's chunks, {cores} threads instead of processes"),
        Figure(f"image decode of {len(few):,} files: processes vs one process",
               len(few) / statistics.median(times["few_processes"]), "images/s",
               baseline=len(few) / statistics.median(times["few_serial"]), baseline_name="one process", decimals=0,
               paired_ratio=speedup("few_processes", "few_serial"),
               note=f"decode_images of the first {len(few):,} files; nasflow starts {cores} processes from "
                    f"{PARALLEL_MIN_FILES:,} files: a ratio near 1× at that count says the threshold is right"),
        Figure("image folder cached reload", statistics.median(times["reload"]), "s",
               baseline=statistics.median(times["first"]), baseline_name="first load", target=RELOAD_TARGET_S,
               higher_is_better=False, note=f"{size}; load_data_folder from the cache, then one pass over the pixels"),
    ]
    return PartResult("images", figures, {"count": count, "cores": cores, "rounds": rounds,
                                          **{f"{name}_s": t for name, t in times.items()}})
