"""One search space from a model file: constructor arguments and layer dimensions, fitted to the data.

``make_factory(spec, shape)`` returns a factory whose ``space`` holds the constructor-argument dimensions
(``channels``, ``dropout``...) and the layer dimensions of the model as written (``conv1.out_channels``,
``conv1.kernel_size``, ``dropout1.p``, ``activation.relu_1``, ``layer2.depth``), and whose ``build(params)``
returns a fresh model for any sample, fitted to the data's input shape and number of classes. Layer
dimensions that a constructor argument already sets are searched through that argument only.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nas.errors import ModelFileError, NasError, SpaceError
from nas.factory import ConstructorFactory, DataShape, ModelFactory
from nas.layers.extraction import build_layers, example_input, extract_layers, fit_to_data
from nas.layers.graph import TraceFailure
from nas.layers.ownership import base_value, owned_labels
from nas.layers.validate import check_layer_dimension
from nas.memory import check_probe_memory
from nas.model_file import ModelSpec, constructor_of
from nas.space import Dimension, SearchSpace

MODES = ("auto", "constructor", "layers")
BUILD_FAILURES = (NasError, TraceFailure, RuntimeError, ValueError, TypeError)  # what building a sample may raise


class ExtractedFactory:
    """A :class:`ModelFactory` over constructor and layer dimensions; see :func:`make_factory`.

    ``fallback_reason`` says why only constructor arguments are searched (torch.fx could not trace the model),
    else ``None``; ``owners`` maps a constructor argument to the layer labels it sets.
    """

    def __init__(self, spec: ModelSpec, shape: DataShape, space: SearchSpace | None = None, mode: str = "auto") -> None:
        if mode not in MODES:
            raise SpaceError(f"extraction mode '{mode}' is unknown; use one of {', '.join(MODES)}")
        self.spec, self.shape, self.mode = spec, shape, mode
        self.where = f"{spec.file}:{spec.class_name}"
        self._plain = ConstructorFactory(spec, shape)  # the extracted constructor space, nothing fixed by a YAML
        extracted_ctor = self._plain.space
        self._ctor_names = set(inspect.signature(constructor_of(self._plain.model_class)).parameters) - {"self"}
        self._base = {k: base_value(d) for k, d in extracted_ctor.dimensions.items() if d.default is None}
        self.fallback_reason: str | None = None
        self.owners: dict[str, list[str]] = {}
        layer_dims, notes = self._extract_layers(extracted_ctor)
        self.layer_dimensions = layer_dims
        ctor_dims = dict(extracted_ctor.dimensions) if mode != "layers" else {}
        if mode == "auto":
            owned = {label for labels in self.owners.values() for label in labels}
            layer_dims = {k: d for k, d in layer_dims.items() if k not in owned}
        if mode == "constructor":
            layer_dims = {}
        fixed = dict(extracted_ctor.fixed)
        if mode == "layers":
            fixed.update({k: base_value(d) for k, d in extracted_ctor.dimensions.items() if d.default is None})
        dims: dict[str, Dimension] = {**ctor_dims, **layer_dims}
        if space is not None:
            dims, fixed = self._validated(space, dims, fixed)
        self._layer_fixed = {k: v for k, v in fixed.items() if k in self.layer_dimensions}
        ctor_fixed = {k: v for k, v in fixed.items() if k not in self.layer_dimensions}
        ctor_space = SearchSpace({k: d for k, d in dims.items() if k in self._ctor_names}, ctor_fixed)
        self.constructor = ConstructorFactory(spec, shape, space=ctor_space)
        self.space = SearchSpace(dims, fixed, [*extracted_ctor.notes, *notes])

    def _extract_layers(self, ctor: SearchSpace) -> tuple[dict[str, Dimension], list[str]]:
        base_params = {k: base_value(d) for k, d in ctor.dimensions.items()}
        check_probe_memory(lambda: self._construct(self._plain, base_params), self.where)  # before a real build
        model = self._construct(self._plain, base_params)
        try:
            extraction = extract_layers(model, self.shape.input_shape, self.shape.n_classes, self.where)
        except TraceFailure as exc:
            self.fallback_reason = f"{exc}; only constructor arguments are searched"
            self._check_untraced(model)
            return {}, [self.fallback_reason]
        notes = list(extraction.notes)
        if self.mode == "auto" and ctor.dimensions:
            defaults = {k: d.default for k, d in extraction.plan.dimensions().items()}
            self.owners = owned_labels(ctor, base_params, defaults, self._layer_defaults)
            for name, labels in self.owners.items():
                shown = ", ".join(labels[:4]) + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")
                notes.append(f"{name} sets {shown}: searched through '{name}' only")
        return extraction.dimensions, notes

    def _layer_defaults(self, params: dict[str, Any]) -> dict[str, Any] | None:
        try:
            model = self._construct(self._plain, params)
            _, plan = fit_to_data(model, self.shape.input_shape, self.shape.n_classes, self.where)
        except BUILD_FAILURES:
            return None
        return {k: d.default for k, d in plan.dimensions().items()}

    def _construct(self, ctor: ConstructorFactory, params: Mapping[str, Any]) -> nn.Module:
        return ctor.build({**self._base, **params})

    def _check_untraced(self, model: nn.Module) -> None:
        example = example_input(self.shape.input_shape)
        size = "x".join(map(str, self.shape.input_shape))
        try:
            with torch.no_grad():
                out = model.eval()(example)
        except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
            raise ModelFileError(
                f"{self.where}: {self.fallback_reason}, and as written it fails on input {size}: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; make forward traceable (no "
                "Python control flow on tensor values) or take in_channels/num_classes/input_size as constructor "
                "arguments"
            ) from exc
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != self.shape.n_classes:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelFileError(
                f"{self.where}: {self.fallback_reason}, and it returns {got} for {self.shape.n_classes} classes; "
                "take num_classes as a constructor argument so nasflow can set it"
            )

    def _validated(
        self, space: SearchSpace, extracted: dict[str, Dimension], fixed: dict[str, Any]
    ) -> tuple[dict[str, Dimension], dict[str, Any]]:
        source = "search space"
        for label in [*space.dimensions, *space.fixed]:
            if label not in self._ctor_names and label not in self.layer_dimensions:
                raise SpaceError(
                    f"{source}: dimension '{label}' is neither a constructor argument nor a layer dimension of "
                    f"{self.where}; remove it from the YAML or regenerate it with 'nasflow space'"
                )
        for label, dim in space.dimensions.items():
            dim.validate(label, source)
            if label in self.layer_dimensions:
                check_layer_dimension(label, dim, self.layer_dimensions[label], source)
        return dict(space.dimensions), {**fixed, **space.fixed}

    def build(self, params: Mapping[str, Any]) -> nn.Module:
        """A freshly initialized model for ``params``, fitted to the data."""
        unknown = [k for k in params if k not in self._ctor_names and k not in self.layer_dimensions]
        if unknown:
            raise SpaceError(f"parameter(s) {unknown} are not dimensions of {self.where}; sample from factory.space")
        ctor = {k: v for k, v in params.items() if k in self._ctor_names}
        model = self._construct(self.constructor, ctor)
        if self.fallback_reason is not None:
            return model
        layer = {**self._layer_fixed, **{k: v for k, v in params.items() if k in self.layer_dimensions}}
        return build_layers(model, self.shape.input_shape, self.shape.n_classes, layer, self.where)


def make_factory(
    spec: ModelSpec, shape: DataShape, space: SearchSpace | None = None, mode: str = "auto"
) -> ModelFactory:
    """A factory whose space holds ``spec``'s constructor and/or layer dimensions (``mode``: auto, constructor, layers).

    ``space`` (an edited YAML) replaces the extracted dimensions after validation; an unknown label is a
    :class:`SpaceError` naming it.
    """
    factory = ExtractedFactory(spec, shape, space, mode)
    check_output(factory, shape)
    return factory


def check_output(factory: ExtractedFactory, shape: DataShape) -> None:
    """A batch of the data's shape must map to ``(batch, n_classes)``, else a :class:`ModelFileError` before any
    search."""
    import torch

    model = factory.build(factory.space.defaults())
    model.eval()
    with torch.no_grad():
        out = model(example_input(shape.input_shape))
    want = (2, shape.n_classes)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelFileError(
            f"{factory.where}: a batch of shape {(2, *shape.input_shape)} "
            f"gives output {got}, not {want} (batch, classes); make forward return one logit row per example"
        )


__all__ = ["BUILD_FAILURES", "MODES", "ExtractedFactory", "check_output", "make_factory"]
