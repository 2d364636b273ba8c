"""Load a model class from an ordinary ``.py`` file given as ``path.py:ClassName``."""

from __future__ import annotations

import importlib.util
import inspect
import sys
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


def load_model_class(spec: ModelSpec) -> type:
    """Import ``spec.file`` and return its class ``spec.class_name`` (an ``nn.Module`` subclass)."""
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
    if not (inspect.isclass(model_class) and issubclass(model_class, nn.Module)):
        raise ModelFileError(f"'{spec.class_name}' in '{path}' is not a torch.nn.Module subclass; name a model class")
    return model_class
