"""The embedded default: scikit-learn's digits exported as a byte-deterministic folder, loaded fast."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from nas.data import export_digits, load_data_folder


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_is_byte_deterministic(digits_folder, tmp_path):
    again = export_digits(tmp_path / "again")
    first, second = folder_bytes(digits_folder), folder_bytes(again)
    assert len(first) == 1797 + 1 and "dataset.yaml" in first and "3/img_0003.png" in first
    assert first == second
    assert load_data_folder(again).content_hash == load_data_folder(digits_folder).content_hash


def test_re_export_leaves_identical_files_untouched(tmp_path):
    folder = export_digits(tmp_path / "digits")
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")}
    export_digits(folder)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")} == stamps


def test_digits_load_matches_scikit_learn(digits_folder):
    ds = load_data_folder(digits_folder)
    digits = load_digits()
    index = [int(sid.split("_")[1].removesuffix(".png")) for sid in ds.sample_ids]
    assert ds.name == "digits" and ds.input_shape == (1, 8, 8) and ds.classes == [str(d) for d in range(10)]
    assert ds.y.numpy().tolist() == digits.target[index].tolist()
    assert ds.x.dtype == torch.uint8  # raw pixels: 0..16 scaled to 0..255 by export_digits
    assert np.abs(ds.x.numpy()[:, 0] / 255 - digits.images[index] / 16).max() <= 0.5 / 255 + 1e-6


def test_digits_meta_features(digits_folder):
    ds = load_data_folder(digits_folder)
    counts = np.bincount(load_digits().target)
    x = ds.x.numpy().astype(np.float64) / 255  # meta-features see pixels on the [0, 1] scale
    meta = ds.meta
    assert meta["n_samples"] == 1797 and meta["n_classes"] == 10 == ds.n_classes
    assert meta["input_shape"] == [1, 8, 8] and meta["n_features"] == 64
    assert meta["class_counts"] == {str(d): int(n) for d, n in enumerate(counts)}
    assert meta["class_balance"] == pytest.approx(counts.min() / counts.max())
    assert meta["x_mean"] == pytest.approx(x.mean()) and meta["x_std"] == pytest.approx(x.std())
    assert meta["task_type"] == "classification" and meta["modality"] == "image" and meta["format"] == "images"
    sizes = meta["split_sizes"]
    assert sum(sizes.values()) == 1797
    assert sizes["train"] / 1797 == pytest.approx(0.70, abs=0.03)
    assert sizes["val"] / 1797 == pytest.approx(0.15, abs=0.03)
    assert sizes["test"] / 1797 == pytest.approx(0.15, abs=0.03)


def test_meta_features_of_a_known_table(csv_folder):
    folder = csv_folder("f,label", ["0,a", "2,a", "4,a", "6,b"], spec="split: {val: 0, test: 0}\n")
    meta = load_data_folder(folder).meta
    assert meta["n_samples"] == 4 and meta["input_shape"] == [1] and meta["n_features"] == 1
    assert meta["class_counts"] == {"a": 3, "b": 1} and meta["class_balance"] == pytest.approx(1 / 3)
    assert meta["x_mean"] == pytest.approx(3.0) and meta["x_std"] == pytest.approx(math.sqrt(5))
    assert meta["split_sizes"] == {"train": 4, "val": 0, "test": 0} and meta["modality"] == "table"
