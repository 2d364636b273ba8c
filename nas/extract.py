"""One search space from a model file: constructor arguments and layer dimensions, fitted to the data.

``make_factory(spec, shape)`` returns a factory whose ``space`` holds the constructor-argument dimensions
(``channels``, ``dropout``...) and the layer dimensions of the model as written (``conv1.out_channels``,
``conv1.kernel_size``, ``dropout1.p``, ``activation.relu_1``, ``layer2.depth``), and whose ``build(params)``
returns a fresh model for any sample, fitted to the data's input shape and number of classes. Layer
dimensions that a constructor argument already sets are searched through that argument only.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nas.errors import ModelFileError, NasError, SpaceError
from nas.factory import ConstructorFactory, DataShape, ModelFactory
from nas.forward_check import check_output, refuse_output
from nas.layers.extraction import build_layers, example_input, extract_layers, fit_to_data
from nas.layers.graph import TraceFailure, describe, trace
from nas.layers.inputs import first_layer
from nas.layers.ownership import base_value, owned_labels
from nas.layers.validate import check_layer_dimension
from nas.memory import check_probe_memory
from nas.model_file import ModelSpec, constructor_of
from nas.signature_space import data_role
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
        data_values, flat_notes = self._flattened_sizes(extracted_ctor)
        if data_values:
            self._plain = ConstructorFactory(spec, shape, data_values=data_values)
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
        self.constructor = ConstructorFactory(spec, shape, space=ctor_space, data_values=data_values)
        ctor_notes = [n for n in extracted_ctor.notes if n.split(":")[0] not in data_values]  # flat_notes say it
        self.space = SearchSpace(dims, fixed, [*ctor_notes, *flat_notes, *notes])

    def _flattened_sizes(self, ctor: SearchSpace) -> tuple[dict[str, int], list[str]]:
        """``input_size``-like arguments set to the flattened input size when they size a first ``Linear`` (an MLP
        written for flattened images), with their notes."""
        names = [n for n in self._ctor_names if data_role(n) == "input_size" and n not in ctor.fixed]
        if not names or len(self.shape.input_shape) < 2:
            return {}, []
        try:
            gm = trace(self._construct(self._plain, {k: base_value(d) for k, d in ctor.dimensions.items()}))
        except (TraceFailure, ModelFileError):
            return {}, []
        node = first_layer(gm)
        if node is None:
            return {}, []
        layer = gm.get_submodule(str(node.target))
        if not isinstance(layer, nn.Linear) or layer.in_features != self.shape.role_value("input_size"):
            return {}, []
        size, desc = math.prod(self.shape.input_shape), "x".join(map(str, self.shape.input_shape))
        return {n: size for n in names}, [f"{n}: {size} (the first layer {describe(gm, node)} reads flattened {desc} "
                                          "input)" for n in names]

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
        refuse_output(out, example, self.shape.n_classes, f"{self.where}: {self.fallback_reason}",
                      type(model).__name__, fix="take num_classes as a constructor argument so nasflow can set it")

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
        """A freshly initialized model for ``params``, fitted to the data; one whose output is not
        ``(batch, n_classes)`` is a :class:`ModelFileError`."""
        unknown = [k for k in params if k not in self._ctor_names and k not in self.layer_dimensions]
        if unknown:
            raise SpaceError(f"parameter(s) {unknown} are not dimensions of {self.where}; sample from factory.space")
        ctor = {k: v for k, v in params.items() if k in self._ctor_names}
        model = self._construct(self.constructor, ctor)
        if self.fallback_reason is None:
            layer = {**self._layer_fixed, **{k: v for k, v in params.items() if k in self.layer_dimensions}}
            model = build_layers(model, self.shape.input_shape, self.shape.n_classes, layer, self.where)
        check_output(model, example_input(self.shape.input_shape), self.shape.n_classes, self.where)
        return model


def make_factory(
    spec: ModelSpec, shape: DataShape, space: SearchSpace | None = None, mode: str = "auto"
) -> ModelFactory:
    """A factory whose space holds ``spec``'s constructor and/or layer dimensions (``mode``: auto, constructor, layers).

    ``space`` (an edited YAML) replaces the extracted dimensions after validation; an unknown label is a
    :class:`SpaceError` naming it. The default model is built once, so a model whose output is not
    ``(batch, n_classes)`` is a :class:`ModelFileError` before any search.
    """
    factory = ExtractedFactory(spec, shape, space, mode)
    factory.build(factory.space.defaults())
    return factory


__all__ = ["BUILD_FAILURES", "MODES", "ExtractedFactory", "make_factory"]
