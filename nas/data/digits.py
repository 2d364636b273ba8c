"""Export scikit-learn's bundled digits (no download) as a data folder of class sub-folders of PNGs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from nas.data.spec import SPEC_FILE

DIGITS_SPEC = """\
# scikit-learn's bundled handwritten digits (load_digits): 1797 8x8 grayscale images, 10 classes.
name: digits
task_type: classification
split:
  val: 0.15
  test: 0.15
  seed: 0
"""


def export_digits(folder: Path | str) -> Path:
    """Write ``folder/<digit>/img_<index>.png`` (8×8 grayscale, 0..16 scaled to 0..255) and a dataset.yaml.

    Byte-deterministic: the same files every time, so the folder's DVC hash is reproducible. Files already
    holding the right bytes are left untouched; nothing else in ``folder`` is removed. Returns ``folder``.
    """
    from sklearn.datasets import load_digits  # scikit-learn is only needed here; keep `import nas.data` light

    folder = Path(folder)
    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)
    for index, (image, target) in enumerate(zip(pixels, digits.target)):
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG")
        _write(folder / str(int(target)) / f"img_{index:04d}.png", buffer.getvalue())
    _write(folder / SPEC_FILE, DIGITS_SPEC.encode())
    return folder


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` unless it already holds exactly those bytes."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
