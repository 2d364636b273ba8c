"""The built wheel works outside a checkout: its own conf/ and example model, in an empty folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.install.conftest import REPO, InstalledWheel

pytestmark = pytest.mark.slow


def test_the_installed_package_is_imported_not_the_checkout(installed_wheel: InstalledWheel, tmp_path: Path) -> None:
    where = installed_wheel.python("import workflows.defaults as d; print(d.__file__); print(d.package_conf())",
                                   cwd=tmp_path)
    module, conf = where.splitlines()
    assert Path(module).is_relative_to(installed_wheel.venv) and not Path(module).is_relative_to(REPO)
    assert (Path(conf) / "config.yaml").is_file() and Path(conf).is_relative_to(installed_wheel.venv)
    shipped = {p.relative_to(Path(conf)) for p in Path(conf).rglob("*.yaml")}
    assert shipped == {p.relative_to(REPO / "conf") for p in (REPO / "conf").rglob("*.yaml")}


def test_help_and_a_tiny_run_in_an_empty_folder(installed_wheel: InstalledWheel, tmp_path: Path,
                                                 digits_folder: Path) -> None:
    helped = installed_wheel.run("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "nasflow" in helped.stdout
    run = installed_wheel.run("run", "--json", "--no-progress", f"data.path={digits_folder}", "search.n_trials=2",
                              "train.epochs=1", "train.retrain_epochs=1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["version"] == "1" and 0.0 < summary["test_accuracy"] <= 1.0
    assert (tmp_path / ".nasflow").is_dir() and not (tmp_path / "conf").exists()


def test_a_project_conf_overrides_the_shipped_one(installed_wheel: InstalledWheel, tmp_path: Path) -> None:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    config = tmp_path / "conf" / "config.yaml"
    config.write_text(re.sub(r"(?m)^workspace: .*$", "workspace: own-ws", config.read_text()))
    shown = installed_wheel.run("config", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "workspace: own-ws" in shown.stdout
