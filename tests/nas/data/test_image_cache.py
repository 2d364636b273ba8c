"""Decoded image folders: cached under the workspace, re-decoded when files change, memory-mapped beyond a budget,
decoded in parallel chunks with the same result and the same first error as one process."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.data import decode, load_data_folder
from nas.data.cache import CacheWarning
from nas.errors import DataError


def cache_files(cache: Path, suffix: str) -> list[Path]:
    return sorted(cache.rglob(f"*{suffix}"))


def test_second_load_comes_from_the_cache_with_identical_tensors(image_folder, tmp_path: Path) -> None:
    folder, cache = image_folder({"cat": 12, "dog": 8}), tmp_path / "cache"
    first = load_data_folder(folder, cache=cache)
    assert len(cache_files(cache, ".npy")) == 1
    # same size and modification time, other bytes: only a cache hit still returns the old pixels
    image = folder / "cat" / "img_001.png"
    stat = image.stat()
    image.write_bytes(image.read_bytes()[::-1][: stat.st_size])
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = load_data_folder(folder, cache=cache)
    assert torch.equal(first.x, second.x) and torch.equal(first.y, second.y) and second.x.dtype == torch.uint8
    assert first.content_hash == second.content_hash and first.sample_ids == second.sample_ids
    assert first.meta == second.meta


def test_a_changed_or_added_file_is_decoded_again(image_folder, write_image, tmp_path: Path) -> None:
    folder, cache = image_folder({"cat": 6, "dog": 6}), tmp_path / "cache"
    before = load_data_folder(folder, cache=cache)
    changed = folder / "dog" / "img_002.png"
    write_image(changed, value=255)
    os.utime(changed, ns=(1, changed.stat().st_mtime_ns + 10**9))  # a new mtime even on a coarse clock
    write_image(folder / "dog" / "img_100.png", value=77)
    after = load_data_folder(folder, cache=cache)
    assert after.content_hash != before.content_hash and len(after.y) == 13
    assert int(after.x[after.sample_ids.index("dog/img_002.png")].unique()) == 255
    assert int(after.x[after.sample_ids.index("dog/img_100.png")].unique()) == 77
    assert torch.equal(after.x, load_data_folder(folder).x)  # the same as decoding without a cache
    assert len(cache_files(cache, ".npy")) == 1  # the folder keeps its latest entry only


def test_a_corrupt_cache_file_is_rebuilt_with_a_warning(image_folder, tmp_path: Path) -> None:
    folder, cache = image_folder(), tmp_path / "cache"
    fresh = load_data_folder(folder, cache=cache)
    fresh.x = fresh.x.clone()  # it maps the cache file, which the test overwrites in place
    (pixels,) = cache_files(cache, ".npy")
    pixels.write_bytes(pixels.read_bytes()[:100])  # cut short, as by a full disk
    with pytest.warns(CacheWarning, match=r"\.npy: the decoded-image cache is corrupt \(.*\); decoding the folder "
                                          r"again and rebuilding it"):
        rebuilt = load_data_folder(folder, cache=cache)
    assert torch.equal(rebuilt.x, fresh.x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert torch.equal(load_data_folder(folder, cache=cache).x, fresh.x)  # rebuilt: reads back cleanly


def test_data_above_the_memory_budget_is_memory_mapped_from_the_cache(image_folder, tmp_path: Path) -> None:
    folder, cache = image_folder({"cat": 30, "dog": 30}, size=(8, 8)), tmp_path / "cache"
    in_memory = load_data_folder(folder)
    for attempt in ("decoded", "cached"):
        streamed = load_data_folder(folder, cache=cache, memory_mb=0.001)
        (pixels,) = cache_files(cache, ".npy")
        assert any(str(pixels) in line for line in Path("/proc/self/maps").read_text().splitlines()), attempt
        # samples in split order: every split is one slice of the mapped file, not a copy
        for name in ("train", "val", "test", "trainval"):
            x, y = streamed.split(name)
            assert x.data_ptr() >= streamed.x.data_ptr() and x.data_ptr() < streamed.x.data_ptr() + streamed.x.numel()
            ids = [streamed.sample_ids[i] for i in streamed.indices(name)]
            if name != "trainval":  # each split keeps file order; trainval is train then val
                assert ids == sorted(ids, key=in_memory.sample_ids.index)
            assert torch.equal(x, in_memory.x[[in_memory.sample_ids.index(i) for i in ids]])
        assert streamed.content_hash == in_memory.content_hash


def test_parallel_chunks_match_one_process_and_widen_gray_to_rgb(tmp_path: Path, write_image, monkeypatch) -> None:
    files = [write_image(tmp_path / f"{i:02d}.png", value=i * 9, size=(5, 3)) for i in range(10)]
    files.append(write_image(tmp_path / "10.png", value=90, size=(5, 3), mode="RGB"))
    monkeypatch.setattr(decode, "CHUNK_FILES", 3)
    monkeypatch.setattr(decode, "PARALLEL_MIN_FILES", 1)
    serial, decoded = decode.decode_images(files, workers=1), decode.decode_images(files, workers=2)
    parallel = decoded.pixels
    assert parallel.shape == (11, 3, 3, 5) and parallel.dtype == np.uint8 and np.array_equal(serial.pixels, parallel)
    assert [np.unique(p).item() for p in parallel] == [i * 9 for i in range(11)]
    assert decoded.digests == serial.digests == [hashlib.sha256(f.read_bytes()).digest() for f in files]
    assert np.array_equal(decoded.histogram, np.bincount(parallel.reshape(-1), minlength=256))  # widened gray: ×3
    write_image(files[4], size=(4, 3))
    (tmp_path / "07.png").write_bytes(files[7].read_bytes()[:40])
    with pytest.raises(DataError, match=r"04.png: image is 4x3 but .*00.png is 5x3; all images must share one size"):
        decode.decode_images(files, workers=2)


def test_a_deferred_cache_entry_is_written_only_when_saved(image_folder, tmp_path: Path) -> None:
    folder, cache = image_folder({"cat": 12, "dog": 8}), tmp_path / "cache"
    data = load_data_folder(folder, cache=cache, defer_cache=True)
    assert cache_files(cache, ".npy") == []
    data.save_cache()
    data.save_cache()  # once only
    assert len(cache_files(cache, ".npy")) == 1
    again = load_data_folder(folder, cache=cache, defer_cache=True)
    assert again.pending_cache is None and torch.equal(again.x, data.x)  # read back: nothing left to write


def test_a_removed_or_renamed_file_is_decoded_again(image_folder, tmp_path: Path) -> None:
    folder, cache = image_folder({"cat": 6, "dog": 6}), tmp_path / "cache"
    load_data_folder(folder, cache=cache)
    (folder / "cat" / "img_001.png").unlink()
    (folder / "dog" / "img_003.png").rename(folder / "cat" / "img_103.png")  # same bytes and mtime, another class
    after, fresh = load_data_folder(folder, cache=cache), load_data_folder(folder)
    assert after.sample_ids == fresh.sample_ids and "cat/img_103.png" in after.sample_ids and len(after.y) == 11
    assert torch.equal(after.x, fresh.x) and torch.equal(after.y, fresh.y)
    assert after.content_hash == fresh.content_hash and after.meta == fresh.meta


def test_hashes_and_meta_from_the_decoding_equal_a_pass_over_the_files(image_folder, write_image, tmp_path: Path,
                                                                     monkeypatch) -> None:
    from nas.data.meta import content_hash, moments

    folder = image_folder({"cat": 5, "dog": 5})
    write_image(folder / "dog" / "img_050.png", value=200, mode="RGB")  # widens the gray images after it
    (folder / "dataset.yaml").write_text("name: shapes\n")
    monkeypatch.setattr(decode, "CHUNK_FILES", 4)
    monkeypatch.setattr(decode, "PARALLEL_MIN_FILES", 1)
    data = load_data_folder(folder, cache=tmp_path / "cache")
    files = [*data.sample_ids, "dataset.yaml"]
    assert data.content_hash == content_hash(folder, files)  # read here, hashed here
    mean, std = moments(data.x.numpy(), (1, 2, 3))
    assert data.meta["x_mean"] == pytest.approx(float(mean) / 255) and data.meta["x_std"] == pytest.approx(
        float(std) / 255)


def test_a_bad_image_leaves_no_cache_file_behind(image_folder, tmp_path: Path) -> None:
    folder, cache = image_folder(), tmp_path / "cache"
    (folder / "dog" / "zz.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"zz.png: is not a readable PNG/JPEG image"):
        load_data_folder(folder, cache=cache)
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_a_killed_loaders_partial_file_is_removed_and_a_running_ones_kept(image_folder, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    folder, cache = image_folder(), tmp_path / "cache"
    load_data_folder(folder, cache=cache)
    place = cache_files(cache, ".npy")[0].parent
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                            check=True)
    killed = place / f"partial-{socket.gethostname()}~{exited.stdout.strip()}~1.npy"
    elsewhere = place / "partial-another-host~123~456.npy"  # another host's loader: this one cannot tell
    for partial in (killed, elsewhere):
        partial.write_bytes(b"half an array")
    touched = folder / "cat" / "img_000.png"
    os.utime(touched, ns=(1, touched.stat().st_mtime_ns + 10**9))  # a new entry is written
    load_data_folder(folder, cache=cache)
    assert not killed.exists() and elsewhere.exists() and len(cache_files(cache, ".npy")) == 2
