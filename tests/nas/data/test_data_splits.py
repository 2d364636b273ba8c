"""Splits are decided per sample by a hash of (seed, sample id): deterministic and stable as data grows."""

from __future__ import annotations

import random

import pytest

from nas.data import Dataset, assign_splits, load_data_folder


def split_of(ds: Dataset) -> dict[str, str]:
    """Sample id → the split it is in."""
    return {ds.sample_ids[int(i)]: name for name in ("train", "val", "test") for i in getattr(ds, f"{name}_idx")}


def test_default_fractions_give_roughly_70_15_15():
    parts = assign_splits([f"sample_{i}.png" for i in range(20_000)], val=0.15, test=0.15, seed=0)
    shares = {name: len(idx) / 20_000 for name, idx in parts.items()}
    assert shares["train"] == pytest.approx(0.70, abs=0.015)
    assert shares["val"] == pytest.approx(0.15, abs=0.015)
    assert shares["test"] == pytest.approx(0.15, abs=0.015)


def test_splits_partition_the_samples_and_depend_on_the_seed():
    keys = [f"k{i}" for i in range(500)]
    parts = assign_splits(keys, val=0.2, test=0.1, seed=0)
    assert sorted(i for idx in parts.values() for i in idx.tolist()) == list(range(500))
    assert assign_splits(keys, 0.2, 0.1, 0)["test"].tolist() == parts["test"].tolist()
    assert assign_splits(keys, 0.2, 0.1, 1)["test"].tolist() != parts["test"].tolist()


def test_loading_twice_gives_identical_splits(image_folder):
    folder = image_folder({"a": 30, "b": 30})
    first, second = load_data_folder(folder), load_data_folder(folder)
    for name in ("train_idx", "val_idx", "test_idx"):
        assert getattr(first, name).tolist() == getattr(second, name).tolist()


def test_added_images_leave_existing_samples_in_their_split(image_folder, write_image):
    folder = image_folder({"a": 30, "b": 30})
    before = split_of(load_data_folder(folder))
    for label in ("a", "b", "c"):  # more images in old classes and a whole new class
        for i in range(30, 60):
            write_image(folder / label / f"img_{i:03d}.png", value=i)
    after = split_of(load_data_folder(folder))
    assert len(after) == 60 + 90
    assert {sid: after[sid] for sid in before} == before
    assert {"train", "val", "test"} == set(after.values())


def test_added_and_reordered_csv_rows_keep_their_split(csv_folder):
    rows = [f"{i},{i * i % 7},{'ab'[i % 2]}" for i in range(60)]
    before = load_data_folder(csv_folder("f,g,label", rows))
    more = rows + [f"{i},{i % 5},{'abc'[i % 3]}" for i in range(100, 160)]
    random.Random(1).shuffle(more)
    after = load_data_folder(csv_folder("f,g,label", more))
    old, new = split_of(before), split_of(after)
    assert {sid: new[sid] for sid in old} == old
    assert len(new) == 120


def test_split_fractions_and_seed_come_from_dataset_yaml(csv_folder):
    rows = [f"{i},{'ab'[i % 2]}" for i in range(400)]
    ds = load_data_folder(csv_folder("f,label", rows, spec="split: {val: 0.3, test: 0, seed: 7}\n"))
    assert len(ds.test_idx) == 0
    assert len(ds.val_idx) / 400 == pytest.approx(0.3, abs=0.06)
    assert ds.meta["split_sizes"] == {"train": len(ds.train_idx), "val": len(ds.val_idx), "test": 0}
