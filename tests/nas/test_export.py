"""Standalone export: a plain PyTorch file plus weights that reproduce the model within 1e-6."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
import torch

from nas.export import ExportError, export_standalone, load_exported
from nas.extract import make_factory
from tests.nas.layers.conftest import one_thread  # noqa: F401 - the same one-thread fixture as the layer tests
from tests.nas.layers.zoo_cases import CASES, DIGITS, NB201, Case, batch, case, train_step

optuna.logging.set_verbosity(optuna.logging.WARNING)
TRACEABLE = [c for c in CASES if c.file != "zoo_data_if.py"]


def trained_sample(zoo: Case, seed: int = 3) -> torch.nn.Module:
    """A random sample of ``zoo``'s space after one training step (so BatchNorm statistics are not trivial)."""
    factory = make_factory(zoo.spec, zoo.shape)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
    model = factory.build(factory.space.sample(trial))
    train_step(model, *batch(zoo.shape, seed=seed))
    return model.eval()


@pytest.mark.parametrize("zoo", TRACEABLE, ids=str)
def test_exported_file_reproduces_the_model(zoo: Case, tmp_path: Path) -> None:
    model = trained_sample(zoo)
    x = batch(zoo.shape, seed=7)[0]
    py_path, weights_path = export_standalone(model, x, tmp_path, class_name="Winner")
    loaded = load_exported(py_path, weights_path)
    with torch.no_grad():
        assert (loaded(x) - model(x)).abs().max().item() <= 1e-6
    assert type(loaded).__name__ == "Winner"
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())


def test_exported_file_loads_without_nasflow(tmp_path: Path) -> None:
    model = trained_sample(case("zoo_resnet"))
    x = batch(case("zoo_resnet").shape)[0]
    py_path, weights_path = export_standalone(model, x, tmp_path / "export")
    torch.save({"x": x, "y": model(x).detach()}, tmp_path / "io.pt")
    imports = [line for line in py_path.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import torch", "from torch import nn"]
    script = textwrap.dedent(f"""
        import importlib.util, sys
        sys.modules["nas"] = None  # importing nasflow would fail
        import torch
        spec = importlib.util.spec_from_file_location("exported", {str(py_path)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.ExportedModel()
        model.load_state_dict(torch.load({str(weights_path)!r}))
        io = torch.load({str(tmp_path / "io.pt")!r})
        print((model.eval()(io["x"]) - io["y"]).abs().max().item())
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) <= 1e-6


def test_a_plain_model_exports_too(tmp_path: Path) -> None:
    from nas.model_file import ModelSpec, load_model_class

    model = load_model_class(ModelSpec(NB201, "NB201Cell"))(in_channels=1, edge_2_1="avg_pool_3x3").eval()
    x = batch(DIGITS)[0]
    loaded = load_exported(*export_standalone(model, x, tmp_path))
    with torch.no_grad():
        assert (loaded(x) - model(x)).abs().max().item() <= 1e-6


def test_untraceable_model_cannot_be_exported_as_a_file(tmp_path: Path) -> None:
    factory = make_factory(case("zoo_data_if").spec, DIGITS)
    with pytest.raises(ExportError, match=r"cannot export DataIfNet: torch\.fx cannot trace.*constructor arguments"):
        export_standalone(factory.build({}), batch(DIGITS)[0], tmp_path)


def test_class_name_must_be_an_identifier(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"class name 'my model' is not a Python identifier"):
        export_standalone(torch.nn.Linear(2, 2), torch.zeros(1, 2), tmp_path, class_name="my model")
