"""Load a model class from an ordinary ``.py`` file given as ``path.py:ClassName``."""

from __future__ import annotations

import functools
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


def _is_name(value: object) -> bool:
    return isinstance(value, str) and all(part.isidentifier() for part in value.split("."))


def _named(name: str, namespace: dict[str, Any]) -> object | None:
    """The class or function ``name`` names in ``namespace`` (or as a dotted import path), else ``None``."""
    found = namespace.get(name) if "." not in name else _dotted(name)
    return found if inspect.isclass(found) or inspect.isfunction(found) or inspect.isbuiltin(found) else None


@dataclass(frozen=True)
class ArgumentUses:
    """How a model's code (the class's methods, or the factory function) uses its constructor parameters by name:
    ``as_string`` (a subscript index ``cfg[name]``, or compared with a string constant) or ``as_object`` (called,
    ``name(...)``, or an attribute read that no ``str`` has, ``name.expansion``)."""

    as_string: frozenset[str]
    as_object: frozenset[str]


@functools.cache
def argument_uses(model_class: Callable[..., Any]) -> ArgumentUses:
    """The :class:`ArgumentUses` of ``model_class``'s source (empty when the source cannot be read); parsed once
    per class, since every model build asks."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(model_class)))
    except (OSError, TypeError, SyntaxError):
        return ArgumentUses(frozenset(), frozenset())
    as_string: set[str] = set()
    as_object: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Name):
            as_string.add(node.slice.id)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides):
                as_string.update(s.id for s in sides if isinstance(s, ast.Name))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            as_object.add(node.func.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and not hasattr(str, node.attr):
            as_object.add(node.value.id)
    return ArgumentUses(frozenset(as_string), frozenset(as_object))


def _kind(parameter: inspect.Parameter, uses: ArgumentUses) -> str:
    """``"string"``, ``"object"`` or ``"unknown"``: what the constructor wants in ``parameter``."""
    default = None if parameter.default is inspect.Parameter.empty else parameter.default
    annotation = None if parameter.annotation is inspect.Parameter.empty else parameter.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    literal_strings = "Literal[" in str(annotation) and ("'" in str(annotation) or '"' in str(annotation))
    if isinstance(default, str) or text == "str" or literal_strings or parameter.name in uses.as_string:
        return "string"
    callable_annotation = text.startswith(("type", "Type", "Callable")) or "typing.Callable" in str(annotation)
    if inspect.isclass(default) or inspect.isfunction(default) or callable_annotation:
        return "object"
    if parameter.name in uses.as_object:
        return "object"
    return "unknown"


def constructor_value(model_class: Callable[..., Any], name: str, value: Any, namespace: dict[str, Any],
                      where: str) -> Any:
    """The value to pass for a fixed constructor argument ``name`` (``model.args.<name>``), by one rule.

    A string stays a string where the parameter's default or annotation is ``str`` (or a ``Literal`` of strings), or
    where the model's code indexes with it (``cfg[vgg_name]``) or compares it with a string. Elsewhere a string that
    names a class or function of the model file, or a dotted import path (``torch.nn.ReLU``), is passed as that
    object; lists and tuples element-wise. Where the parameter must be an object (its default or annotation is a class
    or callable, or the code calls it or reads an attribute of it, ``block.expansion``), a name that names nothing
    raises :class:`ModelFileError`.
    """
    parameter = inspect.signature(constructor_of(model_class)).parameters.get(name)
    kind = "unknown" if parameter is None else _kind(parameter, argument_uses(model_class))
    return _resolved(kind, name, value, namespace, where)


def _resolved(kind: str, name: str, value: Any, namespace: dict[str, Any], where: str) -> Any:
    """``value`` for a parameter of ``kind`` (:func:`_kind`), by :func:`constructor_value`'s rule."""
    if kind == "string":
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_resolved(kind, name, v, namespace, where) for v in value)
    found = _named(value, namespace) if _is_name(value) else None
    if found is None and kind == "object" and isinstance(value, str):
        known = sorted(k for k, v in namespace.items() if not k.startswith("_") and _named(k, namespace) is not None
                       and getattr(v, "__module__", None) == namespace.get("__name__"))
        raise ModelFileError(
            f"model.args.{name}={value!r}: {where} defines no class or function '{value}' and it is no importable "
            f"dotted path; the constructor uses {name} as an object, so name one of: {', '.join(known) or 'none'} "
            "(or a path such as torch.nn.ReLU)"
        )
    return value if found is None else found


def file_namespace(spec: ModelSpec) -> dict[str, Any]:
    """The globals of the imported model file."""
    load_model_class(spec)
    return vars(sys.modules[spec.module_name])


def constructor_of(model_class: Callable[..., Any]) -> Callable[..., Any]:
    """What carries the constructor arguments: a class's ``__init__`` (``self`` first), or the factory function
    itself."""
    return model_class.__init__ if inspect.isclass(model_class) else model_class


def load_model_class(spec: ModelSpec) -> Callable[..., Any]:
    """Import ``spec.file`` and return ``spec.class_name``: an ``nn.Module`` subclass, or a factory function
    returning one
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
