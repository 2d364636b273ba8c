"""Tabular formats: a CSV table with a label column, and an ``.npz`` with ``x`` and ``y`` arrays."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

from nas.data.samples import Samples, encode_labels, row_ids
from nas.errors import DataError

MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})


def read_csv(folder: Path, path: Path, label_column: str) -> Samples:
    """Read a CSV with a header row: ``label_column`` holds the class, every other column a numeric feature."""
    try:
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        header = [name.strip() for name in next(reader, [])]
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: is not a readable UTF-8 CSV file ({exc}); save it as UTF-8 CSV") from exc
    if label_column not in header:
        found = ", ".join(f"'{name}'" for name in header) or "none"
        raise DataError(
            f"{path}: no label column '{label_column}' (columns found: {found}); "
            f"name the label column '{label_column}' or set label_column: <column> in dataset.yaml"
        )
    if len(header) < 2:
        raise DataError(f"{path}: has only the label column '{label_column}'; add at least one feature column")
    if not rows:
        raise DataError(f"{path}: has a header but no data rows; add rows below the header")
    label_at = header.index(label_column)
    features = [i for i in range(len(header)) if i != label_at]
    for n, (row, line) in enumerate(zip(rows, lines), start=1):
        if len(row) != len(header):
            raise DataError(
                f"{path}: row {n} (line {line}) has {len(row)} values but the header has {len(header)} columns; "
                "give every row one value per column"
            )
        if not row[label_at].strip():
            raise DataError(f"{path}: row {n} (line {line}) has an empty '{label_column}'; fill it in or drop the row")
    x = _parse_features(path, rows, lines, [header[i] for i in features], features)
    y, classes = encode_labels([row[label_at].strip() for row in rows], path)
    ids, keys = row_ids(x)
    return Samples("csv", x.astype(np.float32), y, classes, ids, keys, [path.name])


def _parse_features(
    path: Path, rows: list[list[str]], lines: list[int], names: list[str], cols: list[int]
) -> np.ndarray:
    """Parse the feature cells to float64; on failure name the first bad cell's row and column."""
    cells = [[row[i].strip() for i in cols] for row in rows]
    try:
        x = np.array(cells, dtype=np.float64)
        if np.isfinite(x).all():
            return x
    except ValueError:
        pass
    for n, (row, line) in enumerate(zip(cells, lines), start=1):
        for name, cell in zip(names, row):
            where = f"{path}: row {n} (line {line}), column '{name}'"
            if cell.lower() in MISSING:
                raise DataError(f"{where}: missing or NaN value; fill it in or drop the row")
            try:
                value = float(cell)
            except ValueError as exc:
                raise DataError(
                    f"{where}: value {cell!r} is not a number; every feature must be numeric: "
                    "encode it as numbers or drop the column"
                ) from exc
            if not np.isfinite(value):
                raise DataError(f"{where}: value {cell!r} is not finite; replace it with a finite number")
    raise AssertionError("unreachable: a bad cell was expected")  # pragma: no cover


def read_npz(folder: Path, path: Path) -> Samples:
    """Read ``x`` (N×F table, N×H×W or N×C×H×W images; uint8 stays uint8, other numbers become float32) and ``y``
    (N labels)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name in ("x", "y")}
            found = list(data.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: is not a readable .npz file (expected numeric arrays zipped by numpy.savez); "
            "write it with numpy.savez(path, x=features, y=labels)"
        ) from exc
    for name in ("x", "y"):
        if name not in arrays:
            raise DataError(
                f"{path}: has no array '{name}' (arrays found: {', '.join(found) or 'none'}); "
                "save it with numpy.savez(path, x=features, y=labels)"
            )
    x, labels = arrays["x"], arrays["y"]
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3, 4):
        raise DataError(
            f"{path}: 'x' must be a numeric array of shape N×F, N×H×W or N×C×H×W; got {x.dtype} {list(x.shape)}"
        )
    if labels.ndim != 1 or len(labels) != len(x):
        raise DataError(
            f"{path}: 'y' has shape {list(labels.shape)} but 'x' has {len(x)} rows; store one label per row of 'x'"
        )
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.dtype.kind == "f" else np.zeros(len(x), bool)
    if bad.any():
        raise DataError(f"{path}: x row {int(np.argmax(bad))} contains NaN or infinite values; clean or drop that row")
    ids, keys = row_ids(x)
    y, classes = encode_labels(_label_strings(path, labels), path)
    values = x if x.dtype == np.uint8 else x.astype(np.float32)
    return Samples("npz", values[:, None] if x.ndim == 3 else values, y, classes, ids, keys, [path.name])


def _label_strings(path: Path, labels: np.ndarray) -> list[str]:
    if labels.dtype.kind in "iu":
        return [str(int(v)) for v in labels]
    if labels.dtype.kind == "f":
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise DataError(f"{path}: 'y' holds non-integer numbers; store class labels as integers or strings")
        return [str(int(v)) for v in labels]
    if labels.dtype.kind in "USb":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in labels.tolist()]
    raise DataError(f"{path}: 'y' has unsupported dtype {labels.dtype}; store class labels as integers or strings")
