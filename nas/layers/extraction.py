"""Layer-level search dimensions of one model instance, checked on the data before anyone samples them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from nas.errors import ModelFileError
from nas.layers.adapt import AdaptFailure
from nas.layers.advice import advice
from nas.layers.graph import trace
from nas.layers.plan import LayerPlan, analyze
from nas.space import Dimension


def example_input(input_shape: tuple[int, ...], batch: int = 2) -> torch.Tensor:
    """A small seeded batch of the data's shape (values do not matter, shapes do)."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn((batch, *input_shape), generator=generator)


@dataclass
class LayerExtraction:
    """The fitted, traced model, its plan, the checked dimensions and the notes for the space."""

    gm: fx.GraphModule
    plan: LayerPlan
    dimensions: dict[str, Dimension]
    notes: list[str] = field(default_factory=list)


def fit_to_data(
    model: nn.Module, input_shape: tuple[int, ...], n_classes: int, where: str, sites: bool = True
) -> tuple[fx.GraphModule, LayerPlan]:
    """Trace ``model`` and fit it to the data; a layer that cannot be fitted is a :class:`ModelFileError`.
    Without ``sites`` the plan holds the width groups only (see :func:`nas.layers.plan.analyze`).

    Raises :class:`nas.layers.graph.TraceFailure` when torch.fx cannot trace the model.
    """
    gm = trace(model)
    example = example_input(input_shape)
    try:
        plan = analyze(gm, example, in_channels=input_shape[0], n_classes=n_classes, sites=sites)
    except AdaptFailure as exc:
        raise ModelFileError(
            f"{where}: {exc}; nasflow cannot fit this layer to input {'x'.join(map(str, input_shape))} "
            f"with {n_classes} classes: {advice(exc)}"
        ) from exc
    return gm, plan


def extract_layers(model: nn.Module, input_shape: tuple[int, ...], n_classes: int, where: str) -> LayerExtraction:
    """Dimensions of ``model``'s layers fitted to the data; dimensions whose samples break the model are left out."""
    gm, plan = fit_to_data(model, input_shape, n_classes, where)
    dims = plan.dimensions()
    notes = [str(a) for a in plan.adaptations] + plan.fixed_notes()
    example = example_input(input_shape)
    for label, dim in list(dims.items()):
        for value in _probe_values(label, dim):
            error = _try(gm, plan, {label: value}, example)
            if error is None:
                continue
            if dim.kind == "categorical" and label.endswith(".kernel_size"):
                dim = _without_choice(dim, value)
                dims[label] = dim
                if len(dim.choices or ()) > 1:
                    continue
            del dims[label]
            notes.append(f"{label}: not searched ({error})")
            break
    _check_joint(gm, plan, dims, example, notes)
    return LayerExtraction(gm, plan, dims, notes)


def _probe_values(label: str, dim: Dimension) -> list[Any]:
    if label.startswith("activation.") or dim.kind == "float":
        return []
    if dim.kind == "categorical":
        return [c for c in dim.choices or () if c != dim.default]
    assert dim.low is not None and dim.high is not None  # an int dimension is validated to have both bounds
    if label.endswith(".depth"):
        return [int(dim.low), int(dim.high)]
    return [int(dim.default) + 1 if dim.default + 1 <= dim.high else int(dim.low)]


def _extreme(label: str, dim: Dimension) -> Any:
    if dim.kind == "categorical":
        return max(dim.choices or ()) if label.endswith(".kernel_size") else dim.default
    return dim.high if dim.kind == "int" else dim.default


def _without_choice(dim: Dimension, value: Any) -> Dimension:
    choices = tuple(c for c in dim.choices or () if c != value)
    return Dimension("categorical", choices=choices, default=dim.default)


def _check_joint(
    gm: fx.GraphModule, plan: LayerPlan, dims: dict[str, Dimension], example: torch.Tensor, notes: list[str]
) -> None:
    """All dimensions at their largest at once (largest kernels shrink feature maps together)."""
    for _ in range(8):
        error = _try(gm, plan, {k: _extreme(k, d) for k, d in dims.items()}, example)
        if error is None:
            return
        kernels = [k for k, d in dims.items() if k.endswith(".kernel_size") and max(d.choices or ()) > d.default]
        if not kernels:
            break
        for label in kernels:
            dims[label] = _without_choice(dims[label], max(dims[label].choices or ()))
    notes.append(f"the largest sample fails ({error}); narrow the widths or depths in the YAML")


def _try(gm: fx.GraphModule, plan: LayerPlan, params: dict[str, Any], example: torch.Tensor) -> str | None:
    trial = copy.deepcopy(gm, {id(p): p for p in gm.parameters()})  # new modules only: weights are shared, not copied
    try:
        plan.apply(trial, params, example)
    except AdaptFailure as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure of a sample as a reason not to search it
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def build_layers(
    model: nn.Module, input_shape: tuple[int, ...], n_classes: int, params: dict[str, Any], where: str
) -> fx.GraphModule:
    """``model`` traced, fitted to the data and changed to the layer ``params`` (labels it lacks are ignored)."""
    gm, plan = fit_to_data(model, input_shape, n_classes, where, sites=bool(params))
    if not params:
        return gm  # fitted: nothing to change
    try:
        plan.apply(gm, params, example_input(input_shape))
    except AdaptFailure as exc:
        raise ModelFileError(f"{where}: the sample {params} does not fit the data: {exc}; narrow the space") from exc
    return gm


__all__ = ["LayerExtraction", "build_layers", "example_input", "extract_layers", "fit_to_data"]
