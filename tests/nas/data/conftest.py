"""Small data folders written for real under tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _write_image(path: Path, value: int = 128, size: tuple[int, int] = (6, 4), mode: str = "L") -> Path:
    """Write one flat image of ``value`` (every channel) as PNG or JPEG, by the path's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"L": (), "RGB": (3,)}[mode]
    pixels = np.full((size[1], size[0]) + channels, value, dtype=np.uint8)
    Image.fromarray(pixels, mode=mode).save(path)
    return path


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """``write_image(path, value=128, size=(6, 4), mode="L")``: one flat PNG/JPEG image, by the path's suffix."""
    return _write_image


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Build ``tmp_path/<name>/<class>/img_<i>.png`` with ``counts[class]`` images, pixel value 10·i mod 256."""

    def build(counts: dict[str, int] | None = None, name: str = "shapes", **image_kw) -> Path:
        folder = tmp_path / name
        for label, n in (counts or {"cat": 6, "dog": 4}).items():
            for i in range(n):
                _write_image(folder / label / f"img_{i:03d}.png", value=10 * i % 256, **image_kw)
        return folder

    return build


@pytest.fixture
def csv_folder(tmp_path: Path) -> Callable[..., Path]:
    """Build ``tmp_path/<name>/table.csv`` from a header line and row lines (and an optional dataset.yaml)."""

    def build(header: str, rows: list[str], spec: str | None = None, name: str = "table") -> Path:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        (folder / "table.csv").write_text("\n".join([header, *rows]) + "\n")
        if spec is not None:
            (folder / "dataset.yaml").write_text(spec)
        return folder

    return build

