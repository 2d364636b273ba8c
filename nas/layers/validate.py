"""Checks for layer dimensions read back from an edited space YAML."""

from __future__ import annotations

from typing import Any

from nas.errors import SpaceError
from nas.layers.modules import ACTIVATION_MODULES
from nas.space import Dimension


def check_layer_dimension(label: str, dim: Dimension, extracted: Dimension, source: str) -> None:
    """Raise :class:`SpaceError` naming ``label`` if an edited layer dimension cannot be built."""
    where = f"{source}: dimension '{label}'"
    kind = _kind(label)
    if kind == "activation":
        bad = [c for c in dim.choices or () if c not in ACTIVATION_MODULES] if dim.kind == "categorical" else [dim.kind]
        if bad:
            raise SpaceError(
                f"{where} has activation(s) {bad}; use categorical choices among {', '.join(ACTIVATION_MODULES)}"
            )
        return
    if kind == "kernel":
        values: list[Any] = list(dim.choices or ()) if dim.kind == "categorical" else [dim.low, dim.high]
        bad = [v for v in values if not isinstance(v, int) or v < 1 or v % 2 == 0]
        if bad:
            raise SpaceError(f"{where} has kernel size(s) {bad}; use odd positive integers (1, 3, 5, ...)")
        if dim.kind != "categorical":
            raise SpaceError(f"{where} must be categorical (a list of odd sizes), got type '{dim.kind}'")
        return
    if dim.kind != extracted.kind:
        raise SpaceError(
            f"{where} has type '{dim.kind}' but this layer dimension is '{extracted.kind}'; "
            f"use {extracted.to_dict()} or narrow it"
        )
    values = list(dim.choices or ()) if dim.kind == "categorical" else [dim.low, dim.high]
    if kind == "dropout" and any(not 0.0 <= float(v) < 1.0 for v in values):
        raise SpaceError(f"{where} has dropout rate(s) {values} outside [0, 1); use values like 0.0 .. 0.5")
    if kind == "depth" and any(int(v) < 0 for v in values):
        raise SpaceError(f"{where} has a negative depth in {values}; use 0 or more blocks")
    if kind == "width" and any(int(v) < 1 for v in values):
        raise SpaceError(f"{where} has a width below 1 in {values}; use at least 1")


def _kind(label: str) -> str:
    if label.startswith("activation."):
        return "activation"
    if label.endswith(".kernel_size"):
        return "kernel"
    if label.endswith(".p"):
        return "dropout"
    if label.endswith(".depth"):
        return "depth"
    if label.endswith(".bidirectional"):
        return "direction"
    return "width"
