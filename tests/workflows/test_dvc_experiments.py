"""``dvc exp run`` in a project made by ``nasflow init``, as a DVC user drives it: the workspace afterwards, ``dvc exp
show``, ``dvc exp apply``/``dvc exp branch`` and a clean ``dvc status`` once committed. Real git and DVC; the
project's own workspace (``.nasflow``, as a user's), no ``NASFLOW_WORKSPACE``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.workflows.conftest import NASFLOW, cli_env
from tests.workflows.dvc_repo import copy_images, git

pytestmark = pytest.mark.slow
TINY = {"search/default.yaml": {"n_trials": 2}, "train/default.yaml": {"epochs": 1, "retrain_epochs": 1}}
EXPERIMENT = "more-trials"


@dataclass
class Project:
    """The project folder, the ``dvc exp run`` output and the params.yaml of the committed baseline."""

    root: Path
    env: dict[str, str]
    ran: subprocess.CompletedProcess | None = None
    baseline: dict | None = None
    repro_register: dict | None = None

    def run(self, *cmd: str) -> str:
        out = subprocess.run(list(cmd), check=False, cwd=self.root, env=self.env, capture_output=True, text=True,
                             timeout=900)
        assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    def dvc(self, *args: str) -> str:
        return self.run(sys.executable, "-m", "dvc", *args)

    def status(self, *flags: str) -> set[str]:
        """``git status --porcelain`` lines."""
        return set(git(self.root, "status", "--porcelain", *flags).splitlines())

    def params(self) -> dict:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def metrics(self) -> dict:
        return json.loads((self.root / "reports/metrics.json").read_text())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path) -> Project:
    """``nasflow init``, tiny budgets in conf/, 3 classes of digits tracked by DVC, ``nasflow run`` and ``dvc repro``
    committed as the baseline, then ``dvc exp run -S`` of more trials and retrain epochs."""
    base = tmp_path_factory.mktemp("dvc_exp")
    env = cli_env(base / "unused")
    del env["NASFLOW_WORKSPACE"]  # the project's own .nasflow, as for a user
    root = base / "proj"
    state = Project(root, env)
    subprocess.run([*NASFLOW, "init", str(root)], cwd=base, env=env, check=True, capture_output=True, timeout=300)
    for name, values in TINY.items():
        path = root / "conf" / name
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **values}))
    state.run(*NASFLOW, "config", "--out", "params.yaml")
    copy_images(digits_folder, root / "data" / "digits", slice(0, 30))
    state.dvc("add", "-q", "data/digits")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    state.run(*NASFLOW, "run", "--json", "--no-progress")  # a user's first run, then the same as DVC stages
    state.dvc("repro")
    state.repro_register = json.loads((root / ".nasflow/dvc/register.json").read_text())
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    state.baseline = state.params()
    state.ran = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "-n", EXPERIMENT, "-S", "search.n_trials=3",
                                "-S", "train.retrain_epochs=2"], cwd=root, env=env, capture_output=True, text=True,
                               timeout=900, check=False)
    assert state.ran.returncode == 0, state.ran.stdout[-3000:] + state.ran.stderr[-3000:]
    return state


def test_exp_run_leaves_the_workspace_as_dvc_leaves_it(project: Project) -> None:
    ran = [line.split("'")[1] for line in project.ran.stdout.splitlines() if line.startswith("Running stage")]
    assert ran == ["search", "retrain", "register"]
    # the experiment's results applied to the workspace: params, lock and stage outputs changed, nothing new
    assert project.status() == {" M dvc.lock", " M params.yaml", " M reports/metrics.json", " M reports/trials.csv"}
    ignored = {line for line in project.status("--ignored") if line.startswith("!! ")}
    assert ignored == {"!! .dvc/cache/", "!! .dvc/tmp/", "!! .nasflow/", "!! data/digits/"}
    params = project.params()
    assert params["search"]["n_trials"] == 3 and params["train"]["retrain_epochs"] == 2
    assert project.baseline is not None
    params["search"]["n_trials"], params["train"]["retrain_epochs"] = 2, 1
    assert params == project.baseline, "dvc exp run changed only the settings given with -S"
    assert not list(project.root.glob("*.db")) and not (project.root / "outputs").exists()


def test_exp_show_lists_the_experiment_with_its_metrics_and_params(project: Project) -> None:
    shown = json.loads(project.dvc("exp", "show", "--json"))
    baseline = next(rev for rev in shown if rev["rev"] != "workspace")
    assert baseline["data"]["metrics"]["reports/metrics.json"]["data"]["version"] == "1"
    (experiment,) = [exp for exp in baseline.get("experiments") or [] if exp["name"] == EXPERIMENT]
    data = experiment["revs"][0]["data"]
    metrics = data["metrics"]["reports/metrics.json"]["data"]
    assert metrics["version"] == "2" and 0 <= metrics["test_accuracy"] <= 1
    assert data["params"]["params.yaml"]["data"]["search"]["n_trials"] == 3
    trials = [line for line in (project.root / "reports/trials.csv").read_text().splitlines() if line]
    assert len(trials) == 1 + 3  # the header and every trial of the study, for `dvc plots`
    changed = json.loads(project.dvc("metrics", "diff", "--json"))
    assert changed["reports/metrics.json"]["version"] == {"old": "1", "new": "2"}


def test_exp_apply_and_branch_restore_the_experiment_and_a_commit_is_clean(project: Project) -> None:
    git(project.root, "checkout", "--", ".")
    assert project.status() == set() and project.metrics()["version"] == "1"
    project.dvc("exp", "apply", EXPERIMENT)
    assert project.params()["search"]["n_trials"] == 3 and project.metrics()["version"] == "2"
    project.dvc("exp", "branch", EXPERIMENT, "more-trials-branch")
    on_branch = json.loads(git(project.root, "show", "more-trials-branch:reports/metrics.json"))
    assert on_branch == project.metrics()
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "take the experiment")
    assert project.status() == set()
    assert "Data and pipelines are up to date." in project.dvc("status")
    assert os.path.isdir(project.root / ".nasflow" / "dvc" / "model")


def test_dvc_repro_after_nasflow_run_names_the_version_the_run_registered(project: Project) -> None:
    assert project.repro_register is not None
    assert project.repro_register["status"] == "matched" and project.repro_register["version"] == "1"
    assert "already version 1" in project.repro_register["message"]
    assert project.repro_register["decision"].startswith("champion: the same model bytes as version 1")


@pytest.mark.parametrize(("setting", "value", "stages"), [("search.proxy", "none", {"search"}),
                                                          ("train.schedule", "constant", {"search", "retrain"})])
def test_a_changed_setting_makes_dvc_status_name_the_stages_that_read_it(project: Project, setting: str, value: str,
                                                                         stages: set[str]) -> None:
    params = project.params()
    group, key = setting.split(".")
    params[group][key] = value
    (project.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        changed = json.loads(project.dvc("status", "--json"))
    finally:
        git(project.root, "checkout", "--", "params.yaml")
    assert set(changed) == stages
    assert all(any("params.yaml" in entry.get("changed deps", {}) for entry in changed[stage]) for stage in stages)
