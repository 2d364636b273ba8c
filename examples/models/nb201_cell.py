"""The NAS-Bench-201 cell as an ordinary model file: six edges, each one of five operations.

A 4-node cell: node 0 is the stem's output, node j sums ``edge_j_i(node i)`` over i < j, node 3 is the cell's
output. Each ``edge_j_i`` argument picks the operation of edge i -> j, in the order of the benchmark's cell
string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``. Stem and head are as in NAS-Bench-201 (3x3 conv + BN before the
cell; BN, ReLU, global pooling and a linear classifier after it). Plain PyTorch: no nasflow import.
"""

from typing import Literal

import torch
from torch import nn

Op = Literal["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[str, ...] = ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2")


class Zero(nn.Module):
    """The ``none`` operation: the edge contributes nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int, affine: bool = True) -> nn.Module:
    """One NAS-Bench-201 operation on ``channels`` channels (stride 1, same size)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name in ("nor_conv_1x1", "nor_conv_3x3"):
        k = 1 if name == "nor_conv_1x1" else 3
        return nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(channels, affine=affine),
        )
    raise ValueError(f"unknown NAS-Bench-201 operation {name!r}; use one of {', '.join(OPS)}")


class NB201Cell(nn.Module):
    """One NAS-Bench-201 cell between a stem and a classifier; the default is the benchmark's best cell."""

    channels = 16
    affine = True

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        edge_1_0: Op = "nor_conv_3x3",
        edge_2_0: Op = "nor_conv_3x3",
        edge_2_1: Op = "nor_conv_3x3",
        edge_3_0: Op = "skip_connect",
        edge_3_1: Op = "nor_conv_3x3",
        edge_3_2: Op = "nor_conv_3x3",
    ) -> None:
        super().__init__()
        c = self.channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.edge_1_0 = make_op(edge_1_0, c, self.affine)
        self.edge_2_0 = make_op(edge_2_0, c, self.affine)
        self.edge_2_1 = make_op(edge_2_1, c, self.affine)
        self.edge_3_0 = make_op(edge_3_0, c, self.affine)
        self.edge_3_1 = make_op(edge_3_1, c, self.affine)
        self.edge_3_2 = make_op(edge_3_2, c, self.affine)
        self.head = nn.Sequential(
            nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n0 = self.stem(x)
        n1 = self.edge_1_0(n0)
        n2 = self.edge_2_0(n0) + self.edge_2_1(n1)
        n3 = self.edge_3_0(n0) + self.edge_3_1(n1) + self.edge_3_2(n2)
        return self.head(n3)


def cell_string(**edges: str) -> str:
    """The benchmark's cell string for these edge arguments (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``)."""
    e = {name: edges.get(name, NB201Cell.__init__.__defaults__[2 + i]) for i, name in enumerate(EDGES)}
    return (
        f"|{e['edge_1_0']}~0|+|{e['edge_2_0']}~0|{e['edge_2_1']}~1|+"
        f"|{e['edge_3_0']}~0|{e['edge_3_1']}~1|{e['edge_3_2']}~2|"
    )
