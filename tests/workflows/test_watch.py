"""``nasflow watch`` in a real git + DVC repository: real MLflow/SQLite, real training with tiny budgets.

The module's repository starts with 3 digit classes × 30 images; a first watch round (no champion yet) searches
and registers version 1. Each test then changes the data, runs watch rounds in-process, and puts the original
images back (the registry and the knowledge base keep what the rounds registered).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from nas.study import make_storage
from tests.workflows.conftest import NASFLOW, REPO, cli_env
from tests.workflows.dvc_repo import copy_images, git, make_repo
from workflows.errors import WorkflowError
from workflows.watch import StopRequest, _loop, watch

MODEL = "digits_cnn-digits"


@dataclass
class Watched:
    """The module's repository, its workspace, and the lines of the first watch round."""

    root: Path
    folder: Path
    workspace: Path
    source: Path
    first_lines: list[str]

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.workspace / 'mlflow.db'}"

    def overrides(self, *extra: str) -> list[str]:
        return [f"workspace={self.workspace}", f"model.file={REPO / 'examples/models/digits_cnn.py'}",
                "search.n_trials=2", "train.epochs=1", "train.retrain_epochs=3", *extra]

    def watch(self, *extra: str, rounds: int = 1, research: bool = False) -> list[str]:
        """Run ``rounds`` watch rounds in-process (no pause between them); returns the printed lines."""
        lines: list[str] = []
        assert watch([str(self.folder)], 0, rounds, research, self.overrides(*extra), str(REPO / "conf"),
                     emit=lines.append) == 0
        return lines

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.uri, self.uri)

    def aliases(self) -> dict[str, str]:
        return {alias: str(v) for alias, v in self.client().get_registered_model(MODEL).aliases.items()}

    def versions(self) -> dict[str, dict[str, str]]:
        return {str(v.version): v.tags for v in self.client().search_model_versions(f"name='{MODEL}'")}

    def data_hash(self) -> str:
        from nas.data import load_data_folder

        return load_data_folder(self.folder).content_hash

    def dvc_md5(self) -> str:
        return yaml.safe_load(self.folder.with_name("digits.dvc").read_text())["outs"][0]["md5"]


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory, digits_folder: Path) -> Watched:
    base = tmp_path_factory.mktemp("watch")
    folder = make_repo(base / "repo", digits_folder)
    state = Watched(base / "repo", folder, base / "ws", digits_folder, [])
    state.first_lines = state.watch()
    return state


@pytest.fixture
def data(watched: Watched) -> Watched:
    """The module's repository; the test may add or break images, the original 30 per class come back after."""
    original = {p.relative_to(watched.folder) for p in watched.folder.rglob("*.png")}
    yield watched
    for path in watched.folder.rglob("*.png"):
        if path.relative_to(watched.folder) not in original:
            path.unlink()


@pytest.mark.slow
def test_first_round_without_champion_searches_and_registers_version_1(watched: Watched) -> None:
    header, line, footer = watched.first_lines
    assert header.startswith(f"watch: {watched.folder} every 0 s, 1 round(s)")
    assert line.startswith(f"round 1: {watched.folder}: data {watched.data_hash()[:12]} (90 samples")
    assert "no champion yet: searched study 'digits_cnn-digits'" in line
    assert "→ v1 test_accuracy" in line and "→ champion (first version)" in line
    assert footer == "watch: stopped after 1 round(s); champion of 'digits_cnn-digits': v1"
    tags = watched.versions()["1"]
    assert tags["data_hash"] == watched.data_hash()
    assert tags["dvc_hash"] == watched.dvc_md5() and tags["dvc_hash"].endswith(".dir")
    assert tags["data_git_commit"] == git(watched.root, "rev-parse", "HEAD").strip()


@pytest.mark.slow
def test_added_images_retrain_the_champion_architecture_and_promote_when_better(data: Watched) -> None:
    from knowledge_base import KnowledgeBase

    before_versions, before_champion = data.versions(), data.aliases()["champion"]
    dvc_before = data.dvc_md5()
    added = copy_images(data.source, data.folder, slice(30, 36))
    assert len(added) == 18

    (line,) = data.watch("tracking.promote_margin=-1")[1:-1]  # any test accuracy beats the champion by > -1

    new = str(len(before_versions) + 1)
    assert f"retrained champion v{before_champion}'s architecture → v{new} test_accuracy" in line
    assert "(108 samples" in line and f"→ champion (beat v{before_champion} at" in line
    assert data.aliases()["champion"] == new
    tags = data.versions()[new]
    assert tags["data_hash"] == data.data_hash() != before_versions[before_champion]["data_hash"]
    assert tags["dvc_hash"] == data.dvc_md5() != dvc_before  # `dvc add` made the .dvc file follow the data
    assert tags["nasflow.alias_at_registration"] == "champion" and tags["nasflow.watch"] == "retrain"
    client = data.client()
    arch = {k: v for k, v in client.get_run(client.get_model_version(MODEL, new).run_id).data.params.items()
            if k.startswith("arch.")}
    champion_run = client.get_model_version(MODEL, before_champion).run_id
    assert arch == {k: v for k, v in client.get_run(champion_run).data.params.items() if k.startswith("arch.")}
    kb = KnowledgeBase(f"sqlite:///{data.workspace / 'kb.db'}")
    versions = [kb.get(row["id"]).lineage["mlflow_model_version"]
                for row in kb.query("kind = 'retrain'").to_dicts()]
    assert new in versions


@pytest.mark.slow
def test_a_version_that_is_not_better_by_the_margin_becomes_challenger(data: Watched) -> None:
    champion = data.aliases()["champion"]
    copy_images(data.source, data.folder, slice(36, 40))

    (line,) = data.watch("tracking.promote_margin=1.0")[1:-1]  # nothing beats the champion by more than 1.0

    new = str(len(data.versions()))
    assert f"→ v{new} test_accuracy" in line and f"→ challenger (champion v{champion} at" in line
    assert data.aliases() == {"champion": champion, "challenger": new}


@pytest.mark.slow
def test_a_corrupt_image_fails_the_round_names_the_file_and_keeps_the_champion(data: Watched) -> None:
    aliases, versions, dvc_before = data.aliases(), data.versions(), data.dvc_md5()
    good = min((data.folder / "2").glob("*.png"))
    broken = data.folder / "2" / "zz_broken.png"
    broken.write_bytes(good.read_bytes()[:60])

    lines = data.watch(rounds=2)

    assert len(lines) == 4  # header, one line per round, footer
    assert lines[1].startswith(f"round 1: {data.folder}: failed: {broken}: image is truncated or corrupt")
    assert "replace it with a complete copy or delete it" in lines[1]
    assert f"champion v{aliases['champion']} unchanged" in lines[1]
    assert lines[2] == f"round 2: {data.folder}: unchanged (the last round failed)"
    assert data.aliases() == aliases and data.versions().keys() == versions.keys()
    assert data.dvc_md5() == dvc_before  # broken data is never `dvc add`ed


@pytest.mark.slow
def test_reverting_the_data_registers_nothing_and_names_the_matching_version(data: Watched) -> None:
    copy_images(data.source, data.folder, slice(40, 42))
    (changed,) = data.watch()[1:-1]
    assert "→ v" in changed
    versions = data.versions()
    for path in [p for label in ("0", "1", "2") for p in sorted((data.folder / label).glob("*.png"))[30:]]:
        path.unlink()  # back to the 30 original images per class: the data of version 1

    (line,) = data.watch()[1:-1]

    assert data.data_hash() == versions["1"]["data_hash"]
    assert f"data {data.data_hash()[:12]} (90 samples" in line
    assert "matches existing version v1 of 'digits_cnn-digits' (tag data_hash); no new version registered" in line
    assert data.versions().keys() == versions.keys()
    assert data.dvc_md5() == versions["1"]["dvc_hash"]  # the .dvc file is back at version 1's data too


@pytest.mark.slow
def test_research_starts_a_study_per_data_hash_warm_started_from_the_champion(data: Watched) -> None:
    import optuna

    champion = data.aliases()["champion"]
    champion_params = data.client().get_run(data.client().get_model_version(MODEL, champion).run_id).data.params
    copy_images(data.source, data.folder, slice(42, 44))
    study_name = f"{MODEL}-{data.data_hash()[:12]}"

    (line,) = data.watch(research=True)[1:-1]

    assert f"searched study '{study_name}' (warm-started with" in line and "→ v" in line
    study = optuna.load_study(study_name=study_name, storage=make_storage(f"journal:///{data.workspace / 'optuna.journal'}"))
    first = study.trials[0].params
    assert {f"arch.{k}": str(v) for k, v in first.items()} == {k: v for k, v in champion_params.items()
                                                              if k.startswith("arch.")}
    new = str(len(data.versions()))
    assert data.versions()[new]["study"] == study_name and data.versions()[new]["nasflow.watch"] == "research"


@pytest.mark.slow
def test_a_second_watcher_on_the_same_repository_refuses_and_ctrl_c_stops_the_first(watched: Watched) -> None:
    args = [*NASFLOW, "--config-dir", str(REPO / "conf"), "watch", "--interval", "60", str(watched.folder),
            *watched.overrides()]
    first = subprocess.Popen(args, cwd=watched.root, env=cli_env(watched.workspace), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        header = first.stdout.readline()
        assert header.startswith("watch:"), first.stderr.read()
        round_line = first.stdout.readline()  # the watcher now sleeps 60 s, holding the lock
        assert round_line.startswith("round 1:") and "no new version registered" in round_line

        second = subprocess.run(args, check=False, cwd=watched.root, env=cli_env(watched.workspace), capture_output=True,
                                text=True, timeout=120)
        with pytest.raises(WorkflowError, match=rf"another 'nasflow watch' \(pid {first.pid}\) already watches"):
            watch([str(watched.folder)], 0, 1, overrides=watched.overrides(), config_dir=str(REPO / "conf"))

        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr.strip().splitlines() == [(
        f"nasflow: error: another 'nasflow watch' (pid {first.pid}) already watches the DVC repository "
        f"{watched.root} (it holds {watched.root / '.dvc/tmp/nasflow-watch.lock'}); stop it with Ctrl-C or wait "
        "for it to finish, then start this one")]
    assert first.returncode == 0, err
    assert out == "watch: stopped after Ctrl-C; champion of 'digits_cnn-digits': v" + out.split(": v")[-1]


def test_ctrl_c_finishes_the_round_and_a_second_ctrl_c_aborts_it(tmp_path: Path) -> None:
    lines: list[str] = []
    calls: list[str] = []

    class Folder:
        folder = tmp_path

    def finishing_round(state: object, research: bool) -> object:
        os.kill(os.getpid(), signal.SIGINT)  # the real handler runs: stop after this round
        calls.append("finished")
        return type("Result", (), {"line": "done"})()

    stop = StopRequest()
    with stop.installed():
        assert _loop([Folder()], 0, 5, False, stop, lines.append, finishing_round) == 1
    assert calls == ["finished"] and lines == ["round 1: done"] and stop.requested

    def aborted_round(state: object, research: bool) -> object:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C raises KeyboardInterrupt inside the round
        time.sleep(5)
        calls.append("not reached")
        return None

    lines.clear()
    stop = StopRequest()
    with stop.installed():
        assert _loop([Folder(), Folder()], 0, 5, False, stop, lines.append, aborted_round) == 1
    assert lines == [f"round 1: {tmp_path}: aborted by Ctrl-C; nothing new registered for it"]
    assert calls == ["finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bad_arguments_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match=r"--interval -1 and --max-rounds 1 must be >= 0"):
        watch([str(tmp_path)], -1, 1)
    git(tmp_path, "init", "-q")
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkflowError, match=rf"'{tmp_path / 'plain'}' is not inside a DVC repository .*run 'dvc init'"):
        watch([str(tmp_path / "plain")], 0, 1, overrides=[f"workspace={tmp_path / 'ws'}"], config_dir=str(REPO / "conf"))
    with pytest.raises(WorkflowError, match=r"name one folder twice; list each data folder once"):
        watch(["data/a", "data/a"], 0, 1, config_dir=str(REPO / "conf"))
