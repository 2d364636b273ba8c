"""Searchable spots of a traced model besides widths: kernel sizes, dropout rates and activation functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from torch import fx, nn

from nas.layers.graph import shape_of
from nas.layers.modules import (
    ACTIVATION_CHOICES,
    ACTIVATION_FUNCTIONS,
    ACTIVATION_MODULES,
    CONV_TYPES,
    DROPOUT_TYPES,
    RECURRENT_TYPES,
    Conv,
    Dropout,
    activation_name,
    is_depthwise,
    is_producer,
)
from nas.space import Dimension


@dataclass
class Site:
    """One searchable spot: ``kind`` is ``kernel``, ``dropout``, ``activation`` or a recurrent layer's ``hidden_size``,
    ``num_layers`` or ``bidirectional``.

    ``target`` is a module path or a node name.
    """

    label: str
    kind: str
    target: str
    dimension: Dimension
    same_padding: bool = True


def _kernel_site(path: str, conv: Conv) -> Site | None:
    k = conv.kernel_size
    if len(set(k)) != 1 or k[0] % 2 == 0 or any(d != 1 for d in conv.dilation):
        return None
    if isinstance(conv.padding, str):
        same = conv.padding == "same"
        if not same:
            return None
    elif all(p == k[0] // 2 for p in conv.padding):
        same = True
    elif all(p == 0 for p in conv.padding):
        same = False
    else:
        return None
    size = k[0]
    choices = tuple(sorted({c for c in (size - 2, size, size + 2) if c >= 1}))
    return Site(f"{path}.kernel_size", "kernel", path, Dimension("categorical", choices=choices, default=size), same)


def _dropout_site(path: str, module: Dropout) -> Site:
    p = float(module.p)
    high = round(min(0.9, max(0.5, 2 * p)), 4)
    return Site(f"{path}.p", "dropout", path, Dimension("float", low=0.0, high=high, default=p))


def _activation_site(label_name: str, target: str, current: str) -> Site:
    choices = ACTIVATION_CHOICES if current in ACTIVATION_CHOICES else (current, *ACTIVATION_CHOICES)
    return Site(
        f"activation.{label_name}", "activation", target, Dimension("categorical", choices=choices, default=current)
    )


def _recurrent_sites(path: str, rnn: nn.RNNBase) -> list[Site]:
    """Hidden size, number of layers and direction of an RNN/LSTM/GRU (the next layer's width follows them)."""
    hidden, layers = int(rnn.hidden_size), int(rnn.num_layers)
    return [
        Site(f"{path}.hidden_size", "hidden_size", path,
             Dimension("int", low=max(1, hidden // 4), high=max(2, 4 * hidden), log=True, default=hidden)),
        Site(f"{path}.num_layers", "num_layers", path,
             Dimension("int", low=1, high=max(2, 2 * layers), default=layers)),
        Site(f"{path}.bidirectional", "bidirectional", path,
             Dimension("categorical", choices=(False, True), default=bool(rnn.bidirectional))),
    ]


def _spatial(node: fx.Node) -> bool:
    """Whether a conv sees more than one position (a kernel size matters)."""
    shape = shape_of(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
    return shape is None or any(s > 1 for s in shape[2:])


def find_sites(gm: fx.GraphModule) -> list[Site]:
    """Kernel, dropout and activation sites of ``gm`` in graph order (a shared layer is one site)."""
    sites: list[Site] = []
    seen: set[str] = set()
    for node in gm.graph.nodes:
        site: Site | None = None
        if node.op == "call_module":
            path = str(node.target)
            if path in seen:
                continue
            seen.add(path)
            module = gm.get_submodule(path)
            name = activation_name(node.op, node.target, module)
            if isinstance(module, CONV_TYPES) and (is_producer(module) or is_depthwise(module)) and _spatial(node):
                site = _kernel_site(path, module)
            elif isinstance(module, DROPOUT_TYPES):
                site = _dropout_site(path, module)
            elif isinstance(module, RECURRENT_TYPES) and not getattr(module, "proj_size", 0):
                sites.extend(_recurrent_sites(path, module))
            elif name is not None:
                site = _activation_site(path, path, name)
        elif node.op in ("call_function", "call_method"):
            name = activation_name(node.op, node.target)
            if name is not None:
                site = _activation_site(node.name, node.name, name)
        if site is not None:
            sites.append(site)
    return sites


def module_changes(site: Site, module: nn.Module, value: Any) -> dict[str, Any]:
    """Constructor changes that set ``site`` of ``module`` to ``value`` (empty if it already has it).

    ``module`` is the layer ``find_sites`` found the site on: a conv for a kernel, a dropout, or a recurrent layer."""
    if site.kind == "kernel":
        conv = cast(Conv, module)
        size = int(value)
        if conv.kernel_size[0] == size:
            return {}
        dims = len(conv.kernel_size)
        padding: Any = "same" if isinstance(conv.padding, str) else (size // 2 if site.same_padding else 0,) * dims
        return {"kernel_size": (size,) * dims, "padding": padding}
    if site.kind == "dropout":
        return {} if float(cast(Dropout, module).p) == float(value) else {"p": float(value)}
    if site.kind in ("hidden_size", "num_layers"):
        return {} if getattr(module, site.kind) == int(value) else {site.kind: int(value)}
    if site.kind == "bidirectional":
        return {} if cast(nn.RNNBase, module).bidirectional == bool(value) else {"bidirectional": bool(value)}
    return {}


def set_activation(gm: fx.GraphModule, site: Site, value: str) -> None:
    """Switch an activation site (module or functional call) to the function named ``value``."""
    if site.dimension.default == value:
        return
    if value not in ACTIVATION_MODULES:
        raise KeyError(value)
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target == site.target:
            gm.set_submodule(site.target, ACTIVATION_MODULES[value]())
            return
        if node.op in ("call_function", "call_method") and node.name == site.target:
            node.op, node.target, node.args, node.kwargs = (
                "call_function",
                ACTIVATION_FUNCTIONS[value],
                (node.args[0],),
                {},
            )
            return
