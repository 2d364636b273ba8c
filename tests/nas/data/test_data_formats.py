"""Each data-folder format loads into the same Dataset shape."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.data import Dataset, load_data_folder


def test_grayscale_image_folder_loads_as_n_1_h_w_uint8_pixels(image_folder):
    ds = load_data_folder(image_folder({"cat": 6, "dog": 4}, size=(6, 4)))
    assert isinstance(ds, Dataset)
    assert ds.name == "shapes" and ds.task_type == "classification"
    assert ds.x.dtype == torch.uint8 and ds.y.dtype == torch.int64
    assert ds.x.shape == (10, 1, 4, 6) and ds.input_shape == (1, 4, 6)
    assert ds.classes == ["cat", "dog"] and ds.n_classes == 2
    assert ds.y.tolist() == [0] * 6 + [1] * 4
    assert ds.sample_ids[0] == "cat/img_000.png" and ds.sample_ids[-1] == "dog/img_003.png"
    assert torch.equal(ds.x[5], torch.full((1, 4, 6), 50, dtype=torch.uint8))


def test_mixed_gray_and_color_images_become_rgb(tmp_path, write_image):
    folder = tmp_path / "mixed"
    write_image(folder / "a" / "1.png", value=51)
    write_image(folder / "a" / "2.jpg", value=200, mode="RGB")
    write_image(folder / "b" / "3.jpeg", value=0, mode="RGB")
    (folder / "dataset.yaml").write_text("split: {val: 0, test: 0}\n")
    ds = load_data_folder(folder)
    assert ds.x.shape == (3, 3, 4, 6)
    assert torch.equal(ds.x[0], torch.full((3, 4, 6), 51, dtype=torch.uint8))
    assert abs(float(ds.x[1].float().mean()) - 200) < 5  # JPEG is lossy
    assert ds.sample_ids == ["a/1.png", "a/2.jpg", "b/3.jpeg"]


def test_hidden_files_are_ignored(image_folder):
    folder = image_folder()
    (folder / ".DS_Store").write_text("x")
    (folder / "cat" / ".thumbs").write_text("x")
    assert len(load_data_folder(folder).y) == 10


def test_csv_with_default_label_column(csv_folder):
    rows = [f"{i},{i * 0.5},{'yes' if i % 2 else 'no'}" for i in range(40)]
    ds = load_data_folder(csv_folder("a,b,label", rows))
    assert ds.x.shape == (40, 2) and ds.x.dtype == torch.float32
    assert ds.x[3].tolist() == [3.0, 1.5]  # raw values, not standardized
    assert ds.classes == ["no", "yes"] and ds.y[:3].tolist() == [0, 1, 0]
    assert ds.meta["n_features"] == 2 and ds.meta["modality"] == "table"
    assert all(sid.startswith("row:") for sid in ds.sample_ids)


def test_csv_label_column_from_dataset_yaml_and_numeric_classes_sorted_numerically(csv_folder):
    rows = [f"{i % 12},{i}" for i in range(24)]
    ds = load_data_folder(csv_folder("target,f", rows, spec="label_column: target\nname: clocks\n"))
    assert ds.name == "clocks"
    assert ds.classes == [str(i) for i in range(12)]  # "10" after "9", not after "1"
    assert ds.y.tolist() == [i % 12 for i in range(24)]
    assert ds.x[:, 0].tolist() == [float(i) for i in range(24)]


def test_duplicate_csv_rows_get_distinct_ids_and_share_a_split(csv_folder):
    ds = load_data_folder(csv_folder("f,label", ["1,a", "1,a", "1,b"] + [f"{i},{'ab'[i % 2]}" for i in range(2, 30)]))
    assert ds.sample_ids[0] != ds.sample_ids[1] and ds.sample_ids[1].endswith("#2")
    split_of = {int(i): name for name in ("train", "val", "test") for i in getattr(ds, f"{name}_idx")}
    assert split_of[0] == split_of[1] == split_of[2]


def test_npz_table(tmp_path):
    folder = tmp_path / "npz_table"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), np.arange(40) % 3
    np.savez(folder / "data.npz", x=x, y=y)
    ds = load_data_folder(folder, name="custom")
    assert ds.name == "custom"
    assert ds.x.shape == (40, 5) and torch.allclose(ds.x, torch.from_numpy(x).float())
    assert ds.y.tolist() == y.tolist() and ds.classes == ["0", "1", "2"]
    assert ds.meta["format"] == "npz"


def test_npz_uint8_images_get_a_channel_and_stay_uint8(tmp_path):
    folder = tmp_path / "npz_images"
    folder.mkdir()
    x = np.tile(np.arange(40, dtype=np.uint8)[:, None, None], (1, 5, 7)) * 6
    np.savez(folder / "images.npz", x=x, y=np.array(["odd", "even"] * 20))
    ds = load_data_folder(folder)
    assert ds.x.shape == (40, 1, 5, 7) and ds.input_shape == (1, 5, 7)
    assert ds.x.dtype == torch.uint8 and int(ds.x.max()) == 234
    assert ds.classes == ["even", "odd"] and ds.y[:2].tolist() == [1, 0]
    assert ds.meta["modality"] == "image" and ds.meta["n_features"] == 35


def test_split_returns_tensors_of_each_part(image_folder):
    ds = load_data_folder(image_folder({"a": 20, "b": 20}))
    x_tr, _ = ds.split("train")
    x_tv, _ = ds.split("trainval")
    x_te, y_te = ds.split("test")
    assert len(x_tr) == len(ds.train_idx) and len(y_te) == len(ds.test_idx)
    assert len(x_tv) == len(ds.train_idx) + len(ds.val_idx)
    assert torch.equal(x_te, ds.x[ds.test_idx])
    all_idx = torch.cat([ds.train_idx, ds.val_idx, ds.test_idx]).sort().values
    assert all_idx.tolist() == list(range(40))
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        ds.split("dev")


def test_content_hash_depends_on_bytes_and_names_not_mtime(image_folder, write_image):
    folder = image_folder({"cat": 20, "dog": 20})
    first = load_data_folder(folder).content_hash
    os.utime(folder / "cat" / "img_000.png", (1, 1))
    assert load_data_folder(folder).content_hash == first
    write_image(folder / "cat" / "img_000.png", value=99)
    changed = load_data_folder(folder).content_hash
    assert changed != first
    (folder / "cat" / "img_000.png").rename(folder / "cat" / "img_zzz.png")
    assert load_data_folder(folder).content_hash not in (first, changed)
    renamed = load_data_folder(folder).content_hash
    (folder / "dataset.yaml").write_text("split: {seed: 3}\n")
    assert load_data_folder(folder).content_hash != renamed  # dataset.yaml is part of the data


def test_name_defaults_to_folder_name_even_for_a_relative_dot(image_folder, monkeypatch):
    folder = image_folder(name="pets")
    monkeypatch.chdir(folder)
    assert load_data_folder(Path(".")).name == "pets"
