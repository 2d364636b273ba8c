"""Search spaces: validation, sampling through Optuna, clipping, YAML round trip and edited files."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.errors import SpaceError
from nas.space import Dimension, SearchSpace


def make_space() -> SearchSpace:
    return SearchSpace({
        "width": Dimension("int", low=8, high=64, log=True, default=32),
        "dropout": Dimension("float", low=0.0, high=0.5, default=0.2),
        "act": Dimension("categorical", choices=("relu", "gelu"), default="relu"),
        "bn": Dimension("categorical", choices=(True, False), default=True),
    }, fixed={"groups": 1}, notes=["in_channels: set from the data"])


def test_yaml_round_trip_keeps_every_field(tmp_path: Path) -> None:
    space = make_space()
    path = tmp_path / "space.yaml"
    space.write_yaml(path, "# header")
    again = SearchSpace.read_yaml(path)
    assert again.to_dict() == space.to_dict()
    assert path.read_text().startswith("# header")


def test_samples_stay_inside_every_dimension() -> None:
    space = make_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        params = space.sample(trial)
        assert all(space[k].contains(v) for k, v in params.items())
        study.tell(trial, 0.0)


def test_clip_drops_unknown_labels_and_moves_values_into_range() -> None:
    clipped = make_space().clip({"width": 500, "dropout": -1.0, "act": "tanh", "unknown": 3})
    assert clipped == {"width": 64, "dropout": 0.0, "act": "relu"}


@pytest.mark.parametrize("raw, message", [
    ({"type": "int", "low": 10, "high": 2}, r"'width' has low=10 > high=2"),
    ({"type": "int", "low": 0, "high": 8, "log": True}, r"'width' is log-scaled but low=0"),
    ({"type": "categorical", "choices": []}, r"'width' is categorical but has no choices"),
    ({"type": "interval", "low": 1, "high": 2}, r"'width' has type 'interval'"),
    ({"type": "int", "low": 1, "high": 8, "stride": 2}, r"'width' has unknown key\(s\) \['stride'\]"),
    ({"type": "int", "low": 1, "high": 8, "default": 12}, r"'width' default 12 is outside \[1, 8\]"),
])
def test_edited_yaml_errors_name_the_file_and_label(tmp_path: Path, raw: dict, message: str) -> None:
    path = tmp_path / "edited.yaml"
    SearchSpace({"width": Dimension("int", low=1, high=8)}).write_yaml(path)
    text = path.read_text()
    import yaml

    data = yaml.safe_load(text)
    data["dimensions"]["width"] = raw
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpaceError, match=message) as info:
        SearchSpace.read_yaml(path)
    assert str(path) in str(info.value)


def test_missing_and_broken_files_say_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match=r"does not exist; create it with 'nasflow space"):
        SearchSpace.read_yaml(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("dimensions: {width: [")
    with pytest.raises(SpaceError, match=r"broken.yaml: not valid YAML"):
        SearchSpace.read_yaml(broken)


def test_optuna_distributions_match_the_dimensions() -> None:
    dists = make_space().to_optuna()
    assert dists["width"].log and dists["width"].low == 8 and dists["width"].high == 64
    assert dists["act"].choices == ("relu", "gelu")
