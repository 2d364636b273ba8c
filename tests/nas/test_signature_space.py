"""Constructor-argument spaces from ordinary model files, and the errors for what cannot be searched."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from nas.errors import ModelFileError
from nas.factory import ConstructorFactory, DataShape
from nas.model_file import ModelSpec, load_model_class
from nas.signature_space import space_from_signature

REPO = Path(__file__).resolve().parents[2]
DIGITS_CNN = REPO / "examples" / "models" / "digits_cnn.py"


def write_model(tmp_path: Path, body: str, name: str = "user_model") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(
        "from typing import Annotated, Literal\nimport torch\nfrom torch import nn\n\n" + textwrap.dedent(body)
    )
    return path


def test_example_model_space_covers_every_typed_argument() -> None:
    space = space_from_signature(load_model_class(ModelSpec(DIGITS_CNN, "DigitsCNN")))
    assert set(space.dimensions) == {
        "channels",
        "depth",
        "kernel_size",
        "hidden",
        "dropout",
        "activation",
        "batch_norm",
    }
    assert space["channels"].to_dict() == {"type": "int", "low": 8, "high": 64, "log": True, "default": 32}
    assert space["kernel_size"].choices == (3, 5)
    assert space["batch_norm"].choices == (True, False)
    assert any(note.startswith("num_classes") for note in space.notes)


def test_ranges_are_inferred_from_defaults_and_types(tmp_path: Path) -> None:
    path = write_model(
        tmp_path,
        """
        class M(nn.Module):
            def __init__(self, width: int = 32, blocks: int = 2, lr_scale: float = 0.01, dropout: float = 0.1,
                         mode: Literal["a", "b"] = "a", untyped=16, name: str = "x"):
                super().__init__()
    """,
    )
    space = space_from_signature(load_model_class(ModelSpec(path, "M")))
    assert (space["width"].low, space["width"].high, space["width"].log) == (8, 128, True)
    assert (space["blocks"].low, space["blocks"].high) == (1, 4)
    assert space["lr_scale"].log and space["lr_scale"].low == pytest.approx(0.001)
    assert (space["dropout"].low, space["dropout"].high) == (0.0, 0.5)
    assert space["untyped"].kind == "int"
    assert "name" not in space  # a plain str with a default stays as it is


def test_annotated_ge_le_objects_give_a_range(tmp_path: Path) -> None:
    path = write_model(
        tmp_path,
        """
        class Ge:
            def __init__(self, ge=None, le=None):
                self.ge, self.le = ge, le

        class M(nn.Module):
            def __init__(self, width: Annotated[int, Ge(ge=4), Ge(le=12)] = 8):
                super().__init__()
    """,
    )
    space = space_from_signature(load_model_class(ModelSpec(path, "M")))
    assert (space["width"].low, space["width"].high) == (4, 12)


def test_argument_with_neither_default_nor_type_is_named(tmp_path: Path) -> None:
    path = write_model(
        tmp_path,
        """
        class M(nn.Module):
            def __init__(self, width):
                super().__init__()
    """,
    )
    with pytest.raises(ModelFileError, match=r"argument 'width' has neither a default nor a type; .*model.args.width"):
        space_from_signature(load_model_class(ModelSpec(path, "M")), source=str(path))


def test_required_typed_argument_can_be_fixed_by_the_user(tmp_path: Path) -> None:
    path = write_model(
        tmp_path,
        """
        class M(nn.Module):
            def __init__(self, hidden: int, num_classes: int = 10, in_features: int = 4):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
            def forward(self, x):
                return self.net(x)
    """,
    )
    with pytest.raises(ModelFileError, match=r"required constructor argument 'hidden' cannot be searched"):
        ConstructorFactory(ModelSpec(path, "M"), DataShape((30,), 3))
    factory = ConstructorFactory(ModelSpec(path, "M", {"hidden": 7}), DataShape((30,), 3))
    model = factory.build({})
    assert model(torch.zeros(5, 30)).shape == (5, 3)  # data-bound in_features and num_classes adapted


@pytest.mark.parametrize(
    "target, message",
    [
        ("missing/file.py:M", r"model file 'missing/file.py' does not exist"),
        ("{file}:Nope", r"has no class 'Nope'; classes found: Good"),
        ("{file}:helper", r"'helper' in '.*' is neither a torch.nn.Module subclass nor a function"),
    ],
)
def test_bad_targets_are_clear(tmp_path: Path, target: str, message: str) -> None:
    path = write_model(
        tmp_path,
        """
        helper = 3
        class Good(nn.Module):
            pass
    """,
        name="zoo_targets",
    )
    with pytest.raises(ModelFileError, match=message):
        load_model_class(ModelSpec.parse(target.format(file=path)))


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken_model.py"
    path.write_text("import torch\n\nclass M(torch.nn.Module):\n    def __init__(self:\n")
    with pytest.raises(ModelFileError, match=r"broken_model.py' line 4: syntax error"):
        load_model_class(ModelSpec(path, "M"))


def test_yaml_space_with_unknown_argument_is_refused(tmp_path: Path) -> None:
    from nas.space import Dimension, SearchSpace

    edited = SearchSpace({"widht": Dimension("int", low=1, high=4)})
    with pytest.raises(ModelFileError, match=r"\['widht'\] are not constructor arguments of DigitsCNN"):
        ConstructorFactory(ModelSpec(DIGITS_CNN, "DigitsCNN"), DataShape((1, 8, 8), 10), edited)


def test_factory_function_is_a_target_and_its_arguments_are_dimensions(tmp_path: Path) -> None:
    path = write_model(tmp_path, """
        class Net(nn.Module):
            def __init__(self, block, width, num_classes=10):
                super().__init__()
                self.body = nn.Sequential(nn.Flatten(), block(64, width), nn.ReLU(), nn.Linear(width, num_classes))

            def forward(self, x):
                return self.body(x)

        def Net16(width: int = 16, num_classes=10):
            return Net(nn.Linear, width, num_classes)

        def not_a_model():
            return 3
    """, name="factory_functions")
    factory = ConstructorFactory(ModelSpec(path, "Net16"), DataShape((1, 8, 8), 4))
    assert "width" in factory.space.dimensions  # the function's typed, defaulted argument is searched
    model = factory.build({"width": 9})
    assert model.body[1].out_features == 9 and model(torch.zeros(2, 1, 8, 8)).shape == (2, 4)
    bad = ConstructorFactory(ModelSpec(path, "not_a_model"), DataShape((1, 8, 8), 4))
    with pytest.raises(ModelFileError, match=r"not_a_model\(\*\*\{\}\) returned a int, not a torch.nn.Module"):
        bad.build({})


def test_factory_function_without_arguments_gets_a_traced_space(tmp_path: Path) -> None:
    from nas.extract import make_factory

    path = write_model(tmp_path, """
        class Net(nn.Module):
            def __init__(self, block, width, num_classes=10):
                super().__init__()
                self.conv = nn.Conv2d(1, width, 3, padding=1)
                self.fc = block(width * 64, num_classes)

            def forward(self, x):
                return self.fc(self.conv(x).flatten(1))

        def Net16():
            return Net(nn.Linear, 16)
    """, name="traced_factory_function")
    factory = make_factory(ModelSpec(path, "Net16"), DataShape((1, 8, 8), 4))
    assert "conv.out_channels" in factory.space.dimensions
    model = factory.build({**factory.space.defaults(), "conv.out_channels": 5})
    assert model.conv.out_channels == 5 and model(torch.zeros(2, 1, 8, 8)).shape == (2, 4)


def test_class_valued_arguments_resolve_against_the_file_and_dotted_paths(tmp_path: Path) -> None:
    path = write_model(tmp_path, """
        class BasicBlock(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc = nn.Linear(width, width)

            def forward(self, x):
                return self.fc(x)

        class ResNet(nn.Module):
            def __init__(self, block, num_blocks, act, num_classes=10):
                super().__init__()
                self.stem = nn.Sequential(nn.Flatten(), nn.Linear(64, 6), act())
                self.blocks = nn.Sequential(*[block(6) for _ in range(sum(num_blocks))])
                self.fc = nn.Linear(6, num_classes)

            def forward(self, x):
                return self.fc(self.blocks(self.stem(x)))
    """, name="class_valued_args")
    args = {"block": "BasicBlock", "num_blocks": [1, 2], "act": "torch.nn.Tanh"}
    model = ConstructorFactory(ModelSpec(path, "ResNet", args), DataShape((1, 8, 8), 4)).build({})
    assert len(model.blocks) == 3 and type(model.blocks[0]).__name__ == "BasicBlock"
    assert isinstance(model.stem[2], torch.nn.Tanh) and model(torch.zeros(2, 1, 8, 8)).shape == (2, 4)
    unknown = ConstructorFactory(ModelSpec(path, "ResNet", {**args, "block": "NoSuchBlock"}), DataShape((1, 8, 8), 4))
    bad_name = r"model.args.block='NoSuchBlock': .* defines no class or function 'NoSuchBlock'.*name one of: BasicBlock"
    with pytest.raises(ModelFileError, match=bad_name):
        unknown.build({})


def test_wrong_output_shape_ends_before_any_search(tmp_path: Path) -> None:
    from nas.extract import make_factory

    path = write_model(tmp_path, """
        class PerPixel(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 10)

            def forward(self, x):
                return self.fc(x)
    """, name="per_pixel_output")
    wrong_shape = r"PerPixel: a batch of shape \(2, 1, 8, 8\) gives output \(2, 1, 8, 4\), not \(2, 4\)"
    with pytest.raises(ModelFileError, match=wrong_shape):
        make_factory(ModelSpec(path, "PerPixel"), DataShape((1, 8, 8), 4))
