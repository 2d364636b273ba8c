"""Fingerprints: one per function; equivalent writings and samples agree, different functions differ."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.nb201_count import all_cells, benchmark_key, fingerprints, reference_key
from nas.extract import make_factory
from nas.fingerprint import fingerprint
from nas.model_file import ModelSpec
from tests.nas.layers.conftest import one_thread  # noqa: F401 - the same one-thread fixture as the layer tests
from tests.nas.layers.zoo_cases import DIGITS, IMAGES, NB201, batch, case

X = torch.randn(2, 3, 8, 8)


class Pair(nn.Module):
    """Two convs summed, written in several equivalent ways (and a few different ones)."""

    def __init__(self, style: str = "plain", kernel: int = 3, width: int = 4) -> None:
        super().__init__()
        self.style = style
        self.a = nn.Conv2d(3, width, kernel, padding=kernel // 2)
        self.b = nn.Conv2d(3, width, 1)
        self.act = nn.ReLU()
        self.skip = nn.Identity()
        self.unused = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.a(x), self.b(x)
        if self.style == "plain":
            return F.relu(a + b)
        if self.style == "swapped":
            return torch.relu(b + a)
        if self.style == "module":
            return self.act(self.skip(a) + b)
        if self.style == "method":
            return (a + b).relu().contiguous()
        if self.style == "zero_branch":
            return F.relu(a + b + x.mul(0.0).sum(1, keepdim=True))
        if self.style == "dead_branch":
            self.unused(x.mean((2, 3)))
            return F.relu(F.dropout(a, p=0.0) + b)
        if self.style == "gelu":
            return F.gelu(a + b)
        if self.style == "minus":
            return F.relu(a - b)
        if self.style == "shared":
            return F.relu(self.a(x) + a)
        raise ValueError(self.style)


@pytest.mark.parametrize("style", ["swapped", "module", "method", "zero_branch", "dead_branch"])
def test_equivalent_writings_share_a_fingerprint(style: str) -> None:
    assert fingerprint(Pair(style), X) == fingerprint(Pair("plain"), X)


@pytest.mark.parametrize(
    "kwargs", [{"style": "gelu"}, {"style": "minus"}, {"style": "shared"}, {"kernel": 5}, {"width": 5}]
)
def test_different_functions_get_different_fingerprints(kwargs: dict) -> None:
    assert fingerprint(Pair(**kwargs), X) != fingerprint(Pair("plain"), X)


def test_weights_and_batch_size_do_not_enter_the_fingerprint() -> None:
    torch.manual_seed(0)
    a = Pair()
    torch.manual_seed(1)
    b = Pair()
    assert fingerprint(a, X) == fingerprint(b, X[:1]) == fingerprint(torch.fx.symbolic_trace(a), X)


def test_equivalent_samples_of_a_search_space_share_a_fingerprint() -> None:
    factory = make_factory(case("zoo_resnet").spec, IMAGES)
    x = batch(IMAGES)[0][:2]
    base = {"layer2.depth": 0, "conv1.out_channels": 12}
    # the removed block's own dimensions no longer matter
    same = {**base, "layer2.1.conv1.out_channels": 9, "layer2.1.conv1.kernel_size": 5, "activation.relu_7": "gelu"}
    assert fingerprint(factory.build(base), x) == fingerprint(factory.build(same), x)
    for change in (
        {"layer2.depth": 1},
        {"conv1.out_channels": 13},
        {"activation.relu": "silu"},
        {"layer1.0.conv1.kernel_size": 5},
    ):
        assert fingerprint(factory.build({**base, **change}), x) != fingerprint(factory.build(base), x)


def test_equivalent_nb201_cells_share_a_fingerprint_through_the_factory() -> None:
    factory = make_factory(ModelSpec(NB201, "NB201Cell"), DIGITS, mode="constructor")
    x = torch.rand(2, 1, 8, 8)

    def fp(**edges: str) -> str:
        return fingerprint(factory.build(edges), x)

    # node 1 is zero: pooling or passing it on adds nothing, whatever the edge
    dead = {"edge_1_0": "none", "edge_3_1": "none"}
    assert fp(**dead, edge_2_1="avg_pool_3x3") == fp(**dead, edge_2_1="skip_connect") == fp(**dead, edge_2_1="none")
    # node 1 equals node 0: the two edges into node 2 can swap
    swap = {"edge_1_0": "skip_connect"}
    assert fp(**swap, edge_2_0="nor_conv_1x1", edge_2_1="avg_pool_3x3") == fp(
        **swap, edge_2_0="avg_pool_3x3", edge_2_1="nor_conv_1x1"
    )
    assert fp(edge_2_0="nor_conv_1x1") != fp(edge_2_0="nor_conv_3x3")


def test_nb201_fingerprints_group_cells_exactly_as_the_reference_does() -> None:
    cells = random.Random(0).sample(all_cells(), 250)
    groups: dict[str, set[str]] = {}
    references: dict[str, set[str]] = {}
    for cell, fp in zip(cells, fingerprints(cells)):
        key = reference_key(cell)
        groups.setdefault(fp, set()).add(key)
        references.setdefault(key, set()).add(fp)
    assert all(len(v) == 1 for v in groups.values())
    assert all(len(v) == 1 for v in references.values())
    assert len(groups) < len(cells)  # some sampled cells are equivalent


def test_nb201_reference_counts() -> None:
    cells = all_cells()
    assert len(cells) == 15625
    assert len({benchmark_key(c) for c in cells}) == 6466  # the benchmark's own count, reproduced
    assert len({reference_key(c) for c in cells}) == 5485  # exact function identity (affine BatchNorm)
    assert len({reference_key(c, affine=False) for c in cells}) == 5260


def test_untraceable_models_are_fingerprinted_by_the_layers_they_run() -> None:
    factory = make_factory(case("zoo_data_if").spec, DIGITS)
    x = batch(DIGITS)[0][:2]
    assert fingerprint(factory.build({"width": 8}), x) == fingerprint(factory.build({"width": 8}), x)
    assert fingerprint(factory.build({"width": 8}), x) != fingerprint(factory.build({"width": 9}), x)
