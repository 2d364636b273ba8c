"""Every validation error is one DataError line naming the file (and row), the problem and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nas.data import DataError, load_data_folder


def _fails(folder: Path, *patterns: str) -> str:
    """Load ``folder``, expect a DataError matching every pattern (regex), return its one-line message."""
    with pytest.raises(DataError, match=patterns[0]) as info:
        load_data_folder(folder)
    message = str(info.value)
    assert "\n" not in message
    for pattern in patterns[1:]:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    return message


def at(path: Path) -> str:
    return re.escape(str(path))


# --- image folders -------------------------------------------------------------------------------


def test_empty_class_folder(image_folder):
    folder = image_folder()
    (folder / "bird").mkdir()
    _fails(folder, f"{at(folder / 'bird')}: class folder 'bird' is empty", "add PNG/JPEG images to it or delete it")


def test_unreadable_image(image_folder):
    folder = image_folder()
    (folder / "dog" / "broken.png").write_bytes(b"not an image at all")
    _fails(folder, f"{at(folder / 'dog' / 'broken.png')}: is not a readable PNG/JPEG image \\(Pillow cannot identify")


def test_truncated_image(image_folder):
    folder = image_folder(size=(64, 64))
    path = folder / "cat" / "noise.png"
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 64), dtype=np.uint8)
    Image.fromarray(noise, mode="L").save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _fails(folder, f"{at(path)}: image is truncated or corrupt", "replace it with a complete copy")


def test_images_of_different_sizes_name_the_odd_file_and_the_fix(image_folder, write_image):
    folder = image_folder(size=(6, 4))
    odd = write_image(folder / "dog" / "zz_big.png", size=(8, 8))
    _fails(folder, f"{at(odd)}: image is 8x8 but .*cat/img_000.png is 6x4", "resize them all to one size")


def test_non_image_file_in_a_class_folder(image_folder):
    folder = image_folder()
    (folder / "cat" / "notes.txt").write_text("hello")
    _fails(folder, f"{at(folder / 'cat' / 'notes.txt')}: is not a PNG/JPEG image", "move it out")


def test_nested_folder_in_a_class_folder(image_folder):
    folder = image_folder()
    (folder / "cat" / "more").mkdir()
    _fails(folder, f"{at(folder / 'cat' / 'more')}: nested folders are not supported", "move its images up")


def test_single_class_is_not_a_classification_task(image_folder):
    folder = image_folder({"cat": 30})
    _fails(folder, "found 1 class \\(cat\\); classification needs at least 2 classes")


# --- folder layout ------------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    _fails(tmp_path / "nope", f"{at(tmp_path / 'nope')}: data folder not found")


def test_folder_with_none_of_the_formats(tmp_path):
    (tmp_path / "README.md").write_text("hi")
    _fails(tmp_path, f"{at(tmp_path)}: no data found; add class sub-folders of PNG/JPEG images, one CSV")


def test_images_directly_in_the_folder_are_told_to_go_into_class_folders(tmp_path, write_image):
    write_image(tmp_path / "a.png")
    _fails(
        tmp_path, "1 image\\(s\\) \\(e.g. a.png\\) lie directly in the folder; move them into one sub-folder per class"
    )


def test_two_formats_in_one_folder(image_folder):
    folder = image_folder()
    (folder / "extra.csv").write_text("f,label\n1,a\n")
    _fails(folder, "holds more than one data format \\(class folders: cat, dog; CSV files: extra.csv\\); keep only one")


def test_two_csv_files(tmp_path):
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("f,label\n1,a\n")
    _fails(tmp_path, "holds 2 CSV files \\(a.csv, b.csv\\); merge them into one")


# --- CSV tables ---------------------------------------------------------------------------------

ROWS = [f"{i},{i % 3}" for i in range(40)]


def test_csv_missing_label_column_names_columns_found_and_label_column(csv_folder):
    folder = csv_folder("f,class", ROWS)
    _fails(
        folder,
        f"{at(folder / 'table.csv')}: no label column 'label' \\(columns found: 'f', 'class'\\)",
        "set label_column: <column> in dataset.yaml",
    )


def test_csv_label_column_from_yaml_must_exist_too(csv_folder):
    _fails(csv_folder("f,label", ROWS, spec="label_column: target\n"), "no label column 'target'")


def test_csv_non_numeric_feature_names_row_and_column(csv_folder):
    folder = csv_folder("f,g,label", ["1,2,a", "3,red,b"] + [f"{i},{i},a" for i in range(30)])
    _fails(
        folder,
        f"{at(folder / 'table.csv')}: row 2 \\(line 3\\), column 'g': value 'red' is not a number",
        "encode it as numbers or drop the column",
    )


@pytest.mark.parametrize("cell", ["NaN", "", "NA"])
def test_csv_nan_or_missing_value_names_row(csv_folder, cell):
    folder = csv_folder("f,g,label", ["1,2,a", "3,4,b", f"5,{cell},a"])
    _fails(folder, f"{at(folder / 'table.csv')}: row 3 \\(line 4\\), column 'g': missing or NaN value", "fill it in")


def test_csv_infinite_value(csv_folder):
    _fails(csv_folder("f,label", ["1,a", "inf,b"]), "row 2 \\(line 3\\), column 'f': value 'inf' is not finite")


def test_csv_row_with_wrong_number_of_values(csv_folder):
    _fails(csv_folder("f,g,label", ["1,2,a", "1,b"]), "row 2 \\(line 3\\) has 2 values but the header has 3 columns")


def test_csv_empty_label(csv_folder):
    _fails(csv_folder("f,label", ["1,a", "2, "]), "row 2 \\(line 3\\) has an empty 'label'; fill it in or drop the row")


def test_csv_without_rows_or_features(csv_folder):
    _fails(csv_folder("f,label", [], name="empty"), "has a header but no data rows")
    _fails(csv_folder("label", ["a", "b"], name="labels_only"), "has only the label column 'label'")


# --- npz ----------------------------------------------------------------------------------------


def _npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    np.savez(tmp_path / "data.npz", **arrays)
    return tmp_path / "data.npz"


def test_npz_without_x(tmp_path):
    path = _npz(tmp_path, features=np.zeros((4, 2)), y=np.arange(4))
    _fails(tmp_path, f"{at(path)}: has no array 'x' \\(arrays found: features, y\\)", "numpy.savez")


def test_npz_without_y(tmp_path):
    _npz(tmp_path, x=np.zeros((4, 2)))
    _fails(tmp_path, "has no array 'y' \\(arrays found: x\\)")


def test_npz_label_count_mismatch(tmp_path):
    _npz(tmp_path, x=np.zeros((4, 2)), y=np.arange(3))
    _fails(tmp_path, "'y' has shape \\[3\\] but 'x' has 4 rows; store one label per row")


def test_npz_non_numeric_x(tmp_path):
    _npz(tmp_path, x=np.array([["a", "b"]] * 4), y=np.arange(4))
    _fails(tmp_path, "'x' must be a numeric array")


def test_npz_nan_in_x_names_row(tmp_path):
    x = np.zeros((40, 2))
    x[7, 1] = np.nan
    _npz(tmp_path, x=x, y=np.arange(40) % 2)
    _fails(tmp_path, "x row 7 contains NaN or infinite values")


def test_npz_fractional_labels(tmp_path):
    _npz(tmp_path, x=np.zeros((4, 2)), y=np.array([0.5, 1, 0, 1]))
    _fails(tmp_path, "'y' holds non-integer numbers")


def test_corrupt_npz(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"garbage")
    _fails(tmp_path, f"{at(tmp_path / 'data.npz')}: is not a readable .npz file", "numpy.savez")


# --- dataset.yaml and splits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("labels: y\n", "unknown key 'labels'; allowed keys are name, task_type, label_column, split"),
        ("split: {val: 0.1, valid: 0.2}\n", "unknown key 'split.valid'; allowed keys are split.val, split.test"),
        ("split: {val: 1.5}\n", "split.val must be a fraction in \\[0, 1\\)"),
        ("split: {test: yes}\n", "split.test must be a fraction"),
        ("split: {val: 0.5, test: 0.5}\n", "split.val \\+ split.test = 1 leaves no training data"),
        ("split: {seed: one}\n", "split.seed must be an integer"),
        ("split: [0.1]\n", "'split' must be a mapping"),
        ("task_type: regression\n", "task_type 'regression' is not supported; use one of classification"),
        ("name: ''\n", "'name' must be a non-empty string"),
        ("- a\n- b\n", "must be a mapping of keys"),
        ("split: {val: [\n", "is not valid YAML"),
    ],
)
def test_bad_dataset_yaml(csv_folder, spec, pattern):
    folder = csv_folder("f,label", ROWS, spec=spec)
    _fails(folder, f"{at(folder / 'dataset.yaml')}: {pattern}")


def test_too_few_samples_for_a_split(csv_folder):
    folder = csv_folder("f,label", ["1,a", "2,b", "3,a"])
    _fails(folder, "split of 3 samples is empty", "add samples, or set split\\.(val|test): 0 in dataset.yaml")
