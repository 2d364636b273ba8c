"""Load a data folder: detect its format, read and validate it, split it, hash it, describe it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from nas.data.dataset import Dataset
from nas.data.images import is_image, read_images
from nas.data.meta import content_hash, meta_features
from nas.data.samples import Samples
from nas.data.spec import SPEC_FILE, DatasetSpec, read_spec
from nas.data.splits import assign_splits
from nas.data.tables import read_csv, read_npz
from nas.errors import DataError

FORMATS_HELP = "class sub-folders of PNG/JPEG images, one CSV with a label column, or one .npz with x and y arrays"


def load_data_folder(folder: Path | str, name: str | None = None, cache: Path | None = None,
                     memory_mb: float = math.inf, defer_cache: bool = False) -> Dataset:
    """Load ``folder`` into memory; ``name`` defaults to dataset.yaml's ``name``, then the folder's name.

    Decoded images are cached in the folder ``cache`` when given (read back while the files are unchanged); image
    pixels larger than ``memory_mb`` are memory-mapped from that cache instead of read into memory. With
    ``defer_cache`` a new in-memory entry is written only by :meth:`Dataset.save_cache` (so a command that stops
    on a bad setting after loading the data writes nothing).

    Raises :class:`DataError` with one line naming the file (and row), the problem and the fix.
    """
    folder = Path(folder)
    if folder.is_file():
        raise DataError(f"{folder}: is a file, not a data folder; pass the folder that holds it ({folder.parent})")
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found; create it with {FORMATS_HELP}")
    spec = read_spec(folder)
    samples = _read(folder, spec, cache, memory_mb, defer_cache)
    splits = assign_splits(samples.split_keys, spec.val, spec.test, spec.seed)
    _check_splits(spec, folder, splits)
    files = samples.files + ([SPEC_FILE] if spec.path else [])
    as_tensor = {split: torch.from_numpy(idx) for split, idx in splits.items()}
    return Dataset(
        name=name or spec.name or folder.resolve().name,
        task_type=spec.task_type,
        x=torch.from_numpy(samples.x),
        y=torch.from_numpy(samples.y),
        classes=samples.classes,
        sample_ids=samples.sample_ids,
        train_idx=as_tensor["train"],
        val_idx=as_tensor["val"],
        test_idx=as_tensor["test"],
        content_hash=samples.content_hash or content_hash(folder, files),
        meta=meta_features(samples.x, samples.y, samples.classes, spec.task_type, samples.format, splits,
                           samples.histogram),
        path=folder,
        pending_cache=samples.save_cache,
    )


def _read(folder: Path, spec: DatasetSpec, cache: Path | None, memory_mb: float, defer_cache: bool) -> Samples:
    """Detect which one format ``folder`` holds and read it."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    found = {
        "class folders": [p for p in entries if p.is_dir()],
        "CSV files": [p for p in entries if p.is_file() and p.suffix.lower() == ".csv"],
        ".npz files": [p for p in entries if p.is_file() and p.suffix.lower() == ".npz"],
    }
    present = {kind: paths for kind, paths in found.items() if paths}
    if len(present) > 1:
        listing = "; ".join(f"{kind}: {', '.join(p.name for p in paths)}" for kind, paths in present.items())
        raise DataError(f"{folder}: holds more than one data format ({listing}); keep only one: {FORMATS_HELP}")
    if not present:
        loose = [p.name for p in entries if p.is_file() and is_image(p)]
        if loose:
            raise DataError(
                f"{folder}: {len(loose)} image(s) (e.g. {loose[0]}) lie directly in the folder; "
                f"move them into one sub-folder per class, e.g. {folder}/<class>/{loose[0]}"
            )
        raise DataError(f"{folder}: no data found; add {FORMATS_HELP}")
    ((kind, paths),) = present.items()
    if kind == "class folders":
        return read_images(folder, paths, spec, cache, memory_mb, defer_cache)
    if len(paths) > 1:
        raise DataError(
            f"{folder}: holds {len(paths)} {kind} ({', '.join(p.name for p in paths)}); merge them into one"
        )
    if kind == "CSV files":
        return read_csv(folder, paths[0], spec.label_column)
    return read_npz(folder, paths[0])


def _check_splits(spec: DatasetSpec, folder: Path, splits: dict[str, np.ndarray]) -> None:
    """Refuse a split that its fraction asks for but that came out empty (too few samples)."""
    wanted = {"train": True, "val": spec.val > 0, "test": spec.test > 0}
    for split, idx in splits.items():
        if wanted[split] and len(idx) == 0:
            total = sum(len(i) for i in splits.values())
            fix = (
                f"lower split.val and split.test in {SPEC_FILE}"
                if split == "train"
                else f"set split.{split}: 0 in {SPEC_FILE} to have no {split} split"
            )
            raise DataError(
                f"{spec.path or folder}: the {split} split of {total} samples is empty "
                f"(val={spec.val:g}, test={spec.test:g}, seed={spec.seed}); add samples, or {fix}"
            )
