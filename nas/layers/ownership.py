"""Which layer dimensions a constructor argument already controls (so one space never searches a value twice)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nas.space import Dimension, SearchSpace


def base_value(dim: Dimension) -> Any:
    """Today's value of a constructor dimension, or a middle value when the argument has no default."""
    if dim.default is not None:
        return dim.default
    if dim.kind == "categorical":
        return (dim.choices or (None,))[0]
    low, high = float(dim.low), float(dim.high)  # type: ignore[arg-type]
    middle = (low * high) ** 0.5 if dim.log and low > 0 else (low + high) / 2
    return round(middle) if dim.kind == "int" else middle


def alternatives(dim: Dimension, current: Any) -> list[Any]:
    """A few values of ``dim`` other than ``current``, to see what changing it changes."""
    if dim.kind == "categorical":
        return [c for c in dim.choices or () if c != current][:3]
    if dim.kind == "int":
        step = int(dim.step or 1)
        other = current + step if current + step <= dim.high else current - step
        return [other] if dim.low <= other <= dim.high and other != current else []
    other = (float(current) + float(dim.high)) / 2  # type: ignore[arg-type]
    return [other] if other != current else [(float(current) + float(dim.low)) / 2]  # type: ignore[arg-type]


def owned_labels(
    constructor_space: SearchSpace,
    base_params: Mapping[str, Any],
    layer_defaults: Mapping[str, Any],
    layer_defaults_for: Callable[[dict[str, Any]], Mapping[str, Any] | None],
) -> dict[str, list[str]]:
    """For each constructor argument, the layer labels whose value or existence changes with it.

    ``layer_defaults_for(params)`` gives the layer labels and defaults of the model built with constructor
    ``params`` (``None`` if that build fails, which is then ignored).
    """
    owners: dict[str, list[str]] = {}
    for name, dim in constructor_space.dimensions.items():
        changed: set[str] = set()
        for value in alternatives(dim, base_params[name]):
            other = layer_defaults_for({**base_params, name: value})
            if other is None:
                continue
            changed.update(label for label, default in layer_defaults.items() if other.get(label, _MISSING) != default)
        if changed:
            owners[name] = [label for label in layer_defaults if label in changed]
    return owners


_MISSING = object()
