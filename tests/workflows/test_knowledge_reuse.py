"""The knowledge base makes later searches cheaper: known fingerprints are reused, similar tasks warm-start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workflows.config import compose_config
from workflows.context import prepare
from workflows.search_run import search_in_process

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def search(workspace: Path, data: Path, *overrides: str):
    cfg = compose_config([f"workspace={workspace}", f"data.path={data}", f"data.name={data.name}", "train.epochs=1",
                          "search.n_trials=3", "search.pruner=none", *overrides], REPO / "conf")
    return search_in_process(prepare(cfg), show_progress=False)


def test_known_fingerprints_are_reused_and_similar_tasks_warm_start(tmp_path: Path, digits_folder: Path) -> None:
    from knowledge_base import KnowledgeBase

    workspace = tmp_path / "ws"
    first = search(workspace, digits_folder)
    trained = {t.user_attrs["arch_key"]: t for t in first.trials}
    assert all(len(key) == 64 for key in trained)  # structural fingerprints, not parameter hashes

    again = search(workspace, digits_folder, "search.study_name=again")
    reused = [t for t in again.trials if str(t.user_attrs.get("reused_from")).startswith("knowledge base evaluation")]
    assert reused and again.trials[0] in reused  # the default configuration was already evaluated on this data
    for trial in reused:
        assert trial.value == pytest.approx(trained[trial.user_attrs["arch_key"]].value)
    kb = KnowledgeBase(f"sqlite:///{workspace / 'kb.db'}")
    assert len(kb.query("state = 'reused'").rows) == len(reused)
    other = search(workspace, digits_folder, "search.study_name=other_lr", "train.lr=0.01")
    assert not [t for t in other.trials if str(t.user_attrs.get("reused_from")).startswith("knowledge base")]

    variant = tmp_path / "digits_small"
    for label in ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"):
        (variant / label).mkdir(parents=True)
        for image in sorted((digits_folder / label).glob("*.png"))[:40]:
            shutil.copy(image, variant / label / image.name)
    warm = search(workspace, variant, "search.warm_start=auto", "search.warm_start_k=2")
    sources = warm.user_attrs["warm_start"]
    assert sources and {s["task"] for s in sources} == {"digits"}
    best_first = max(first.trials, key=lambda t: t.value)
    assert any(t.params == best_first.params for t in warm.trials[:3])  # enqueued right after the defaults
