"""The project's ``dvc.yaml`` run by real DVC in a tmp git + DVC repository with a copy of conf/ and examples/.

The conf copies get tiny budgets; the stages run the real ``nasflow`` CLI against stores under tmp_path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.workflows.conftest import REPO, cli_env
from tests.workflows.dvc_repo import copy_images, git, make_repo

pytestmark = pytest.mark.slow
MODEL = "digits_cnn-digits"
TINY = {"search/default.yaml": {"n_trials": 2}, "train/default.yaml": {"epochs": 1, "retrain_epochs": 3}}


@dataclass
class Pipeline:
    """The tmp repository, its workspace, and the output of the first ``dvc repro``."""

    root: Path
    folder: Path
    workspace: Path
    source: Path
    first: subprocess.CompletedProcess

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "dvc", *args], check=False, cwd=self.root, env=cli_env(self.workspace),
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"dvc {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out

    def versions(self) -> dict[str, dict[str, str]]:
        from mlflow import MlflowClient

        uri = f"sqlite:///{self.workspace / 'mlflow.db'}"
        return {str(v.version): v.tags for v in MlflowClient(uri, uri).search_model_versions(f"name='{MODEL}'")}

    def output(self, name: str) -> dict:
        return json.loads((self.root / ".nasflow/dvc" / name).read_text())


def ran(out: subprocess.CompletedProcess) -> list[str]:
    """The stages a ``dvc repro``/``dvc exp run`` ran, in order."""
    return [line.split("'")[1] for line in out.stdout.splitlines() if line.startswith("Running stage")]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path) -> Pipeline:
    base = tmp_path_factory.mktemp("dvc_pipeline")
    root = base / "repo"
    folder = make_repo(root, digits_folder)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(REPO / "conf", root / "conf")
    shutil.copytree(REPO / "examples", root / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    for name, values in TINY.items():
        path = root / "conf" / name
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **values}))
    (root / ".gitignore").write_text("/.nasflow/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pipeline")
    state = Pipeline(root, folder, base / "ws", digits_folder, None)  # type: ignore[arg-type]
    state.first = state.dvc("repro")
    return state


def test_dvc_repro_runs_every_stage_and_registers_version_1(pipeline: Pipeline) -> None:
    from nas.data import load_data_folder

    assert ran(pipeline.first) == ["prepare", "search", "retrain"]
    versions = pipeline.versions()
    assert list(versions) == ["1"]
    assert versions["1"]["data_hash"] == load_data_folder(pipeline.folder).content_hash
    assert pipeline.output("retrain.json")["alias"] == "champion"
    metrics = json.loads(pipeline.dvc("metrics", "show", "--json").stdout)
    (values,) = [m["data"][".nasflow/dvc/metrics.json"]["data"] for m in metrics.values()]
    assert values["version"] == "1" and 0 <= values["test_accuracy"] <= 1
    trials = [line for line in (pipeline.root / ".nasflow/dvc/trials.csv").read_text().splitlines() if line]
    assert trials[0].startswith("id,") and len(trials) == 3  # header + the 2 trials, for `dvc plots show`


def test_dvc_repro_with_unchanged_data_does_nothing(pipeline: Pipeline) -> None:
    before = pipeline.versions().keys()
    out = pipeline.dvc("repro")
    assert ran(out) == []
    assert all(f"'{stage}' didn't change, skipping" in out.stdout for stage in ("prepare", "search", "retrain"))
    assert pipeline.versions().keys() == before


def test_dvc_repro_after_a_data_change_reruns_the_dependent_stages_and_registers_a_version(pipeline: Pipeline) -> None:
    from nas.data import load_data_folder

    before = pipeline.versions()
    copy_images(pipeline.source, pipeline.folder, slice(30, 34))
    new_hash = load_data_folder(pipeline.folder).content_hash

    out = pipeline.dvc("repro")

    assert ran(out) == ["prepare", "search", "retrain"]
    versions = pipeline.versions()
    new = str(len(before) + 1)
    assert sorted(versions, key=int) == [*sorted(before, key=int), new]
    assert versions[new]["data_hash"] == new_hash != before["1"]["data_hash"]
    assert pipeline.output("data.json")["content_hash"] == new_hash
    assert pipeline.output("retrain.json")["version"] == new


def test_dvc_exp_run_with_a_changed_retrain_param_reruns_only_retrain(pipeline: Pipeline) -> None:
    before = pipeline.versions()
    git(pipeline.root, "add", "-A")
    git(pipeline.root, "commit", "-q", "-m", "state after the data change")

    out = pipeline.dvc("exp", "run", "-S", "conf/train/default.yaml:retrain_epochs=4")

    assert ran(out) == ["retrain"]
    new = str(len(before) + 1)
    assert new in pipeline.versions()
    assert yaml.safe_load((pipeline.root / "conf/train/default.yaml").read_text())["retrain_epochs"] == 4
