"""A real git + DVC repository under tmp_path holding a small image data set: 3 digit classes of real digits."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CLASSES = ("0", "1", "2")


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (a throwaway identity for commits) and return its output."""
    identity = ["-c", "user.name=nasflow tests", "-c", "user.email=tests@nasflow.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True, text=True).stdout


def copy_images(source: Path, folder: Path, which: slice) -> list[Path]:
    """Copy the images ``which`` (sorted by name) of each class in :data:`CLASSES` from ``source`` to ``folder``."""
    copied = []
    for label in CLASSES:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for path in sorted((source / label).glob("*.png"))[which]:
            copied.append(Path(shutil.copy2(path, folder / label / path.name)))
    return copied


def make_repo(root: Path, source: Path, per_class: int = 30) -> Path:
    """``git init`` + ``dvc init`` in ``root``, ``per_class`` images per class in ``data/digits`` tracked by DVC,
    everything committed; returns the data folder."""
    from workflows.data_versioning import ensure_dvc_repo, track_folder

    root.mkdir(parents=True)
    git(root, "init", "-q")
    ensure_dvc_repo(root)
    folder = root / "data" / "digits"
    copy_images(source, folder, slice(0, per_class))
    track_folder(folder)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "data tracked by DVC")
    return folder
