"""``nasflow init [DIR]``: scaffold a project folder (conf/, the example model, dvc.yaml, params.yaml, git and DVC).

Like ``dvc init`` or a cookiecutter template, but idempotent: what already exists is kept as it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from workflows.defaults import package_conf, resolve_model_file, shipped_file
from workflows.errors import WorkflowError

EXAMPLE_MODEL = "examples/models/digits_cnn.py"
GITIGNORE = ("/.nasflow/", "/mlruns/", "/mlartifacts/", "/outputs/", "/multirun/", "/exported/")
NEXT_STEPS = """next steps:
  cd {folder}
  nasflow data init digits data/digits                 # the example data (or your class folders in data.path)
  nasflow space my_model.py:Net data.path=data/digits  # your own model: writes conf/model and conf/space
  nasflow run                                          # search, retrain, register, record
  dvc repro                                            # the same as DVC stages (dvc.yaml reads params.yaml)"""


def _copy_missing(source: Path, target: Path, made: list[str], root: Path) -> None:
    """Copy every file of ``source`` (a file or folder) to ``target`` that is not there yet."""
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in files:
        dest = target if source.is_file() else target / path.relative_to(source)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            made.append(str(dest.relative_to(root)))


def _run(cmd: list[str], folder: Path) -> None:
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise WorkflowError(f"'{' '.join(cmd)}' failed in '{folder}': {proc.stderr.strip()[-500:]}")


def _git_root(folder: Path) -> Path | None:
    """The top folder of the git repository ``folder`` is in, or None."""
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True,
                          check=False)
    return Path(proc.stdout.strip()).resolve() if proc.returncode == 0 else None


def _gitignore(folder: Path, made: list[str]) -> None:
    path = folder / ".gitignore"
    lines = path.read_text().splitlines() if path.exists() else []
    missing = [line for line in GITIGNORE if line not in lines]
    if missing:
        path.write_text("".join(f"{line}\n" for line in [*lines, *missing]))
        made.append(".gitignore")


def init_project(folder: Path) -> list[str]:
    """Scaffold ``folder``; return what was created (empty when everything was already there)."""
    from workflows.config import compose_config, config_yaml

    folder.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    _copy_missing(package_conf(), folder / "conf", made, folder)
    _copy_missing(resolve_model_file(EXAMPLE_MODEL), folder / EXAMPLE_MODEL, made, folder)
    _copy_missing(shipped_file("dvc.yaml"), folder / "dvc.yaml", made, folder)
    _gitignore(folder, made)
    if not (folder / "params.yaml").exists():
        cfg = compose_config(["workspace=.nasflow"], folder / "conf")
        (folder / "params.yaml").write_text(config_yaml(cfg))
        made.append("params.yaml")
    git_root = _git_root(folder)
    if git_root is None:
        _run(["git", "init", "-q"], folder)
        made.append("git repository")
    if not (folder / ".dvc").is_dir():
        dvc = [sys.executable, "-m", "dvc"]
        subdir = ["--subdir"] if git_root is not None and git_root != folder.resolve() else []
        _run([*dvc, "init", "-q", *subdir], folder)
        _run([*dvc, "config", "core.analytics", "false"], folder)
        _run([*dvc, "config", "hydra.enabled", "true"], folder)  # `dvc exp run` composes params.yaml from conf/
        _run(["git", "add", ".dvc/config"], folder)  # staged with DVC's other files, as `dvc init` leaves them
        made.append("DVC project")
    return made


def init_report(folder: Path, made: list[str]) -> str:
    """What ``nasflow init`` prints: what it created (or that nothing was missing) and the next steps."""
    tops = dict.fromkeys(f"{item.split('/')[0]}/" if "/" in item else item for item in made)
    head = f"initialized {folder}: " + (", ".join(tops) if tops else "nothing to do, every file was already there")
    return head + "\n" + NEXT_STEPS.format(folder=folder)
