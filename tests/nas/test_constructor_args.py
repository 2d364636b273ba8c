"""One rule decides whether a ``model.args`` string reaches the constructor as a string or as the class/function of
the model file it names (``nas.model_file.constructor_value``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from nas.errors import ModelFileError
from nas.factory import ConstructorFactory, DataShape
from nas.model_file import ModelSpec, argument_uses, constructor_value, file_namespace, load_model_class

DIGITS = DataShape((1, 8, 8), 4)
ZOO = Path(__file__).resolve().parent / "zoo"

BLOCKS = """
    import torch
    from torch import nn


    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, width):
            super().__init__()
            self.fc = nn.Linear(width, width)

        def forward(self, x):
            return self.fc(x)


    def wide():
        return 'a function named like a config key'


    cfg = {'wide': 6, 'BasicBlock': 5}


    class Net(nn.Module):
        def __init__(self, block, size, act='wide', tag=None, norm: str = 'BasicBlock', extra=()):
            super().__init__()
            self.width = cfg[size]
            self.flat = nn.Sequential(nn.Flatten(), nn.Linear(64, self.width * block.expansion))
            self.blocks = nn.Sequential(block(self.width), *[b(self.width) for b in extra])
            self.fc = nn.Linear(self.width, 4)
            self.act, self.tag, self.norm = act, tag, norm

        def forward(self, x):
            return self.fc(self.blocks(self.flat(x)))
"""


def net_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(BLOCKS))
    return path


def build(path: Path, **args: object) -> torch.nn.Module:
    return ConstructorFactory(ModelSpec(path, "Net", dict(args)), DIGITS).build({})


def test_strings_that_the_code_uses_as_strings_stay_strings(tmp_path: Path) -> None:
    """Indexed (``cfg[size]``), defaulted to a str, annotated str: kept, even where the file defines that name."""
    model = build(net_file(tmp_path, "strings_kept"), block="BasicBlock", size="wide", act="wide", norm="BasicBlock")
    assert model.width == 6 and model.act == "wide" and model.norm == "BasicBlock"
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 4)


def test_names_of_the_file_and_dotted_paths_become_objects(tmp_path: Path) -> None:
    """Called/attribute-read (``block``): resolved; unknown use (``tag``, ``extra``): resolved when the name exists,
    element-wise in lists; a string naming nothing passes as a string where the use is unknown."""
    path = net_file(tmp_path, "names_resolved")
    model = build(path, block="BasicBlock", size="BasicBlock", tag="torch.nn.Tanh", extra=["BasicBlock"])
    assert type(model.blocks[0]).__name__ == "BasicBlock" and len(model.blocks) == 2
    assert model.tag is torch.nn.Tanh and model.width == 5
    assert build(path, block="BasicBlock", size="wide", tag="NotDefinedHere").tag == "NotDefinedHere"


def test_a_name_that_must_be_an_object_but_names_nothing_is_one_line(tmp_path: Path) -> None:
    path = net_file(tmp_path, "bad_block")
    bad = (r"model.args.block='BasicBlok': '.*bad_block.py' defines no class or function 'BasicBlok' and it is no "
           r"importable dotted path; the constructor uses block as an object, so name one of: BasicBlock, Net, wide")
    with pytest.raises(ModelFileError, match=bad) as info:
        build(path, block="BasicBlok", size="wide")
    assert "\n" not in str(info.value)


def test_published_vgg_name_stays_a_string_though_a_factory_function_has_that_name() -> None:
    spec = ModelSpec(ZOO / "pub_vgg.py", "VGG")
    vgg, namespace = load_model_class(spec), file_namespace(spec)
    assert callable(namespace["VGG11"])  # def VGG11(): return VGG('VGG11')
    assert "vgg_name" in argument_uses(vgg).as_string  # cfg[vgg_name], vgg_name != 'VGGS'
    assert constructor_value(vgg, "vgg_name", "VGG11", namespace, "pub_vgg.py") == "VGG11"
    resnet = ModelSpec(ZOO / "pub_resnet.py", "ResNet")
    block = constructor_value(load_model_class(resnet), "block", "Bottleneck", file_namespace(resnet), "pub_resnet.py")
    assert block is file_namespace(resnet)["Bottleneck"]


def test_a_string_called_outside_the_class_still_fails_in_one_line(tmp_path: Path) -> None:
    """The use is unknown (a module-level helper calls it), so the string passes; the call then fails, named."""
    path = tmp_path / "helper_calls.py"
    path.write_text(textwrap.dedent("""
        from torch import nn


        def make(block):
            return block(64)


        class Net(nn.Module):
            def __init__(self, block):
                super().__init__()
                self.body = nn.Sequential(nn.Flatten(), make(block), nn.Linear(64, 4))

            def forward(self, x):
                return self.body(x)
    """))
    assert type(build(path, block="torch.nn.Identity").body[1]).__name__ == "Identity"  # resolved: the name exists
    with pytest.raises(ModelFileError, match=r"Net called a string argument \(\{'block': 'NoSuch'\}\).*set model.args"):
        build(path, block="NoSuch")
