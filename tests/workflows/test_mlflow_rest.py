"""What a user of MLflow sees of two ``nasflow run``s on a tracking server, read over MLflow's REST API (no
``MlflowClient``): readable run names, pruned trials FINISHED with a ``pruned`` tag, no empty parent run and no
second version on the rerun, each version's test split, a champion that loads as an ``nn.Module``, and the runs
table that ``nasflow ui`` prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import NASFLOW, REPO, cli_env, summary_of
from tests.workflows.test_registered_model_format import CHAMPION_WITHOUT_NASFLOW
from tests.workflows.test_ui_urls import assert_ui_route

pytestmark = pytest.mark.slow

# Trial 0 (the space's defaults) has about 43k parameters and some later samples over 60k: the constraint prunes
# them before training, so the study holds both complete and pruned trials.
TINY = ["--json", "--no-progress", "search.n_trials=3", "train.epochs=1", "train.retrain_epochs=1",
        "search.pruner=none", "search.constraints.max_params=60000"]


class Rest:
    """MLflow's REST API at ``base`` (``/api/2.0/mlflow/...``)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, endpoint: str, **query: str) -> dict[str, Any]:
        url = f"{self.base}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as reply:
            return json.loads(reply.read())

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.base}/api/2.0/mlflow/{endpoint}", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def runs(self, experiment_id: str, filter_string: str = "") -> list[dict[str, Any]]:
        """Every run of the experiment matching ``filter_string``, each with its tags as a dict."""
        found = self.post("runs/search", {"experiment_ids": [experiment_id], "filter": filter_string,
                                          "max_results": 1000}).get("runs", [])
        return [{**run["info"], "tags": {t["key"]: t["value"] for t in run["data"].get("tags", [])}} for run in found]


def tags_of(entity: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in entity.get("tags", [])}


@pytest.fixture(scope="module")
def runs(tracking_server: str, digits_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two identical ``nasflow run``s on the session's tracking server: the second finds the budget spent and the
    retrained bytes registered already."""
    name = f"rest-{uuid.uuid4().hex[:8]}"
    workspace = tmp_path_factory.mktemp("rest") / "ws"
    overrides = [f"data.path={digits_folder}", f"tracking.uri={tracking_server}", f"tracking.experiment={name}",
                 f"tracking.registered_model={name}"]

    def nasflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*NASFLOW, *args, *overrides], cwd=REPO, env=cli_env(workspace), capture_output=True,
                              text=True, timeout=900, check=False)

    first, second = summary_of(nasflow("run", *TINY)), summary_of(nasflow("run", *TINY))
    rest = Rest(tracking_server)
    experiment = rest.get("experiments/get-by-name", experiment_name=name)["experiment"]
    return {"name": name, "rest": rest, "experiment": experiment, "first": first, "second": second,
            "nasflow": nasflow}


def test_runs_have_names_a_person_can_read(runs: dict[str, Any]) -> None:
    rest, experiment = runs["rest"], runs["experiment"]["experiment_id"]
    found = rest.runs(experiment)
    kinds = {(run["tags"]["nasflow.kind"], run["run_name"]) for run in found}
    best = runs["first"]["best_trial"]
    assert kinds == {("search", f"search-{runs['first']['study']}"), ("retrain", f"retrain digits_cnn trial {best}"),
                     *(("trial", f"trial-{n}") for n in range(3))}
    assert len({run["run_name"] for run in found}) == len(found), "no two runs share a name"


def test_pruned_trials_end_finished_with_a_pruned_tag(runs: dict[str, Any]) -> None:
    rest, experiment = runs["rest"], runs["experiment"]["experiment_id"]
    assert runs["first"]["trials"].get("pruned", 0) >= 1 and runs["first"]["trials"].get("complete", 0) >= 1, \
        f"the constraint no longer prunes some of the 3 trials: {runs['first']['trials']}"
    pruned = rest.runs(experiment, "tags.pruned = 'true'")
    assert len(pruned) == runs["first"]["trials"]["pruned"]
    assert {run["status"] for run in pruned} == {"FINISHED"}
    assert all(run["tags"]["nasflow.kind"] == "trial" for run in pruned)
    assert rest.runs(experiment, "attributes.status = 'KILLED'") == []
    assert {run["status"] for run in rest.runs(experiment)} == {"FINISHED"}


def test_the_rerun_adds_no_empty_parent_run_and_no_second_version(runs: dict[str, Any]) -> None:
    rest, experiment, name = runs["rest"], runs["experiment"]["experiment_id"], runs["name"]
    found = rest.runs(experiment)
    parents = [run["run_id"] for run in found if run["tags"]["nasflow.kind"] == "search"]
    children = {run["tags"].get("mlflow.parentRunId") for run in found if run["tags"]["nasflow.kind"] == "trial"}
    assert len(parents) == 1 and set(parents) == children
    versions = rest.get("model-versions/search", filter=f"name='{name}'")["model_versions"]
    assert [v["version"] for v in versions] == ["1"]
    first, second = runs["first"], runs["second"]
    assert (second["version"], second["model_uri"]) == (first["version"], first["model_uri"]) == ("1", f"models:/{name}/1")
    assert second["message"] == f"this model is already version 1 of '{name}'; no new version registered"
    assert second["decision"].startswith(f"champion: the same model bytes as version 1 of {name}")


def test_versions_record_their_test_split_and_the_champion_alias(runs: dict[str, Any], digits) -> None:
    rest, name = runs["rest"], runs["name"]
    model = rest.get("registered-models/get", name=name)["registered_model"]
    assert {a["alias"]: a["version"] for a in model.get("aliases", [])} == {"champion": "1"}
    by_alias = rest.get("registered-models/alias", name=name, alias="champion")["model_version"]
    version = rest.get("model-versions/get", name=name, version="1")["model_version"]
    assert by_alias["run_id"] == version["run_id"]
    tags = tags_of(version)
    _, y_test = digits.split("test")
    assert re.fullmatch(r"[0-9a-f]{16}", tags["test_split_hash"]) and tags["test_split_size"] == str(len(y_test))
    assert float(tags["test_accuracy"]) == pytest.approx(runs["first"]["test_accuracy"], abs=1e-6)
    assert tags["serialization_format"] == "pickle" and tags["trial"] == str(runs["first"]["best_trial"])
    run = rest.get("runs/get", run_id=version["run_id"])["run"]["info"]
    assert run["run_name"] == f"retrain digits_cnn trial {runs['first']['best_trial']}" and run["status"] == "FINISHED"


LOAD_WITHOUT_NASFLOW = CHAMPION_WITHOUT_NASFLOW + """info = mlflow.models.get_model_info('models:/{name}@champion')
inputs = info.signature.inputs.to_dict()[0]
with torch.no_grad():
    logits = model(torch.zeros([2, *inputs['tensor-spec']['shape'][1:]]))
print(json.dumps({{"classes": info.metadata["class_names"], "outputs": list(logits.shape)}}))
"""


def test_the_champion_loads_from_the_server_as_a_module_without_nasflow(runs: dict[str, Any], digits,
                                                                        tmp_path: Path) -> None:
    script = LOAD_WITHOUT_NASFLOW.format(uri=runs["rest"].base, name=runs["name"])
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"classes": digits.classes, "outputs": [2, len(digits.classes)]}


def test_ui_prints_the_runs_table_of_the_experiment_on_the_server(runs: dict[str, Any]) -> None:
    proc = runs["nasflow"]("ui")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rest, experiment = runs["rest"], runs["experiment"]
    url = re.search(r"(http://\S+)", proc.stderr)
    assert url is not None and url.group(1) == f"{rest.base}/#/experiments/{experiment['experiment_id']}/runs"
    resolved = rest.get("experiments/get", experiment_id=url.group(1).split("/")[-2])["experiment"]
    assert resolved["name"] == runs["name"] and resolved["lifecycle_stage"] == "active"
    assert tags_of(resolved)["mlflow.experimentKind"] == "custom_model_development"  # the runs tab, not GenAI
    assert_ui_route(rest.base, "/experiments/:experimentId/runs")



def test_a_best_trial_reused_from_the_knowledge_base_says_where_its_score_came_from(runs: dict[str, Any]) -> None:
    """A new study on the same data: its first trial (the defaults) is answered by the knowledge base."""
    again = summary_of(runs["nasflow"]("run", "--json", "--no-progress", "search.n_trials=1", "train.epochs=1",
                                       "train.retrain_epochs=1", "search.pruner=none", "search.study_name=again"))
    source = again["reused_from"]["0"]
    assert again["best_trial"] == 0 and source.startswith("knowledge base evaluation")
    assert again["decision"].endswith(f"; trial 0's search score came from {source}")
