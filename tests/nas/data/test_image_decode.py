"""The direct PNG decoder gives exactly Pillow's pixels for the PNGs it takes, and hands every other file to Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from nas.data import decode
from nas.errors import DataError

RNG = np.random.default_rng(0)


def noise(mode: str, size: tuple[int, int] = (7, 5)) -> Image.Image:
    """Random pixels in ``mode`` (L, LA, RGB or RGBA)."""
    bands = len(mode)
    pixels = RNG.integers(0, 256, size=(size[1], size[0], bands), dtype=np.uint8)
    return Image.fromarray(pixels[:, :, 0] if bands == 1 else pixels)


def text_chunk() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "an ancillary chunk before the pixels")
    return info


# (label, image, save options, whether the direct decoder takes it)
CASES = [
    ("gray", noise("L"), {}, True),
    ("rgb", noise("RGB"), {}, True),
    ("rgb many IDAT chunks", noise("RGB", (300, 300)), {}, True),
    ("rgb text chunk", noise("RGB"), {"pnginfo": text_chunk()}, True),
    ("gray transparency", noise("L"), {"transparency": 3}, True),
    ("rgba", noise("RGBA"), {}, False),
    ("gray alpha", noise("LA"), {}, False),
    ("palette", noise("RGB").convert("P"), {}, False),
    ("bilevel", noise("L").convert("1"), {}, False),
    ("16-bit gray", noise("L").convert("I;16"), {}, False),
]


@pytest.mark.parametrize("label, image, options, direct", CASES, ids=[c[0] for c in CASES])
def test_decoded_pixels_equal_pillows(tmp_path: Path, label: str, image: Image.Image, options: dict,
                                      direct: bool) -> None:
    path = tmp_path / "image.png"
    image.save(path, **options)
    with Image.open(path) as opened:
        mode = "L" if opened.mode in decode.GRAY_MODES else "RGB"
        expected = np.asarray(opened.convert(mode)).reshape(opened.height, opened.width, -1)
    assert (decode.decode_png(path.read_bytes()) is not None) is direct, label
    assert np.array_equal(decode.decode_file(path), expected.transpose(2, 0, 1)), label


def test_a_png_that_does_not_check_out_goes_to_pillow_which_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad_crc.png"
    noise("RGB").save(path)
    data = bytearray(path.read_bytes())
    data[29] ^= 0xFF  # IHDR's CRC
    path.write_bytes(bytes(data))
    assert decode.decode_png(bytes(data)) is None
    with pytest.raises(DataError, match=r"bad_crc.png: is not a readable PNG/JPEG image \(Pillow cannot identify"):
        decode.decode_file(path)
    cut = tmp_path / "cut.png"
    noise("RGB", (64, 64)).save(cut)
    cut.write_bytes(cut.read_bytes()[:-200])  # inside the pixels
    assert decode.decode_png(cut.read_bytes()) is None
    with pytest.raises(DataError, match=r"cut.png: image is truncated or corrupt"):
        decode.decode_file(cut)
