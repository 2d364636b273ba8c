"""One space from a model file: YAML round trip, edits validated by label, modes, and what a sample controls."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nas.errors import SpaceError
from nas.extract import make_factory
from nas.space import SearchSpace
from tests.nas.layers.zoo_cases import DIGITS, TABLE, batch, case


def edited(tmp_path: Path, space: SearchSpace, edit) -> SearchSpace:
    """``space`` written as YAML, changed by ``edit(raw_dict)``, and read back (as a user would)."""
    path = tmp_path / "space.yaml"
    space.write_yaml(path)
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return SearchSpace.read_yaml(path)


def test_generated_yaml_round_trips_and_lists_the_adaptations(tmp_path: Path) -> None:
    factory = make_factory(case("zoo_mnist").spec, DIGITS)
    again = make_factory(case("zoo_mnist").spec, DIGITS, space=edited(tmp_path, factory.space, lambda raw: None))
    assert again.space.dimensions == factory.space.dimensions
    raw = yaml.safe_load((tmp_path / "space.yaml").read_text())
    assert "fc1.in_features: 9216 -> 256 (flatten size for input 1x8x8)" in raw["notes"]
    assert raw["dimensions"]["conv1.out_channels"] == {"type": "int", "low": 8, "high": 128, "log": True, "default": 32}


def test_narrowed_frozen_and_deleted_dimensions_are_respected(tmp_path: Path) -> None:
    factory = make_factory(case("zoo_mnist").spec, DIGITS)

    def edit(raw: dict) -> None:
        raw["dimensions"]["conv1.out_channels"].update(low=16, high=20, default=16)
        del raw["dimensions"]["dropout2.p"]
        del raw["dimensions"]["conv2.kernel_size"]
        raw["fixed"] = {"conv2.kernel_size": 1}

    narrowed = make_factory(case("zoo_mnist").spec, DIGITS, space=edited(tmp_path, factory.space, edit))
    assert "dropout2.p" not in narrowed.space and "conv2.kernel_size" not in narrowed.space
    assert (narrowed.space["conv1.out_channels"].low, narrowed.space["conv1.out_channels"].high) == (16, 20)
    model = narrowed.build({"conv1.out_channels": 18})
    assert model.conv1.out_channels == 18 and model.conv2.in_channels == 18
    assert model.conv2.kernel_size == (1, 1)  # frozen at the fixed value
    assert model.dropout2.p == 0.5  # deleted: today's value
    assert model(batch(DIGITS)[0]).shape == (8, 10)


def test_unknown_label_in_an_edited_space_names_the_label(tmp_path: Path) -> None:
    factory = make_factory(case("zoo_mnist").spec, DIGITS)
    space = edited(
        tmp_path,
        factory.space,
        lambda raw: raw["dimensions"].update({"conv9.out_channels": {"type": "int", "low": 1, "high": 4}}),
    )
    with pytest.raises(
        SpaceError,
        match=r"dimension 'conv9\.out_channels' is neither a constructor argument nor a "
        r"layer dimension of .*zoo_mnist\.py:MnistNet; remove it",
    ):
        make_factory(case("zoo_mnist").spec, DIGITS, space=space)


@pytest.mark.parametrize(
    ("label", "spec", "message"),
    [
        ("activation.relu", {"type": "categorical", "choices": ["relu", "swish2"]}, r"activation\(s\) \['swish2'\]"),
        ("conv1.kernel_size", {"type": "categorical", "choices": [3, 4]}, r"kernel size\(s\) \[4\]; use odd"),
        ("dropout1.p", {"type": "float", "low": 0.0, "high": 1.5}, r"dropout rate\(s\) \[0\.0, 1\.5\] outside"),
        ("conv1.out_channels", {"type": "float", "low": 1.0, "high": 4.0}, r"type 'float' but this layer"),
    ],
)
def test_invalid_edits_of_layer_dimensions_name_the_label(tmp_path: Path, label: str, spec: dict, message: str) -> None:
    factory = make_factory(case("zoo_mnist").spec, DIGITS)
    space = edited(tmp_path, factory.space, lambda raw: raw["dimensions"].update({label: spec}))
    with pytest.raises(SpaceError, match=rf"dimension '{label}' has {message}"):
        make_factory(case("zoo_mnist").spec, DIGITS, space=space)


def test_constructor_and_layer_dimensions_live_in_one_space() -> None:
    factory = make_factory(case("zoo_required_args").spec, DIGITS)
    assert {"width", "fc1.out_features", "activation.act"} <= set(factory.space.dimensions)
    assert factory.space.fixed == {"hidden": 24}
    model = factory.build({"width": 6, "fc1.out_features": 40, "activation.act": "silu"})
    assert model.features.get_submodule("0").out_channels == 6 and model.fc1.out_features == 40
    assert type(model.act).__name__ == "SiLU"


def test_modes_choose_which_dimensions_are_searched() -> None:
    spec = case("zoo_required_args").spec
    constructor = make_factory(spec, DIGITS, mode="constructor")
    assert set(constructor.space.dimensions) == {"width"}
    layers = make_factory(spec, DIGITS, mode="layers")
    assert "width" not in layers.space and "features.0.out_channels" in layers.space
    assert layers.space.fixed == {"hidden": 24, "width": 10}  # a required range is fixed at its middle
    assert layers.build({"features.0.out_channels": 7})(batch(DIGITS)[0]).shape == (8, 10)
    mlp = make_factory(case("zoo_mlp").spec, TABLE, mode="constructor")
    assert len(mlp.space) == 0 and mlp.build({})(batch(TABLE)[0]).shape == (8, 3)  # still fitted to the data
    with pytest.raises(SpaceError, match=r"extraction mode 'all' is unknown; use one of auto, constructor, layers"):
        make_factory(spec, DIGITS, mode="all")


def test_unknown_parameter_at_build_names_it() -> None:
    factory = make_factory(case("zoo_mlp").spec, TABLE)
    with pytest.raises(
        SpaceError, match=r"parameter\(s\) \['net\.99\.p'\] are not dimensions of .*zoo_mlp\.py:TableMLP"
    ):
        factory.build({"net.99.p": 0.1})
