"""The NAS-Bench-201 lookup tables (``../shared/benchmarks/nb201/``): one row per cell string."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[str, ...] = ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2")
DEFAULT_TABLE_DIR = Path(__file__).resolve().parents[2] / "shared/benchmarks/nb201"  # the CIFAR-10 tables
TABLE_DIR = Path(os.environ.get("NASFLOW_NB201_DIR", DEFAULT_TABLE_DIR))
SIGNALS = ("cifar10", "cifar100", "imagenet16_120")  # the 12-epoch validation columns a search may see


@dataclass(frozen=True)
class Cell:
    """One architecture's figures: 12-epoch validation accuracy per task, CIFAR-10 test accuracy after 200 epochs."""

    arch: str
    val: dict[str, float]
    test_acc_200ep: float


def cell_string(params: dict[str, str]) -> str:
    """The benchmark's cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` for six edge arguments."""
    e = [params[name] for name in EDGES]
    return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"


def params_of(arch: str) -> dict[str, str]:
    """The six edge arguments of a cell string (the inverse of :func:`cell_string`)."""
    ops = [token.split("~")[0] for token in arch.replace("+", "").split("|") if token]
    return dict(zip(EDGES, ops, strict=True))


@lru_cache(maxsize=2)
def load_table(folder: Path = TABLE_DIR) -> dict[str, Cell]:
    """Every cell of ``cifar10.csv`` joined with ``transfer_val_12ep.csv``, keyed by cell string."""
    if not (folder / "cifar10.csv").exists():
        raise FileNotFoundError(
            f"no NAS-Bench-201 table at {folder}; set NASFLOW_NB201_DIR to the folder of cifar10.csv"
        )
    with open(folder / "transfer_val_12ep.csv", newline="") as handle:
        transfer = {row["arch"]: row for row in csv.DictReader(handle)}
    table: dict[str, Cell] = {}
    with open(folder / "cifar10.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            other = transfer[row["arch"]]
            val = {
                "cifar10": float(row["val_acc_12ep"]),
                "cifar100": float(other["cifar100_val_acc_12ep"]),
                "imagenet16_120": float(other["imagenet16_120_val_acc_12ep"]),
            }
            table[row["arch"]] = Cell(row["arch"], val, float(row["test_acc_200ep"]))
    return table
