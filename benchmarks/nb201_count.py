"""Distinct fingerprints over the NAS-Bench-201 cells (the benchmark counts 6,466 distinct functions).

``count_distinct()`` builds every one of the 15,625 cells of ``examples/models/nb201_cell.py`` (with a tiny
channel count; fingerprints do not depend on widths being large) and counts distinct fingerprints. Run it as
``python -m benchmarks.nb201_count`` (a few minutes on two cores). ``reference_key`` is the function
identity the fingerprint should reproduce, written directly on the cell's operations: a ``none`` edge or an
edge whose input is zero adds nothing (except a conv edge, whose affine BatchNorm turns a zero input into its
learned shift), ``skip_connect`` passes its input through, sums are unordered.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
MODEL_FILE = REPO / "examples" / "models" / "nb201_cell.py"


def load_cell_module():
    """The ``nb201_cell`` model file as a module (loaded the way nasflow loads model files)."""
    from nas.model_file import ModelSpec, load_model_class

    return sys.modules[load_model_class(ModelSpec(MODEL_FILE, "NB201Cell")).__module__]


def all_cells() -> list[dict[str, str]]:
    """Every cell as constructor arguments ``{edge_1_0: op, ...}``."""
    nb = load_cell_module()
    return [dict(zip(nb.EDGES, ops)) for ops in itertools.product(nb.OPS, repeat=len(nb.EDGES))]


def tiny_cell_class(channels: int = 1, affine: bool = True) -> type:
    """``NB201Cell`` with a tiny channel count (and optionally BatchNorm without affine parameters)."""
    nb = load_cell_module()
    return type("TinyNB201Cell", (nb.NB201Cell,), {"channels": channels, "affine": affine})


def fingerprints(cells: Iterable[dict[str, str]], channels: int = 1, affine: bool = True) -> list[str]:
    """The fingerprint of each cell, in order."""
    from nas.fingerprint import fingerprint

    cls = tiny_cell_class(channels, affine)
    example = torch.zeros(1, 3, 4, 4)
    return [fingerprint(cls(**cell), example) for cell in cells]


def count_distinct(channels: int = 1, affine: bool = True) -> int:
    """Distinct fingerprints over all 15,625 cells."""
    return len(set(fingerprints(all_cells(), channels, affine)))


def reference_key(cell: dict[str, str], affine: bool = True) -> str:
    """The function a cell computes, written directly on its operations (equal strings = equal functions).

    A value is a multiset of terms ``(text, weights)``, ``weights`` being the edges with weights it depends on:
    equal terms with the same weights are one value counted twice; equal terms with different weights are
    different values. The key also lists the weighted edges the output depends on (shared or not).
    """
    nodes: dict[int, list[tuple[str, frozenset[str]]]] = {0: [("x", frozenset())]}
    units: dict[str, str] = {}
    for j in (1, 2, 3):
        terms: list[tuple[str, frozenset[str]]] = []
        for i in range(j):
            edge = f"edge_{j}_{i}"
            op, value = cell[edge], nodes[i]
            if op == "none":
                continue
            if op == "skip_connect":
                terms.extend(value)
            elif not value:  # a zero input: pooling keeps zero; ReLU-conv-BN gives BN's learned shift
                if op.startswith("nor_conv") and affine:
                    units[edge] = "bn_shift"
                    terms.append(("bn_shift", frozenset((edge,))))
            else:
                text = f"{op}({_canon(value)})"
                weights = frozenset().union(*(w for _, w in value))
                if op.startswith("nor_conv"):
                    units[edge], weights = text, weights | {edge}
                terms.append((text, weights))
        nodes[j] = terms
    reachable = frozenset().union(*(w for _, w in nodes[3]))
    return _canon(nodes[3]) + " | " + ",".join(sorted(units[e] for e in reachable))


def _canon(terms: list[tuple[str, frozenset[str]]]) -> str:
    counts = Counter(terms)
    return "+".join(sorted(f"{text}*{n}" for (text, _), n in counts.items())) or "0"


def benchmark_key(cell: dict[str, str]) -> str:
    """NAS-Bench-201's own identity of a cell (``Structure.to_unique_str(consider_zero=True)``), for comparison.

    It drops a ``none`` edge's term only where its input is a lone zero, keeps ``#`` (zero) terms inside sums, and
    does not flatten a sum passed on by ``skip_connect``; so it tells apart cells that compute the same function
    (``x + 0`` and ``x``), which is why it counts 6,466 where exact identity gives fewer.
    """
    nodes = {0: "0"}
    for j in (1, 2, 3):
        terms = []
        for i in range(j):
            op, value = cell[f"edge_{j}_{i}"], nodes[i]
            if op == "none" or value == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(value)
            else:
                terms.append(f"({value})@{op}")
        nodes[j] = "+".join(sorted(terms))
    return nodes[3]


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    print(f"distinct fingerprints: {count_distinct()} of 15625 cells ({time.perf_counter() - started:.0f} s)")
    print(f"reference functions (affine BN): {len({reference_key(c) for c in all_cells()})}")
    print(f"reference functions (BN without affine): {len({reference_key(c, affine=False) for c in all_cells()})}")
    print(f"NAS-Bench-201's own unique strings: {len({benchmark_key(c) for c in all_cells()})}")
