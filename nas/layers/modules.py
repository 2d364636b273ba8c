"""What nasflow knows about ``torch.nn`` layer types: constructor arguments, resizing, activations."""

from __future__ import annotations

import inspect
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

Conv = nn.Conv1d | nn.Conv2d | nn.Conv3d
Dropout = nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.Dropout3d | nn.AlphaDropout

CONV_TYPES: tuple[type[Conv], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
LINEAR_TYPES: tuple[type[nn.Linear], ...] = (nn.Linear,)
BATCH_NORM_TYPES: tuple[type, ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
)
DROPOUT_TYPES: tuple[type[Dropout], ...] = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
RECURRENT_TYPES: tuple[type[nn.RNNBase], ...] = (nn.RNN, nn.LSTM, nn.GRU)
_RECURRENT_ARGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")

#: Activation functions a search may choose between, by name.
ACTIVATION_MODULES: dict[str, type] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "mish": nn.Mish,
    "hardswish": nn.Hardswish,
    "relu6": nn.ReLU6,
    "selu": nn.SELU,
}
ACTIVATION_FUNCTIONS: dict[str, Any] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "elu": F.elu,
    "leaky_relu": F.leaky_relu,
    "tanh": torch.tanh,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "relu6": F.relu6,
    "selu": F.selu,
}
#: The choices offered for every activation site (plus the site's own function).
ACTIVATION_CHOICES: tuple[str, ...] = ("relu", "gelu", "silu", "elu", "leaky_relu")

_FUNCTION_NAMES: dict[Any, str] = {fn: name for name, fn in ACTIVATION_FUNCTIONS.items()}
_FUNCTION_NAMES.update({torch.relu: "relu", F.tanh: "tanh", torch.selu: "selu", torch.nn.functional.relu6: "relu6"})
_METHOD_NAMES = {"relu": "relu", "tanh": "tanh"}


def activation_name(op: str, target: Any, module: nn.Module | None = None) -> str | None:
    """The activation name of an fx node (``call_module``/``call_function``/``call_method``), if it is one."""
    if op == "call_module" and module is not None:
        for name, cls in ACTIVATION_MODULES.items():
            if type(module) is cls:
                return name
        return None
    if op == "call_function":
        try:
            return _FUNCTION_NAMES.get(target)
        except TypeError:  # unhashable target
            return None
    if op == "call_method":
        return _METHOD_NAMES.get(target)
    return None


def is_producer(module: nn.Module) -> bool:
    """A layer whose output width nasflow searches: a Linear, or a Conv with ``groups == 1``."""
    return isinstance(module, LINEAR_TYPES) or (isinstance(module, CONV_TYPES) and module.groups == 1)


def is_depthwise(module: nn.Module) -> bool:
    """A Conv whose groups equal its input and output channels (width passes through)."""
    return (
        isinstance(module, CONV_TYPES)
        and module.groups > 1
        and module.groups == module.in_channels == module.out_channels
    )


def is_norm(module: nn.Module) -> bool:
    """A normalization layer sized by the width of its input."""
    return isinstance(module, BATCH_NORM_TYPES + (nn.GroupNorm, nn.LayerNorm))


def has_state(module: nn.Module) -> bool:
    """Whether a module holds parameters or buffers of its own (not counting children)."""
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


def init_kwargs(module: nn.Module) -> dict[str, Any]:
    """The constructor keyword arguments that rebuild ``module`` (read back from its attributes).

    Raises ``TypeError`` when the type's constructor cannot be read this way (``*args`` constructors such as LSTM).
    """
    if isinstance(module, RECURRENT_TYPES):  # *args constructors whose settings are plain attributes
        extra = {"nonlinearity": module.nonlinearity} if isinstance(module, nn.RNN) else {}
        if isinstance(module, nn.LSTM):
            extra = {"proj_size": module.proj_size}
        return {**{name: getattr(module, name) for name in _RECURRENT_ARGS}, **extra}
    params = inspect.signature(type(module).__init__).parameters
    kwargs: dict[str, Any] = {}
    for name, param in params.items():
        if name in ("self", "device", "dtype") or name.startswith("_"):
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            if type(module) is nn.Identity:
                continue
            raise TypeError(f"{type(module).__name__} takes *args/**kwargs; its arguments cannot be read back")
        if name == "bias" and not isinstance(getattr(module, "bias", None), bool):
            kwargs[name] = getattr(module, "bias", None) is not None
        elif name == "affine" and isinstance(module, nn.LayerNorm):
            continue
        elif hasattr(module, name):
            value = getattr(module, name)
            if isinstance(value, (torch.Tensor, nn.Module)):
                raise TypeError(
                    f"{type(module).__name__}.{name} is a tensor or module; it cannot be written as an argument"
                )
            kwargs[name] = value
        elif param.default is param.empty:
            raise TypeError(f"{type(module).__name__} has no attribute for its required argument '{name}'")
    return kwargs


def rebuild(module: nn.Module, **changes: Any) -> nn.Module:
    """A freshly initialized module of the same type and settings as ``module``, with ``changes`` applied."""
    kwargs = {**init_kwargs(module), **changes}
    new = type(module)(**kwargs)
    new.train(module.training)
    return new


def resized_for_input(module: nn.Module, x: torch.Tensor) -> nn.Module | None:
    """``module`` rebuilt to accept ``x`` (input channels/features, norm sizes), or ``None`` if it already does."""
    if isinstance(module, CONV_TYPES):
        channels = x.shape[1] if x.dim() > 1 else None
        if channels is None or channels == module.in_channels:
            return None
        if is_depthwise(module):
            return rebuild(module, in_channels=channels, out_channels=channels, groups=channels)
        if module.groups != 1:
            return None
        return rebuild(module, in_channels=channels)
    if isinstance(module, LINEAR_TYPES):
        return None if x.shape[-1] == module.in_features else rebuild(module, in_features=x.shape[-1])
    if isinstance(module, RECURRENT_TYPES):
        return None if x.shape[-1] == module.input_size else rebuild(module, input_size=x.shape[-1])
    if isinstance(module, BATCH_NORM_TYPES):
        return None if x.dim() < 2 or x.shape[1] == module.num_features else rebuild(module, num_features=x.shape[1])
    if isinstance(module, nn.GroupNorm):
        if x.dim() < 2 or x.shape[1] == module.num_channels:
            return None
        import math

        return rebuild(module, num_channels=x.shape[1], num_groups=math.gcd(module.num_groups, x.shape[1]))
    if isinstance(module, nn.LayerNorm):
        n = len(module.normalized_shape)
        wanted = tuple(x.shape[-n:])
        return None if wanted == tuple(module.normalized_shape) else rebuild(module, normalized_shape=wanted)
    return None


def width_of(module: nn.Module) -> int:
    """The output width of a producer layer."""
    return int(module.out_features if isinstance(module, LINEAR_TYPES) else cast(Conv, module).out_channels)


def width_attr(module: nn.Module) -> str:
    """The name of a producer's output width argument."""
    return "out_features" if isinstance(module, LINEAR_TYPES) else "out_channels"


def input_width_attr(module: nn.Module) -> str:
    """The name of the argument that sizes a layer's input."""
    if isinstance(module, LINEAR_TYPES):
        return "in_features"
    if isinstance(module, CONV_TYPES):
        return "in_channels"
    if isinstance(module, nn.GroupNorm):
        return "num_channels"
    if isinstance(module, nn.LayerNorm):
        return "normalized_shape"
    if isinstance(module, RECURRENT_TYPES):
        return "input_size"
    return "num_features"


def type_name(module: nn.Module) -> str:
    """``nn.Conv2d`` for torch layers, ``module.Class`` otherwise."""
    cls = type(module)
    return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else f"{cls.__module__}.{cls.__qualname__}"
