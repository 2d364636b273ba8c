"""``nasflow data check`` and the decode cache: an existing workspace's cache is read back and written, a check
creates no workspace, ``--no-cache`` decodes every file and writes nothing (in-process CLI, real files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflows.conftest import REPO


def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, workspace: Path, *args: str) -> str:
    """The content hash ``nasflow data check`` prints."""
    from workflows.cli import main

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("NASFLOW_WORKSPACE", str(workspace))
    assert main(["data", "check", "--no-progress", *args]) == 0
    return str(json.loads(capsys.readouterr().out)["content_hash"])


def same_stamp_other_pixels(path: Path) -> None:
    """Overwrite ``path`` with a flat image padded (after its end chunk) to the same size, and give it back its
    modification time: only a cache hit misses the change."""
    stat = path.stat()
    Image.new("RGB", (4, 4), (7, 7, 7)).save(path)
    path.write_bytes(path.read_bytes().ljust(stat.st_size, b"\0"))
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for i in range(12):
        path = tmp_path / "pngs" / f"c{i % 2}" / f"{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)).save(path)
    return tmp_path / "pngs"


def test_data_check_reads_and_writes_the_cache_of_an_existing_workspace(monkeypatch, capsys, tmp_path: Path,
                                                                       folder: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    first = check(monkeypatch, capsys, workspace, str(folder))
    assert len(list((workspace / "cache").rglob("*.npy"))) == 1
    same_stamp_other_pixels(folder / "c0" / "00.png")
    assert check(monkeypatch, capsys, workspace, str(folder)) == first  # from the cache: the files were not read
    assert check(monkeypatch, capsys, workspace, str(folder), "--no-cache") != first  # every file decoded again


def test_data_check_creates_no_workspace(monkeypatch, capsys, tmp_path: Path, folder: Path) -> None:
    workspace = tmp_path / "ws"
    check(monkeypatch, capsys, workspace, str(folder))
    assert not workspace.exists()


def test_data_check_without_cache_writes_nothing(monkeypatch, capsys, tmp_path: Path, folder: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    check(monkeypatch, capsys, workspace, str(folder), "--no-cache")
    assert list(workspace.iterdir()) == []
