"""``nasflow init`` from the installed wheel scaffolds a project that git, DVC and nasflow accept; twice is once."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.install.conftest import InstalledWheel

pytestmark = pytest.mark.slow


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (git and DVC internals included) with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_init_twice_scaffolds_once(installed_wheel: InstalledWheel, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    first = installed_wheel.run("init", str(project), cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "conf/" in first.stdout and "DVC project" in first.stdout and "nasflow run" in first.stdout
    for name in ("conf/config.yaml", "conf/model/digits_cnn.yaml", "examples/models/digits_cnn.py", "dvc.yaml",
                 "params.yaml", ".gitignore", ".git", ".dvc/config"):
        assert (project / name).exists(), name
    assert "/.nasflow/" in (project / ".gitignore").read_text().splitlines()
    unstaged = subprocess.run(["git", "diff", "--name-only"], cwd=project, capture_output=True, text=True, check=True)
    assert unstaged.stdout == ""  # DVC's files staged whole, as `dvc init` stages them
    before = _tree(project)

    second = installed_wheel.run("init", str(project), cwd=tmp_path)
    assert second.returncode == 0 and "nothing to do" in second.stdout
    assert _tree(project) == before

    composed = installed_wheel.run("config", "workspace=.nasflow", cwd=project)
    assert composed.stdout == (project / "params.yaml").read_text()
    # what `dvc exp run -S` does first, in DVC's own process: Hydra finds the installed package's nasflow_schema plugin
    installed_wheel.python("from dvc.utils.hydra import compose_and_dump; compose_and_dump('exp.yaml', "
                           f"{str(project / 'conf')!r}, None, 'config', {str(project)!r}, ['search.n_trials=3'])",
                           cwd=project)
    expected = installed_wheel.run("config", "workspace=.nasflow", "search.n_trials=3", cwd=project).stdout
    assert yaml.safe_load((project / "exp.yaml").read_text()) == yaml.safe_load(expected)
    dvc = [sys.executable, "-m", "dvc"]
    hydra = subprocess.run([*dvc, "config", "hydra.enabled"], cwd=project, capture_output=True, text=True, check=True)
    assert hydra.stdout.strip() == "true"
    stages = subprocess.run([*dvc, "stage", "list"], cwd=project, capture_output=True, text=True, check=True)
    assert {line.split()[0] for line in stages.stdout.splitlines()} == {"prepare", "search", "retrain", "register"}
    ignored = subprocess.run(["git", "check-ignore", ".nasflow/x", "exported/x"], cwd=project, capture_output=True,
                             text=True, check=False)
    assert ignored.stdout.split() == [".nasflow/x", "exported/x"]
