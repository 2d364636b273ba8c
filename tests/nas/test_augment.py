"""Per-batch image augmentation with tensor ops: random crop with padding and horizontal flip."""

from __future__ import annotations

import pytest
import torch

from nas.augment import augment, auto_augment, crop, flip, parse_augment
from nas.training import TrainSettings, train


def test_crop_shifts_each_image_within_its_zero_padding() -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8) + 1.0  # no zeros: padding is recognisable
    out = crop(x, padding=2)
    assert out.shape == x.shape
    for original, cropped in zip(x, out):
        padded = torch.nn.functional.pad(original, (2,) * 4)
        windows = [padded[:, i : i + 8, j : j + 8] for i in range(5) for j in range(5)]
        assert any(torch.equal(cropped, w) for w in windows)
    assert not torch.equal(out, x)  # 16 images: some offset is not the centre


def test_flip_mirrors_about_half_the_images() -> None:
    torch.manual_seed(0)
    x = torch.rand(200, 1, 4, 4)
    out = flip(x)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    assert all(f or torch.equal(o, i) for f, o, i in zip(flipped, out, x))
    assert 60 < sum(flipped) < 140


def test_tables_are_never_augmented_and_names_are_checked() -> None:
    table = torch.rand(8, 5)
    assert augment(table, ("crop", "flip")) is table
    assert parse_augment("crop, flip") == ("crop", "flip") and parse_augment("none") == ()
    with pytest.raises(ValueError, match="unknown augmentation rotate; use none or a list of crop, flip"):
        parse_augment("flip,rotate")


def test_auto_is_off_for_grayscale_digits_and_tables_on_for_colour_images() -> None:
    assert auto_augment((1, 8, 8)) == "none"
    assert auto_augment((30,)) == "none"
    assert auto_augment((3, 32, 32)) == "crop,flip"


def test_training_with_augmentation_learns_on_cpu() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=g)
    x = torch.rand(256, 3, 8, 8, generator=g)
    x[torch.arange(256), y * 2] += 1.0  # the class is which of red and blue is brighter: crop and flip keep it
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(8, 2))
    settings = TrainSettings(epochs=5, batch_size=32, lr=0.02, device="cpu", augment="crop,flip")
    assert train(model, x, y, settings, x, y).final["val_accuracy"] >= 0.9
