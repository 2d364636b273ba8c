"""Results are reused only between trials trained with the same settings, and say where they came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.factory import ConstructorFactory, DataShape
from nas.model_file import ModelSpec
from nas.search import Reused, run_search, settings_key
from nas.study import SearchSettings
from nas.training import TrainSettings
from tests.nas.recorder import Recorder

REPO = Path(__file__).resolve().parents[2]


def same_key(_model: Any, _example: Any, _params: dict[str, Any]) -> str:
    return "one-architecture"  # every sample counts as the same architecture


def test_in_study_reuse_needs_the_same_training_settings(digits, tmp_path: Path) -> None:
    factory = ConstructorFactory(ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"),
                                 DataShape(digits.input_shape, digits.n_classes))
    settings = SearchSettings(n_trials=2, storage=f"sqlite:///{tmp_path / 'o.db'}", study_name="s", proxy="none",
                              pruner="none")
    recorder = Recorder()
    study = run_search(factory, digits, TrainSettings(epochs=1, batch_size=256), settings, recorder, arch_key=same_key)
    assert study.trials[1].user_attrs["reused_from"] == 0 and recorder.trained == {0}
    longer = SearchSettings(**{**settings.__dict__, "n_trials": 3})
    study = run_search(factory, digits, TrainSettings(epochs=2, batch_size=256), longer, recorder, arch_key=same_key)
    assert "reused_from" not in study.trials[2].user_attrs and recorder.trained == {0, 2}


def test_knowledge_base_reuse_carries_its_source(digits, tmp_path: Path) -> None:
    factory = ConstructorFactory(ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"),
                                 DataShape(digits.input_shape, digits.n_classes))
    asked: list[str] = []

    def reuse(key: str) -> Reused:
        asked.append(key)
        return Reused({"val_accuracy": 0.5}, "knowledge base evaluation 7")

    study = run_search(factory, digits, TrainSettings(epochs=1), SearchSettings(n_trials=1, proxy="none"),
                       reuse=reuse)
    assert study.trials[0].user_attrs["reused_from"] == "knowledge base evaluation 7" and study.trials[0].value == 0.5
    assert asked


def test_settings_key_changes_with_every_setting() -> None:
    base = TrainSettings()
    changed = [TrainSettings(**{**base.as_dict(), name: value}) for name, value in
               (("epochs", 9), ("batch_size", 32), ("lr", 0.01), ("optimizer", "sgd"), ("weight_decay", 1e-4),
                ("seed", 1), ("schedule", "constant"))]
    keys = {settings_key(s) for s in changed}
    assert len(keys) == len(changed) and settings_key(base) not in keys
    assert settings_key(TrainSettings()) == settings_key(base)
