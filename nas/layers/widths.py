"""Width groups: the output widths of Conv/Linear layers that must stay equal (residual adds), and what pins them.

Every Conv (``groups == 1``) or Linear starts its own group. A value keeps the group of its input through
elementwise ops, norms, pooling and the like; adding or multiplying two values merges their groups. A group is
pinned when it meets the input (``data``), the model output (``classes``), or a layer nasflow cannot resize.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
from torch import fx

from nas.layers.graph import ancestors, describe, shape_of, tensor_inputs
from nas.layers.modules import has_state, is_depthwise, is_norm, is_producer, width_attr, width_of

INPUT, OUTPUT = "<input>", "<output>"
_MERGING = {
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.iadd,
    operator.imul,
    torch.add,
    torch.sub,
    torch.mul,
    torch.div,
    torch.maximum,
    torch.minimum,
}
_MERGING_METHODS = {"add", "sub", "mul", "div", "add_", "mul_", "maximum", "minimum", "expand_as", "type_as"}


@dataclass
class WidthGroup:
    """Producers whose output widths are tied; ``target`` is the value the data forces (if any)."""

    members: list[str]
    attr: str
    default: int
    pinned: list[str] = field(default_factory=list)
    target: int | None = None
    target_reason: str = ""

    @property
    def label(self) -> str:
        return f"{self.members[0]}.{self.attr}"

    @property
    def free(self) -> bool:
        return not self.pinned and self.target is None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


class _Analysis:
    def __init__(self, gm: fx.GraphModule) -> None:
        self.gm = gm
        self.uf = _UnionFind()
        self.slot: dict[fx.Node, tuple[str, int] | None] = {}
        self.pins: dict[str, list[str]] = {}
        self.producers: list[str] = []

    def pin(self, slot: str, reason: str) -> None:
        self.pins.setdefault(slot, []).append(reason)

    def pin_value(self, node: fx.Node, reason: str) -> None:
        """Keep the width of ``node`` as it is: its group, or every producer upstream of an untracked value."""
        tracked = self.slot.get(node)
        if tracked is not None:
            self.pin(tracked[0], reason)
            return
        for up in ancestors(node):
            if up.op == "call_module" and str(up.target) in self.producers:
                self.pin(str(up.target), reason)

    def visit(self, node: fx.Node) -> tuple[str, int] | None:
        inputs = [n for n in tensor_inputs(node) if n.op != "get_attr" and shape_of(n) is not None]
        params = [n for n in tensor_inputs(node) if n.op == "get_attr"]
        shape = shape_of(node)
        if node.op == "placeholder":
            return (INPUT, 1) if shape and len(shape) >= 2 else None
        if node.op == "call_module":
            module = self.gm.get_submodule(str(node.target))
            if is_producer(module):
                path = str(node.target)
                if path in self.producers:  # a shared layer: every input it sees must have one width
                    self._merge([n for n in inputs], node)
                else:
                    self.producers.append(path)
                    self.uf.find(path)
                axis = (
                    1 if shape and len(shape) > 2 and not hasattr(module, "in_features") else len(shape or (0, 0)) - 1
                )
                return (path, axis)
            if is_norm(module) or is_depthwise(module):
                return self._passthrough(node, inputs)
            if has_state(module) or any(has_state(m) for m in module.modules()):
                for n in inputs:
                    self.pin_value(n, f"feeds {describe(self.gm, node)}")
                return self._fresh_pinned(node)
            return self._passthrough(node, inputs)
        if params:
            for n in inputs:
                self.pin_value(n, f"feeds {describe(self.gm, node)}")
            return self._fresh_pinned(node)
        if node.op == "call_function" and node.target in (torch.cat, torch.concat):
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
            axes = {slot[1] for slot in (self.slot.get(n) for n in inputs) if slot is not None}
            rank = len(shape or ())
            joins_widths = rank > 0 and isinstance(dim, int) and (dim % rank) in (axes or {1})
            return None if joins_widths else self._merge(inputs, node)
        if (node.op == "call_function" and node.target in _MERGING) or (
            node.op == "call_method" and node.target in _MERGING_METHODS
        ):
            return self._merge(inputs, node)
        if len(inputs) == 1:
            return self._passthrough(node, inputs)
        for n in inputs:
            self.pin_value(n, f"meets other values at {describe(self.gm, node)}")
        return self._fresh_pinned(node)

    def _fresh_pinned(self, node: fx.Node) -> tuple[str, int] | None:
        shape = shape_of(node)
        if not shape or len(shape) < 2:
            return None
        slot = f"<fixed:{node.name}>"
        self.pin(slot, f"comes from {describe(self.gm, node)}")
        return (slot, len(shape) - 1 if len(shape) == 2 else 1)

    def _passthrough(self, node: fx.Node, inputs: list[fx.Node]) -> tuple[str, int] | None:
        if len(inputs) != 1:
            return self._merge(inputs, node)
        src, out = self.slot.get(inputs[0]), shape_of(node)
        before = shape_of(inputs[0])
        if src is None or out is None or before is None:
            return None
        slot, axis = src
        if axis >= len(out) or len(out) < 2:
            return None
        if axis == len(before) - 1 and axis != 1:  # features on the last axis (a Linear on a sequence)
            return (slot, len(out) - 1) if out[-1] == before[-1] else None
        return (slot, 1) if out[:2] == before[:2] else None

    def _merge(self, inputs: list[fx.Node], node: fx.Node) -> tuple[str, int] | None:
        slots = [self.slot.get(n) for n in inputs]
        out = shape_of(node)
        if not inputs or out is None or len(out) < 2:
            return None
        if any(
            s is None and shape_of(n) is not None and len(shape_of(n) or ()) >= 2 and (shape_of(n) or (0, 1))[1] != 1
            for s, n in zip(slots, inputs)
        ):
            for n in inputs:
                self.pin_value(n, f"meets an untracked value at {describe(self.gm, node)}")
            return self._fresh_pinned(node)
        tracked = [s for s in slots if s is not None]
        if not tracked:
            return None
        for other in tracked[1:]:
            self.uf.union(tracked[0][0], other[0])
        return tracked[0]


def width_groups(gm: fx.GraphModule, n_classes: int, in_channels: int) -> list[WidthGroup]:
    """The width groups of ``gm`` (shapes recorded by a prior adaptive run), in graph order of their first producer."""
    analysis = _Analysis(gm)
    output_slot = None
    for node in gm.graph.nodes:
        if node.op == "output":
            first = node.args[0]
            while isinstance(first, (tuple, list)) and first:
                first = first[0]
            if isinstance(first, fx.Node):
                output_slot = analysis.slot.get(first)
                if output_slot is None:
                    analysis.pin_value(first, "shapes the model output")
            continue
        analysis.slot[node] = analysis.visit(node)
    uf = analysis.uf
    roots: dict[str, WidthGroup] = {}
    for path in analysis.producers:
        module = gm.get_submodule(path)
        root = uf.find(path)
        if root not in roots:
            roots[root] = WidthGroup(members=[], attr=width_attr(module), default=width_of(module))
        roots[root].members.append(path)
    for slot, reasons in analysis.pins.items():
        group = roots.get(uf.find(slot))
        if group is not None:
            group.pinned.extend(r for r in reasons if r not in group.pinned)
    input_group = roots.get(uf.find(INPUT))
    if input_group is not None:
        input_group.target, input_group.target_reason = in_channels, "data channels"
    output_group = roots.get(uf.find(output_slot[0])) if output_slot is not None else None
    if output_group is not None:
        if output_group is input_group and in_channels != n_classes:
            output_group.pinned.append("ties the input to the output")
        output_group.target, output_group.target_reason = n_classes, "classes"
    return list(roots.values())
