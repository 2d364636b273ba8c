"""Model factories: a search space plus a way to build a fresh model for any sample of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nas.errors import ModelFileError
from nas.model_file import ModelSpec, constructor_of, constructor_value, file_namespace, load_model_class
from nas.signature_space import DATA_BOUND_ARGS, data_role, space_from_signature
from nas.space import SearchSpace


@dataclass(frozen=True)
class DataShape:
    """What a model must fit: the shape of one input (no batch dimension) and the number of classes."""

    input_shape: tuple[int, ...]
    n_classes: int

    def role_value(self, role: str) -> int:
        """The value of a data role (see ``DATA_BOUND_ARGS``)."""
        if role == "in_channels":
            return self.input_shape[0]
        if role == "n_classes":
            return self.n_classes
        return self.input_shape[1] if len(self.input_shape) > 1 else self.input_shape[0]


class ModelFactory(Protocol):
    """Anything with a search space that builds a fresh ``nn.Module`` for a sample of it."""

    space: SearchSpace

    def build(self, params: Mapping[str, Any]) -> Any: ...


class ConstructorFactory:
    """Builds a model by calling its class with sampled constructor arguments plus data-bound ones."""

    def __init__(self, spec: ModelSpec, shape: DataShape, space: SearchSpace | None = None,
                 data_values: Mapping[str, int] | None = None) -> None:
        self.spec = spec
        self.shape = shape
        self.data_values = dict(data_values or {})  # data-bound arguments set otherwise than by their role
        self.model_class = load_model_class(spec)
        extracted = space_from_signature(self.model_class, spec.args, source=str(spec.file))
        if space is not None:  # a (possibly edited) space from YAML replaces the extracted dimensions
            unknown = [k for k in space.dimensions if k not in self._arg_names()]
            if unknown:
                raise ModelFileError(
                    f"search space dimension(s) {unknown} are not constructor arguments of "
                    f"{spec.class_name} in '{spec.file}'; remove them or regenerate with 'nasflow space'"
                )
            extracted = SearchSpace(dict(space.dimensions), {**extracted.fixed, **space.fixed}, extracted.notes)
        self.space = extracted

    def _arg_names(self) -> set[str]:
        import inspect

        return set(inspect.signature(constructor_of(self.model_class)).parameters) - {"self"}

    def constructor_kwargs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The full keyword arguments for one sample: fixed, data-bound and sampled values."""
        kwargs: dict[str, Any] = {}
        for name in self._arg_names():
            role = data_role(name)
            if role is not None and name not in self.space.fixed:
                kwargs[name] = self.data_values.get(name, self.shape.role_value(role))
        namespace = file_namespace(self.spec)
        kwargs.update({k: constructor_value(self.model_class, k, v, namespace, f"'{self.spec.file}'")
                       for k, v in self.space.fixed.items()})
        kwargs.update(params)
        return kwargs

    def build(self, params: Mapping[str, Any]) -> Any:
        """A freshly initialized model for ``params``."""
        kwargs = self.constructor_kwargs(params)
        from torch import nn

        try:
            model = self.model_class(**kwargs)
        except Exception as exc:
            names = {k: v for k, v in kwargs.items() if isinstance(v, str)}
            if isinstance(exc, TypeError) and "'str' object is not callable" in str(exc) and names:
                raise ModelFileError(
                    f"'{self.spec.file}': {self.spec.class_name} called a string argument ({names}): a name that is "
                    "no class or function of the file nor an importable dotted path (e.g. torch.nn.ReLU); "
                    "set model.args to a name the file defines"
                ) from exc
            raise ModelFileError(
                f"'{self.spec.file}': {self.spec.class_name}(**{kwargs}) failed: {type(exc).__name__}: {exc}; "
                "narrow the space or fix the constructor"
            ) from exc
        if not isinstance(model, nn.Module):
            raise ModelFileError(f"'{self.spec.file}': {self.spec.class_name}(**{kwargs}) returned a "
                                 f"{type(model).__name__}, not a torch.nn.Module; name a function that returns a model")
        return model


__all__ = ["ConstructorFactory", "DataShape", "ModelFactory", "DATA_BOUND_ARGS"]
