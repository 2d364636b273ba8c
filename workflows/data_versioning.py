"""DVC for data folders: every DVC call goes through one lock per repository; one watcher per repository."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from workflows.errors import WorkflowError

LOCK_FILE = "nasflow.lock"
WATCH_LOCK_FILE = "nasflow-watch.lock"


def repo_root(path: Path) -> Path:
    """The DVC repository containing ``path`` (the nearest parent with a ``.dvc`` folder), else its git root."""
    path = path.resolve()
    for parent in (path, *path.parents):
        if (parent / ".dvc").is_dir():
            return parent
    out = subprocess.run(["git", "rev-parse", "--show-toplevel"], check=False,
                         cwd=path if path.is_dir() else path.parent, capture_output=True, text=True)
    if out.returncode != 0:
        raise WorkflowError(
            f"'{path}' is not inside a git repository; run 'git init' there first so DVC can track data"
        )
    return Path(out.stdout.strip())


def dvc_repo_root(folder: Path) -> Path:
    """The DVC repository of ``folder``, or a clear error naming the fix if it has none."""
    root = repo_root(folder)
    if not (root / ".dvc").is_dir():
        raise WorkflowError(
            f"'{folder}' is not inside a DVC repository ({root} has no .dvc folder); "
            f"run 'dvc init' in {root} or 'nasflow data init digits {folder}' first"
        )
    return root


def _lock_path(root: Path, name: str) -> Path:
    lock_dir = root / ".dvc" / "tmp"
    lock_dir.mkdir(parents=True, exist_ok=True)
    return lock_dir / name


@contextmanager
def dvc_lock(root: Path) -> Iterator[None]:
    """Hold the repository's nasflow DVC lock (blocking) for the duration of the block."""
    with open(_lock_path(root, LOCK_FILE), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def watcher_lock(root: Path) -> Iterator[Path]:
    """Hold the repository's watcher lock for the block; refuse at once if another watcher holds it.

    The lock file holds the owner's pid so that the refusal can name it. The operating system releases the
    lock when the owner exits, however it exits, so a crashed watcher never leaves a stale lock behind.
    """
    path = _lock_path(root, WATCH_LOCK_FILE)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise WorkflowError(
                f"another 'nasflow watch' (pid {owner}) already watches the DVC repository {root} "
                f"(it holds {path}); stop it with Ctrl-C or wait for it to finish, then start this one"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_dvc(root: Path, *args: str) -> str:
    """Run ``dvc <args>`` in ``root`` under the lock; a failure raises with DVC's own message.

    DVC runs in its own session so that a Ctrl-C meant for nasflow does not kill it half-way through.
    """
    with dvc_lock(root):
        out = subprocess.run([sys.executable, "-m", "dvc", *args], check=False, cwd=root, capture_output=True,
                             text=True, start_new_session=True)
    if out.returncode != 0:
        lines = [line.strip() for line in (out.stderr or out.stdout).splitlines() if line.strip()]
        errors = [i for i, line in enumerate(lines) if line.startswith("ERROR")]
        message = " ".join(lines[errors[0]:] if errors else lines[-1:]) or f"exit code {out.returncode}"
        raise WorkflowError(f"'dvc {' '.join(args)}' failed in {root}: {message}")
    return out.stdout


def ensure_dvc_repo(root: Path) -> None:
    """Initialize DVC in ``root`` (a git repository) if it is not a DVC repository yet."""
    if not (root / ".dvc").is_dir():
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, capture_output=True)
        run_dvc(root, "config", "core.analytics", "false")


def track_folder(folder: Path) -> str:
    """``dvc add`` ``folder`` so that its ``.dvc`` file follows the data; returns DVC's hash of it (``….dir``)."""
    root = dvc_repo_root(folder)
    run_dvc(root, "add", str(folder.resolve().relative_to(root)))
    return dvc_hash(folder)


def track_and_report(folder: Path) -> tuple[str, str | None]:
    """:func:`track_folder`, plus a note naming the files ``dvc add`` created when DVC did not track ``folder`` yet."""
    resolved = folder.resolve()
    dvc_file, gitignore = resolved.with_name(resolved.name + ".dvc"), resolved.parent / ".gitignore"
    before = {path: path.exists() for path in (dvc_file, gitignore)}
    hash_ = track_folder(folder)
    if before[dvc_file]:
        return hash_, None
    made = [str(p) for p in (dvc_file, gitignore) if p.exists() and not before[p]]
    changed = [] if not before[gitignore] else [f"{gitignore} (entry added)"]
    return hash_, f"started tracking '{folder}' with DVC: wrote {', '.join(made + changed)}; commit them with git"


def dvc_hash(folder: Path) -> str:
    """DVC's hash of ``folder`` as recorded in ``<folder>.dvc`` (``md5`` of the directory listing, ``….dir``)."""
    dvc_file = folder.resolve().with_name(folder.resolve().name + ".dvc")
    try:
        outs = yaml.safe_load(dvc_file.read_text())["outs"]
        return str(outs[0]["md5"])
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as exc:
        raise WorkflowError(
            f"{dvc_file}: cannot read the DVC hash of '{folder}' ({type(exc).__name__}: {exc}); "
            f"run 'dvc add {folder}' to write it again"
        ) from None


def tracked_dvc_hash(folder: Path) -> str | None:
    """DVC's hash of ``folder`` if DVC tracks it: from ``<folder>.dvc``, else from a stage output in ``dvc.lock``.

    None when the folder is in no DVC repository or DVC does not track it. Only files are read (no DVC call).
    """
    folder = folder.resolve()
    if folder.with_name(folder.name + ".dvc").is_file():
        return dvc_hash(folder)
    root = next((parent for parent in folder.parents if (parent / ".dvc").is_dir()), None)
    if root is None or not (root / "dvc.lock").is_file():
        return None
    lock = root / "dvc.lock"
    relative = folder.relative_to(root).as_posix()
    try:
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    except (OSError, yaml.YAMLError) as exc:
        raise WorkflowError(
            f"{lock}: cannot be read ({exc}); run 'dvc repro' or 'dvc commit' to write it again"
        ) from None
    for stage in stages.values():
        for out in stage.get("outs", []):
            if str(out.get("path", "")).rstrip("/") == relative and out.get("md5"):
                return str(out["md5"])
    return None


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
