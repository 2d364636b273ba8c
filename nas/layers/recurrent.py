"""Initial hidden states of RNN/LSTM/GRU layers built in forward (``torch.zeros(num_layers * 2, x.size(0),
hidden_size).to(device)``): their constant sizes follow the layer when its ``hidden_size``, ``num_layers`` or
direction changes, and a device fixed when the model was traced becomes the layer input's device."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import fx, nn

from nas.layers.modules import RECURRENT_TYPES

_FACTORIES = (torch.zeros, torch.ones, torch.empty, torch.randn, torch.rand)
_PASS_METHODS = ("to", "cuda", "cpu", "float", "double", "type_as", "detach", "contiguous", "requires_grad_")


def state_size(rnn: nn.RNNBase) -> tuple[int, int]:
    """``(num_layers * directions, hidden_size)``: the first and last sizes of the layer's hidden state."""
    return rnn.num_layers * (2 if rnn.bidirectional else 1), rnn.hidden_size


def _origin(node: fx.Node) -> fx.Node | None:
    """The tensor factory call (``torch.zeros(...)``) a state comes from, through ``.to(device)`` and the like."""
    while node.op == "call_method" and node.target in _PASS_METHODS and isinstance(node.args[0], fx.Node):
        node = node.args[0]
    return node if node.op == "call_function" and node.target in _FACTORIES else None


def _follow_input_device(state: fx.Node, x: fx.Node) -> list[tuple[str, str, str]]:
    """``state.to(device(type='cpu'))`` (a device constant from tracing) becomes ``state.to(x)``."""
    changed, node = [], state
    while node.op == "call_method" and node.target in _PASS_METHODS and isinstance(source := node.args[0], fx.Node):
        if node.target == "to" and len(node.args) == 2 and isinstance(node.args[1], (torch.device, str)):
            changed.append((f"forward.{node.name}", f"to({str(node.args[1])!r})", f"to({x.name})"))
            node.args = (source, x)
        node = source
    return changed


def fit_hidden_states(rnn: nn.Module, node: fx.Node, env: dict[fx.Node, Any]) -> list[tuple[str, str, str]]:
    """Resize the constant sizes of the factory calls that make ``node``'s initial state to fit ``rnn``, in the graph
    and in ``env`` (the running values), and move the state to the input's device; ``(label, old, new)`` per change."""
    if not isinstance(rnn, RECURRENT_TYPES) or rnn.proj_size or len(node.args) < 2:
        return []
    hx = node.args[1]
    states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
    x = node.args[0]
    changed = []
    for state in states:
        if not isinstance(state, fx.Node) or not isinstance(x, fx.Node):
            continue
        moved = _follow_input_device(state, x)
        if moved and isinstance(env.get(state), torch.Tensor) and isinstance(env.get(x), torch.Tensor):
            env[state] = env[state].to(env[x])
        changed.extend(moved)
    first, last = state_size(rnn)
    for state in states:
        if not isinstance(state, fx.Node):
            continue
        value = env.get(state)
        origin = _origin(state)
        if not isinstance(value, torch.Tensor) or value.dim() != 3 or origin is None:
            continue
        if (value.shape[0], value.shape[2]) == (first, last):
            continue
        packed = len(origin.args) == 1 and isinstance(origin.args[0], (tuple, list))
        sizes = tuple(cast(Sequence[Any], origin.args[0])) if packed else tuple(origin.args)
        if len(sizes) != 3 or not all(isinstance(s, int) for s in (sizes[0], sizes[2])):
            continue
        new = (first, sizes[1], last)
        origin.args = (new,) if packed else new
        env[state] = torch.zeros((first, value.shape[1], last), dtype=value.dtype, device=value.device)
        old_sizes, new_sizes = (sizes[0], "batch", sizes[2]), (first, "batch", last)
        factory = cast(Callable[..., Any], origin.target).__name__  # one of _FACTORIES
        changed.append((f"forward.{origin.name}", f"{factory}{old_sizes}", f"{factory}{new_sizes}"))
    return changed


__all__ = ["fit_hidden_states", "state_size"]
