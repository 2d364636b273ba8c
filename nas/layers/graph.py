"""Tracing a model with torch.fx, and small helpers over its graph."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import fx, nn

from nas.errors import NasError
from nas.layers.modules import type_name

#: Functional dropouts turned into modules (so a traced graph still honours ``model.eval()``), keyed by the
#: function; any fx node target may be looked up.
FUNCTIONAL_DROPOUT: dict[object, type[nn.Module]] = {
    F.dropout: nn.Dropout,
    F.dropout1d: nn.Dropout1d,
    F.dropout2d: nn.Dropout2d,
    F.dropout3d: nn.Dropout3d,
    F.alpha_dropout: nn.AlphaDropout,
    torch.dropout: nn.Dropout,
}


class TraceFailure(NasError):
    """torch.fx could not trace a model; the message says why in one line."""


def trace_graph(model: nn.Module) -> fx.Graph:
    """The torch.fx graph of ``model`` (torch.nn layers stay leaves); its targets are paths in ``model``."""
    try:
        return fx.Tracer().trace(model)
    except Exception as exc:  # noqa: BLE001 - fx raises many types (TraceError, TypeError, the user's own errors)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TraceFailure(
            f"torch.fx cannot trace {type(model).__name__}.forward ({type(exc).__name__}: {first})"
        ) from exc


def trace(model: nn.Module) -> fx.GraphModule:
    """``model`` traced with torch.fx as a GraphModule, functional dropout turned into modules."""
    gm = fx.GraphModule(model, trace_graph(model), type(model).__name__)
    _dropout_to_modules(gm)
    return gm


def _dropout_to_modules(gm: fx.GraphModule) -> None:
    changed = False
    for node in list(gm.graph.nodes):
        if node.op != "call_function":
            continue
        try:
            cls = FUNCTIONAL_DROPOUT.get(node.target)
        except TypeError:
            continue
        if cls is None:
            continue
        p = node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.5)
        train = node.kwargs.get("train", node.kwargs.get("training", node.args[2] if len(node.args) > 2 else True))
        if not isinstance(p, (int, float)) or not isinstance(train, bool):
            continue
        name = node.name if not hasattr(gm, node.name) else f"f_{node.name}"
        gm.add_submodule(name, cls(p=float(p)) if train else nn.Identity())
        node.op, node.target, node.args, node.kwargs = "call_module", name, (node.args[0],), {}
        node.meta["nn_module_stack"] = {name: (name, cls)}
        changed = True
    if changed:
        gm.recompile()


def module_path(node: fx.Node) -> str:
    """The innermost module a node was traced in (``''`` for the model's own forward)."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return str(list(stack)[-1]) if stack else ""


def module_stack(node: fx.Node) -> list[str]:
    """Paths of every module a node was traced inside, outermost first."""
    stack = list((node.meta.get("nn_module_stack") or {}).keys())
    if node.op == "call_module" and (not stack or stack[-1] != node.target):
        stack.append(str(node.target))
    return stack


def describe(gm: fx.GraphModule, node: fx.Node) -> str:
    """A node for messages: ``'layer1.conv' (nn.Conv2d)`` or ``'relu_1' (torch.relu in 'block')``."""
    if node.op == "call_module":
        return f"'{node.target}' ({type_name(gm.get_submodule(str(node.target)))})"
    path = module_path(node)
    if path:
        owner = _owner_type(node, path)
        return f"'{path}' ({owner}, at {_target_name(node)})"
    return f"'{node.name}' ({_target_name(node)})"


def _owner_type(node: fx.Node, path: str) -> str:
    entry = (node.meta.get("nn_module_stack") or {}).get(path)
    cls = entry[1] if isinstance(entry, tuple) and len(entry) > 1 else None
    if isinstance(cls, type):
        return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else f"{cls.__module__}.{cls.__qualname__}"
    return str(cls) if cls else "module"


def _target_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    return f"{mod}.{name}" if mod and mod not in ("_operator", "builtins") else name


def tensor_inputs(node: fx.Node) -> list[fx.Node]:
    """The node arguments of ``node`` (flattened through lists, tuples and kwargs), in order."""
    found: list[fx.Node] = []

    def keep(n: fx.Node) -> fx.Node:
        found.append(n)
        return n

    fx.node.map_arg((node.args, node.kwargs), keep)
    return found


def ancestors(node: fx.Node) -> Iterator[fx.Node]:
    """Every node ``node`` depends on (not itself)."""
    seen: set[fx.Node] = set()
    todo = tensor_inputs(node)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        todo.extend(tensor_inputs(current))


def shape_of(node: fx.Node) -> tuple[int, ...] | None:
    """The shape recorded for ``node`` by the last adaptive run, if it produced one tensor."""
    shape = node.meta.get("nas_shape")
    return shape if isinstance(shape, tuple) else None

