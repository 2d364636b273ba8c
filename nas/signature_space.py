"""Search dimensions from a model constructor's typed arguments with defaults."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args, get_origin

from nas.errors import ModelFileError
from nas.model_file import constructor_of
from nas.space import Dimension, SearchSpace

#: Constructor argument names filled from the data instead of searched, by role.
DATA_BOUND_ARGS: dict[str, tuple[str, ...]] = {
    "in_channels": (
        "in_channels",
        "input_channels",
        "n_channels",
        "num_channels",
        "in_features",
        "input_dim",
        "n_features",
        "num_features",
    ),
    "n_classes": ("num_classes", "n_classes", "num_outputs", "n_outputs", "out_features", "output_dim"),
    "input_size": ("input_size", "image_size", "img_size", "input_length", "seq_len"),
}


def data_role(name: str) -> str | None:
    """The data role (``in_channels``, ``n_classes``, ``input_size``) a constructor argument plays, if any."""
    for role, names in DATA_BOUND_ARGS.items():
        if name in names:
            return role
    return None


def _annotation_range(meta: tuple[Any, ...]) -> tuple[float, float, bool] | None:
    """A ``(low, high, log)`` range from ``Annotated`` metadata.

    The metadata is ``(lo, hi)``, ``(lo, hi, "log")``, a dict or ge/le objects.
    """
    low = high = None
    log = False
    for item in meta:
        if (
            isinstance(item, (tuple, list))
            and len(item) in (2, 3)
            and all(isinstance(v, (int, float)) for v in item[:2])
        ):
            low, high = item[0], item[1]
            log = len(item) == 3 and item[2] == "log"
        elif isinstance(item, dict) and "low" in item and "high" in item:
            low, high, log = item["low"], item["high"], bool(item.get("log", False))
        else:
            for attr in ("ge", "gt", "le", "lt"):
                value = getattr(item, attr, None)
                if value is not None and attr in ("ge", "gt"):
                    low = value
                elif value is not None:
                    high = value
    return (low, high, log) if low is not None and high is not None else None


def _inferred_int(default: int) -> Dimension:
    if default <= 4:
        return Dimension("int", low=1 if default > 0 else 0, high=max(2 * default, default + 2), default=default)
    return Dimension("int", low=max(1, default // 4), high=default * 4, log=True, default=default)


def _inferred_float(name: str, default: float) -> Dimension:
    if default == 0.0 or ("drop" in name.lower() and 0.0 <= default < 1.0):
        return Dimension("float", low=0.0, high=round(min(0.9, max(0.5, 2 * default)), 4), default=float(default))
    if default < 0:
        return Dimension("float", low=default * 4, high=default / 4, default=float(default))
    return Dimension("float", low=default / 10, high=default * 10, log=True, default=float(default))


def dimension_for(name: str, annotation: Any, default: Any, where: str) -> Dimension | None:
    """The dimension for one constructor argument, or ``None`` if it is not searchable."""
    has_default = default is not inspect.Parameter.empty
    base, meta = annotation, ()
    if get_origin(annotation) is Annotated:
        base, *rest = get_args(annotation)
        meta = tuple(rest)
    if get_origin(base) is Literal:
        choices = tuple(get_args(base))
        return Dimension("categorical", choices=choices, default=default if has_default else None)
    kind = (
        base
        if base in (int, float, bool)
        else (type(default) if has_default and type(default) in (int, float, bool) else None)
    )
    if kind is bool:
        return Dimension("categorical", choices=(True, False), default=default if has_default else None)
    rng = _annotation_range(meta) if meta else None
    if rng is not None and kind in (int, float, None):
        low, high, log = rng
        is_int = kind is int or (kind is None and isinstance(low, int) and isinstance(high, int))
        dim = Dimension(
            "int" if is_int else "float", low=low, high=high, log=log, default=default if has_default else None
        )
        dim.validate(name, where)
        return dim
    if kind is int and has_default:
        return _inferred_int(int(default))
    if kind is float and has_default:
        return _inferred_float(name, float(default))
    return None


def space_from_signature(model_class: Callable[..., Any], fixed_args: dict[str, Any] | None = None, source: str = "") -> SearchSpace:
    """Dimensions for every typed constructor argument with a default, ``Literal`` or ``Annotated`` range.

    Data-bound arguments (input channels/features, classes, input size) and ``fixed_args`` are not
    searched. An argument that is required and cannot be searched is an error naming it.
    """
    fixed_args = dict(fixed_args or {})
    where = f"{source}:{model_class.__name__}" if source else model_class.__name__
    try:
        hints = typing.get_type_hints(constructor_of(model_class), include_extras=True)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    space = SearchSpace()
    for name, param in inspect.signature(constructor_of(model_class)).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        role = data_role(name)
        if name in fixed_args:
            space.fixed[name] = fixed_args[name]
            continue
        if role is not None:
            space.notes.append(f"{name}: set from the data ({role.replace('_', ' ')})")
            continue
        annotation = hints.get(name, param.annotation)
        if annotation is inspect.Parameter.empty and param.default is inspect.Parameter.empty:
            raise ModelFileError(
                f"{where}: constructor argument '{name}' has neither a default nor a type; "
                f"give it a default (e.g. {name}: int = 32) or set it with +model.args.{name}=<value>"
            )
        dim = dimension_for(name, annotation, param.default, where)
        if dim is not None:
            space.dimensions[name] = dim
        elif param.default is inspect.Parameter.empty:
            raise ModelFileError(
                f"{where}: required constructor argument '{name}' cannot be searched without a range; "
                f"give it a default, an Annotated[..., (low, high)] range, or set +model.args.{name}=<value>"
            )
    return space
