"""DVC for data folders: every DVC call goes through one lock per repository."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from workflows.errors import WorkflowError


def repo_root(path: Path) -> Path:
    """The DVC repository containing ``path`` (the nearest parent with a ``.dvc`` folder), else its git root."""
    path = path.resolve()
    for parent in (path, *path.parents):
        if (parent / ".dvc").is_dir():
            return parent
    out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path if path.is_dir() else path.parent,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise WorkflowError(f"'{path}' is not inside a git repository; run 'git init' there first so DVC can track data")
    return Path(out.stdout.strip())


@contextmanager
def dvc_lock(root: Path) -> Iterator[None]:
    """Hold the repository's nasflow DVC lock (blocking) for the duration of the block."""
    lock_dir = root / ".dvc" / "tmp"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "nasflow.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_dvc(root: Path, *args: str) -> str:
    """Run ``dvc <args>`` in ``root`` under the lock; a failure raises with DVC's own message."""
    with dvc_lock(root):
        out = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        message = (out.stderr or out.stdout).strip().splitlines()
        raise WorkflowError(f"'dvc {' '.join(args)}' failed in {root}: {message[-1] if message else out.returncode}")
    return out.stdout


def ensure_dvc_repo(root: Path) -> None:
    """Initialize DVC in ``root`` (a git repository) if it is not a DVC repository yet."""
    if not (root / ".dvc").is_dir():
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], cwd=root, check=True,
                       capture_output=True)


def init_dataset(dataset: str, folder: Path) -> str:
    """Export bundled ``dataset`` into ``folder`` (if missing) and ``dvc add`` it; returns a one-line report."""
    from nas.data import export_digits

    if dataset != "digits":
        raise WorkflowError(f"unknown bundled dataset '{dataset}'; available: digits")
    created = not folder.exists()
    if created:
        export_digits(folder)
    root = repo_root(folder.parent if not folder.exists() else folder)
    ensure_dvc_repo(root)
    run_dvc(root, "add", "-q", str(folder.resolve().relative_to(root)))
    verb = "exported" if created else "already present"
    return f"{dataset}: {verb} in {folder}, tracked by DVC ({folder}.dvc)"
