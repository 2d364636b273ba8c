"""Load a model class from an ordinary ``.py`` file given as ``path.py:ClassName``."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import ModelFileError


@dataclass(frozen=True)
class ModelSpec:
    """Where a model class lives and the constructor arguments the user fixed."""

    file: Path
    class_name: str
    args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, target: str, args: dict[str, Any] | None = None) -> ModelSpec:
        """Parse ``path/to/file.py:ClassName``."""
        path, sep, name = target.rpartition(":")
        if not sep or not path or not name:
            raise ModelFileError(f"model target '{target}' must look like path/to/file.py:ClassName")
        return cls(Path(path), name, dict(args or {}))

    @property
    def module_name(self) -> str:
        """The module name the file is imported as (its stem, so pickled models can be reloaded)."""
        return self.file.stem


def _dotted(name: str) -> object | None:
    """The object a dotted import path such as ``torch.nn.ReLU`` names, else ``None``."""
    import importlib

    module_name, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr, None)
    except ImportError:
        return None


def resolve_names(value: Any, namespace: dict[str, Any]) -> Any:
    """``value`` with strings naming a class or function of ``namespace`` (or a dotted import path) replaced by it.

    Lists and tuples are resolved element-wise; any other value, and a string naming nothing, passes through.
    """
    if isinstance(value, (list, tuple)):
        return type(value)(resolve_names(v, namespace) for v in value)
    if not isinstance(value, str) or not all(part.isidentifier() for part in value.split(".")):
        return value
    found = namespace.get(value) if "." not in value else _dotted(value)
    return found if inspect.isclass(found) or inspect.isfunction(found) or inspect.isbuiltin(found) else value


def file_namespace(spec: ModelSpec) -> dict[str, Any]:
    """The globals of the imported model file."""
    load_model_class(spec)
    return vars(sys.modules[spec.module_name])


def constructor_of(model_class: Callable[..., Any]) -> Callable[..., Any]:
    """What carries the constructor arguments: a class's ``__init__`` (``self`` first), or the factory function itself."""
    return model_class.__init__ if inspect.isclass(model_class) else model_class


def load_model_class(spec: ModelSpec) -> Callable[..., Any]:
    """Import ``spec.file`` and return ``spec.class_name``: an ``nn.Module`` subclass, or a factory function returning one
    (``def ResNet18(): return ResNet(BasicBlock, [2, 2, 2, 2])``)."""
    import torch.nn as nn

    path = spec.file
    if not path.is_file():
        raise ModelFileError(
            f"model file '{path}' does not exist; pass an existing .py file (e.g. examples/models/digits_cnn.py)"
        )
    module_name = spec.module_name
    loaded = sys.modules.get(module_name)
    if loaded is None or Path(getattr(loaded, "__file__", "") or "").resolve() != path.resolve():
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ModelFileError(f"model file '{path}' cannot be imported; give it a .py suffix")
        loaded = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = loaded
        try:
            module_spec.loader.exec_module(loaded)
        except SyntaxError as exc:
            del sys.modules[module_name]
            raise ModelFileError(
                f"model file '{path}' line {exc.lineno}: syntax error ({exc.msg}); fix the file"
            ) from exc
        except Exception as exc:  # the user's module failed at import time
            del sys.modules[module_name]
            raise ModelFileError(
                f"model file '{path}' failed to import: {type(exc).__name__}: {exc}; fix the file"
            ) from exc
    model_class = getattr(loaded, spec.class_name, None)
    if model_class is None:
        found = sorted(
            n
            for n, v in vars(loaded).items()
            if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == module_name
        )
        raise ModelFileError(
            f"model file '{path}' has no class '{spec.class_name}'; classes found: {', '.join(found) or 'none'}"
        )
    if inspect.isclass(model_class) and issubclass(model_class, nn.Module) or inspect.isfunction(model_class):
        return model_class
    raise ModelFileError(f"'{spec.class_name}' in '{path}' is neither a torch.nn.Module subclass nor a function; "
                         "name a model class or a function that returns one")
