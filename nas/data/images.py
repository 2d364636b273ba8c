"""Class sub-folders of PNG/JPEG images: one folder per class, every image the same size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nas.data.samples import Samples, encode_labels
from nas.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})


def is_image(path: Path) -> bool:
    """True if ``path`` has a PNG/JPEG file name."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_images(folder: Path, class_dirs: list[Path]) -> Samples:
    """Decode every image under ``class_dirs`` into one N×C×H×W float32 array scaled to [0, 1].

    All images are converted to grayscale ("L", C=1) if every one is grayscale, else to RGB (C=3).
    """
    files, labels = _list_images(class_dirs)
    images = _decode_all(files)
    mode = "L" if all(image.mode in GRAY_MODES for image in images) else "RGB"
    width, height = images[0].size
    pixels = np.empty((len(files), height, width) + (() if mode == "L" else (3,)), dtype=np.uint8)
    for i, image in enumerate(images):
        pixels[i] = image if image.mode == mode else image.convert(mode)
    x = pixels.astype(np.float32) / 255.0
    x = x[:, None] if mode == "L" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    y, classes = encode_labels(labels, folder)
    ids = [path.relative_to(folder).as_posix() for path in files]
    return Samples("images", x, y, classes, ids, ids, ids)


def _list_images(class_dirs: list[Path]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    labels: list[str] = []
    for class_dir in sorted(class_dirs):
        found = []
        for path in sorted(class_dir.iterdir()):
            if path.name.startswith("."):
                continue
            if path.is_dir():
                raise DataError(
                    f"{path}: nested folders are not supported inside class folder '{class_dir.name}'; "
                    "move its images up into the class folder"
                )
            if not is_image(path):
                raise DataError(
                    f"{path}: is not a PNG/JPEG image ({', '.join(IMAGE_SUFFIXES)}); "
                    "convert it or move it out of the data folder"
                )
            found.append(path)
        if not found:
            raise DataError(
                f"{class_dir}: class folder '{class_dir.name}' is empty; add PNG/JPEG images to it or delete it"
            )
        files += found
        labels += [class_dir.name] * len(found)
    return files, labels


def _decode_all(files: list[Path]) -> list[Image.Image]:
    """Decode every image fully (so truncation shows here) and check that all share the first one's size."""
    images: list[Image.Image] = []
    for path in files:
        image = _decode(path)
        if images and image.size != images[0].size:
            (w, h), (w0, h0) = image.size, images[0].size
            raise DataError(
                f"{path}: image is {w}x{h} but {files[0]} is {w0}x{h0}; all images must share one size: "
                "resize them all to one size (e.g. Pillow's Image.resize)"
            )
        images.append(image)
    return images


def _decode(path: Path) -> Image.Image:
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
