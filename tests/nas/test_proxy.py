"""The training-free score (``search.proxy=synflow``): SynFlow of a built model, once per configuration."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nas.errors import ModelFileError, SearchError
from nas.factory import ConstructorFactory, DataShape
from nas.layers.graph import TraceFailure
from nas.model_file import ModelSpec
from nas.proxy import SynflowScore, make_score, synflow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = torch.zeros(4, 3, 8, 8)


def mlp(*widths: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
    return nn.Sequential(*layers)


def test_synflow_of_a_linear_layer_is_its_closed_form() -> None:
    layer = nn.Linear(3, 2)
    # R = sum_i sum_j |w_ij| + |b_i| on all-ones input: each |theta| * dR/dtheta is |theta| itself.
    expected = layer.weight.detach().double().abs().sum() + layer.bias.detach().double().abs().sum()
    assert synflow(layer, torch.zeros(5, 3)) == pytest.approx(math.log(float(expected)), rel=1e-9)


def test_synflow_leaves_the_model_as_it_was() -> None:
    model = mlp(192, 32, 10).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert synflow(model, EXAMPLE) is not None
    assert model.training
    assert all(torch.equal(before[k], v) and v.dtype == before[k].dtype for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_more_signal_paths_score_higher() -> None:
    torch.manual_seed(0)
    narrow, wide, deep = mlp(192, 8, 10), mlp(192, 64, 10), mlp(192, 64, 64, 10)
    scores = [synflow(m, EXAMPLE) for m in (narrow, wide, deep)]
    assert scores == sorted(scores) and len(set(scores)) == 3


class _FloatOnly(nn.Module):
    """Adds a float32 constant made in forward: cannot run in double precision."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) @ torch.ones(3, 3, dtype=torch.float32)


def test_a_model_that_cannot_be_scored_or_has_no_parameters_scores_none() -> None:
    assert synflow(_FloatOnly(), torch.zeros(2, 3)) is None
    assert synflow(nn.Flatten(), EXAMPLE) is None


def test_a_configuration_is_scored_once_with_the_same_weights_whatever_the_random_state() -> None:
    factory = ConstructorFactory(ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"),
                                 DataShape((1, 8, 8), 10))
    builds: list[dict[str, Any]] = []

    def build(params: dict[str, Any]) -> nn.Module:
        builds.append(dict(params))
        return factory.build(params)

    params = {"channels": 16, "depth": 2, "kernel_size": 3, "hidden": 32}
    first = SynflowScore(build, torch.zeros(2, 1, 8, 8))
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    value = first(params)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global random state is left alone
    assert first(dict(reversed(params.items()))) == value and len(builds) == 1
    torch.manual_seed(999)
    assert SynflowScore(build, torch.zeros(2, 1, 8, 8))(params) == value
    assert first({**params, "channels": 64}) > value


@pytest.mark.parametrize("error", [ModelFileError("DigitsCNN(**{...}) failed"), TraceFailure("control flow"),
                                   RuntimeError("shape mismatch")])
def test_a_configuration_that_does_not_build_scores_none(error: Exception) -> None:
    def build(params: dict[str, Any]) -> nn.Module:
        raise error

    assert SynflowScore(build, EXAMPLE)({"channels": 3}) is None


def test_proxy_names() -> None:
    assert isinstance(make_score("synflow", lambda p: mlp(192, 10), EXAMPLE), SynflowScore)
    assert make_score("none", lambda p: mlp(192, 10), EXAMPLE) is None
    with pytest.raises(SearchError, match=r"unknown proxy 'jacov'; use one of synflow, none \(search.proxy=...\)"):
        make_score("jacov", lambda p: mlp(192, 10), EXAMPLE)
