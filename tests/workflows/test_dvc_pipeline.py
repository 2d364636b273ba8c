"""The project's ``dvc.yaml`` and ``.dvc/config`` run by real DVC in a tmp git + DVC repository with a copy of
conf/ and examples/.

The conf copies get tiny budgets and ``params.yaml`` is composed from them (``nasflow config``); the stages run the
real ``nasflow`` CLI against stores under tmp_path. The tests run in order on one repository.
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

from tests.workflows.conftest import NASFLOW, REPO, cli_env
from tests.workflows.dvc_repo import copy_images, git, make_repo

pytestmark = pytest.mark.slow
MODEL = "digits_cnn-digits"
TINY = {"search/default.yaml": {"n_trials": 2}, "train/default.yaml": {"epochs": 1, "retrain_epochs": 3}}
STAGES = ["prepare", "search", "retrain", "register"]


@dataclass
class Pipeline:
    """The tmp repository, its workspace, and the output of the first ``dvc repro``."""

    root: Path
    folder: Path
    workspace: Path
    source: Path
    first: subprocess.CompletedProcess
    commit: str = ""

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "dvc", *args], check=False, cwd=self.root, env=cli_env(self.workspace),
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"dvc {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out

    def client(self):  # noqa: ANN201 - an MlflowClient
        from mlflow import MlflowClient

        uri = f"sqlite:///{self.workspace / 'mlflow.db'}"
        return MlflowClient(uri, uri)

    def versions(self) -> dict[str, dict[str, str]]:
        return {str(v.version): v.tags for v in self.client().search_model_versions(f"name='{MODEL}'")}

    def dvc_md5(self) -> str:
        return yaml.safe_load((self.root / "data/digits.dvc").read_text())["outs"][0]["md5"]

    def kb_lineage(self, version: str) -> dict:
        from knowledge_base import KnowledgeBase

        kb = KnowledgeBase(f"sqlite:///{self.workspace / 'kb.db'}")
        (record,) = [kb.get(row["id"]) for row in kb.query(f"kind = 'retrain' and lineage.mlflow_model_version = '{version}'")
                     .to_dicts()]
        return {**record.lineage, **{f"settings.{k}": v for k, v in record.settings.items()}}

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
    shutil.copy(REPO / ".dvc/config", root / ".dvc/config")  # Hydra composition enabled, as in the project
    shutil.copytree(REPO / "conf", root / "conf")
    shutil.copytree(REPO / "examples", root / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    for name, values in TINY.items():
        path = root / "conf" / name
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **values}))
    (root / ".gitignore").write_text("/.nasflow/\n")
    workspace = base / "ws"
    composed = subprocess.run([*NASFLOW, "config", "--out", "params.yaml"], cwd=root, env=cli_env(workspace),
                              capture_output=True, text=True, timeout=120)
    assert composed.returncode == 0, composed.stderr
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pipeline")
    state = Pipeline(root, folder, workspace, digits_folder, None)  # type: ignore[arg-type]
    state.commit = git(root, "rev-parse", "HEAD").strip()
    state.first = state.dvc("repro")
    return state


def test_dvc_repro_runs_every_stage_and_registers_version_1(pipeline: Pipeline) -> None:
    from nas.data import load_data_folder

    assert ran(pipeline.first) == STAGES
    versions = pipeline.versions()
    assert list(versions) == ["1"]
    assert versions["1"]["data_hash"] == load_data_folder(pipeline.folder).content_hash
    register = pipeline.output("register.json")
    assert register["status"] == "registered" and register["alias"] == "champion" and register["version"] == "1"
    # lineage: the folder's DVC md5 beside nasflow's content hash, on the MLflow version and the KB record
    assert versions["1"]["dvc_hash"] == pipeline.dvc_md5() == register["dvc_hash"] and pipeline.dvc_md5().endswith(".dir")
    lineage = pipeline.kb_lineage("1")
    assert lineage["dvc_hash"] == pipeline.dvc_md5() and lineage["data_hash"] == versions["1"]["data_hash"]
    metrics = json.loads(pipeline.dvc("metrics", "show", "--json").stdout)
    (values,) = [m["data"]["reports/metrics.json"]["data"] for m in metrics.values()]
    assert values["version"] == "1" and 0 <= values["test_accuracy"] <= 1
    trials = [line for line in (pipeline.root / "reports/trials.csv").read_text().splitlines() if line]
    assert trials[0].startswith("id,") and len(trials) == 3  # header + the 2 trials, for `dvc plots show`
    vega = json.loads(pipeline.dvc("plots", "show", "--show-vega", "validation accuracy by trial").stdout)
    points = [row for data in vega["data"]["values"] for row in ([data] if isinstance(data, dict) else data)]
    assert len(points) == 2 and all(0 <= float(row["val_accuracy"]) <= 1 for row in points)


def test_dvc_repro_with_unchanged_data_does_nothing(pipeline: Pipeline) -> None:
    before = pipeline.versions().keys()
    out = pipeline.dvc("repro")
    assert ran(out) == []
    assert all(f"'{stage}' didn't change, skipping" in out.stdout for stage in STAGES)
    assert pipeline.versions().keys() == before


def test_dvc_exp_run_composes_the_same_params_yaml_as_nasflow_config(pipeline: Pipeline) -> None:
    """DVC composes conf/ in its own process (the schema registered by the hydra_plugins shim): nothing differs."""
    composed = (pipeline.root / "params.yaml").read_text()
    out = pipeline.dvc("exp", "run")
    assert ran(out) == []
    assert (pipeline.root / "params.yaml").read_text() == composed


def test_dvc_repro_after_a_data_change_reruns_the_dependent_stages_and_registers_a_version(pipeline: Pipeline) -> None:
    from nas.data import load_data_folder

    before = pipeline.versions()
    copy_images(pipeline.source, pipeline.folder, slice(30, 34))
    new_hash = load_data_folder(pipeline.folder).content_hash

    out = pipeline.dvc("repro")

    assert ran(out) == STAGES
    versions = pipeline.versions()
    new = str(len(before) + 1)
    assert sorted(versions, key=int) == [*sorted(before, key=int), new]
    assert versions[new]["data_hash"] == new_hash != before["1"]["data_hash"]
    assert pipeline.output("data.json")["content_hash"] == new_hash
    assert pipeline.output("register.json")["version"] == new
    assert versions[new]["dvc_hash"] == pipeline.dvc_md5() != versions["1"]["dvc_hash"]
    # more images, another test split: the decision re-scores v1 on today's and says v1 was scored on another
    old_split, new_split = versions["1"]["test_split_hash"], versions[new]["test_split_hash"]
    assert old_split != new_split and int(versions[new]["test_split_size"]) > int(versions["1"]["test_split_size"])
    assert "champion_test_accuracy" in versions[new]
    decision = pipeline.output("register.json")["decision"]
    assert f"v1 was registered on another test split ({old_split}, today's is {new_split})" in decision


def test_dvc_exp_run_with_a_changed_retrain_param_reruns_only_retrain(pipeline: Pipeline) -> None:
    before = pipeline.versions()
    git(pipeline.root, "add", "-A")
    git(pipeline.root, "commit", "-q", "-m", "state after the data change")

    out = pipeline.dvc("exp", "run", "-S", "conf/train/default.yaml:retrain_epochs=4")

    assert ran(out) == ["retrain", "register"]
    new = str(len(before) + 1)
    assert new in pipeline.versions()
    assert yaml.safe_load((pipeline.root / "conf/train/default.yaml").read_text())["retrain_epochs"] == 4


def test_dvc_exp_run_set_param_composes_params_yaml_and_the_run_uses_it(pipeline: Pipeline) -> None:
    before = pipeline.versions()

    out = pipeline.dvc("exp", "run", "-n", "two-epochs", "-S", "train.retrain_epochs=2")

    assert ran(out) == ["retrain", "register"]
    assert yaml.safe_load((pipeline.root / "params.yaml").read_text())["train"]["retrain_epochs"] == 2
    new = str(len(before) + 1)
    assert new in pipeline.versions()
    client = pipeline.client()
    assert client.get_run(client.get_model_version(MODEL, new).run_id).data.params["train.epochs"] == "2"
    assert pipeline.kb_lineage(new)["settings.epochs"] == 2
    shown = json.loads(pipeline.dvc("exp", "show", "--json").stdout)
    experiments = {exp["name"]: exp for rev in shown for exp in (rev.get("experiments") or [])}
    (run,) = experiments["two-epochs"]["revs"]
    assert run["data"]["params"]["params.yaml"]["data"]["train"]["retrain_epochs"] == 2
    # every experiment's metrics, read by DVC from its commit (reports/ is tracked, not the ignored workspace)
    for exp in experiments.values():
        metrics = exp["revs"][0]["data"]["metrics"]["reports/metrics.json"]["data"]
        assert 0 <= metrics["test_accuracy"] <= 1 and metrics["version"] in pipeline.versions()
    assert run["data"]["metrics"]["reports/metrics.json"]["data"]["version"] == new
    table = pipeline.dvc("exp", "show", "--md", "--drop", "params.yaml:.*|data/.*|examples/.*|.nasflow/.*").stdout
    header, *rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table.splitlines() if "|" in line]
    (row,) = [r for r in rows if "two-epochs" in r[0]]
    assert row[header.index("test_accuracy")] not in ("!", "-", "") and "!" not in row
    assert json.loads(pipeline.dvc("metrics", "show", "--json").stdout)


def test_a_run_cache_restore_of_retrain_still_runs_register_which_names_the_existing_version(pipeline: Pipeline) -> None:
    """Data and params back at the first run's state: DVC restores retrain's model from its run cache, but register
    is never restored: it runs, finds that exact model already registered (version 1) and registers no duplicate."""
    before = pipeline.versions()
    for label in ("0", "1", "2"):  # the images the data-change test added
        for path in sorted((pipeline.source / label).glob("*.png"))[30:34]:
            (pipeline.folder / label / path.name).unlink()
    git(pipeline.root, "checkout", pipeline.commit, "--", "params.yaml", "conf")

    out = pipeline.dvc("repro")

    assert "Stage 'retrain' is cached - skipping run" in out.stdout
    assert "register" in ran(out) and "retrain" not in ran(out)
    register = pipeline.output("register.json")
    assert register["status"] == "matched" and register["version"] == "1"
    assert "already version 1" in register["message"]
    assert pipeline.versions().keys() == before.keys()
    assert json.loads((pipeline.root / "reports/metrics.json").read_text())["version"] == "1"


def test_a_bad_params_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("train:\n  retrain_epochs: lots\n")
    out = subprocess.run([*NASFLOW, "retrain", "--params-file", str(bad)], cwd=tmp_path, env=cli_env(tmp_path / "ws"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert f"params file '{bad}' is not a valid nasflow config" in line and "key: train.retrain_epochs" in line
    assert "'lots'" in line and "nasflow config --out" in line


def test_dvc_exp_run_with_a_bad_set_param_is_refused_by_the_schema(pipeline: Pipeline) -> None:
    out = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "-S", "train.retrain_epochs=many"], cwd=pipeline.root,
                         env=cli_env(pipeline.workspace), capture_output=True, text=True, timeout=600)
    assert out.returncode != 0 and ran(out) == []
    assert "retrain_epochs" in out.stderr and "many" in out.stderr
