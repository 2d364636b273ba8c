"""DVC's hash of a data folder for lineage (from ``<folder>.dvc`` or a ``dvc.lock`` output), and the retrain/register
split's own errors. Real git and DVC in tmp repositories; the CLI runs in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.workflows.conftest import NASFLOW, cli_env
from tests.workflows.dvc_repo import git
from workflows.data_versioning import ensure_dvc_repo, track_folder, tracked_dvc_hash


def _repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q")
    ensure_dvc_repo(root)
    return root


def test_the_dvc_hash_of_a_folder_comes_from_its_dvc_file(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo")
    (root / "data" / "a").mkdir(parents=True)
    (root / "data" / "a" / "x.csv").write_text("f,label\n1,0\n")
    assert tracked_dvc_hash(root / "data") is None  # in a DVC repository, but not tracked

    md5 = track_folder(root / "data")

    assert tracked_dvc_hash(root / "data") == md5 == yaml.safe_load((root / "data.dvc").read_text())["outs"][0]["md5"]
    assert md5.endswith(".dir")
    assert tracked_dvc_hash(tmp_path) is None  # no DVC repository at all


def test_the_dvc_hash_of_a_stage_output_comes_from_dvc_lock(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"make": {
        "cmd": "mkdir -p made && echo 1 > made/one.txt", "outs": ["made"]}}}))
    out = subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr

    (entry,) = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["make"]["outs"]
    assert tracked_dvc_hash(root / "made") == entry["md5"] and entry["md5"].endswith(".dir")


def test_retrain_without_registering_needs_a_model_folder_and_register_needs_a_saved_model(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "ws")
    out = subprocess.run([*NASFLOW, "retrain", "--no-register"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "--no-register needs --model-out DIR" in out.stderr

    out = subprocess.run([*NASFLOW, "register", "--model-dir", str(tmp_path / "nothing")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"'{tmp_path / 'nothing'}' holds no retrained model" in out.stderr and "nasflow retrain --model-out" in out.stderr
