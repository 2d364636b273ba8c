"""Run a traced model on an example and resize every layer whose input no longer fits.

This is how shapes propagate: after widths, kernels or depths change (or the data differs from what the model
was written for), the next layer's ``in_channels``/``in_features``, BatchNorm sizes and the flattened size before a
``Linear`` are set from the tensors that actually arrive. A hard-coded ``x.view(-1, 9216)`` becomes a per-sample
flatten.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import fx, nn

from nas.errors import NasError
from nas.layers.graph import describe, module_path
from nas.layers.modules import CONV_TYPES, input_width_attr, rebuild, resized_for_input
from nas.layers.recurrent import fit_hidden_states

_FLATTEN_METHODS = ("view", "reshape")


@dataclass(frozen=True)
class Adaptation:
    """One change made so the model fits: ``fc1.in_features: 9216 -> 256 (flatten size for input 1x8x8)``."""

    label: str
    old: Any
    new: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.old} -> {self.new} ({self.reason})"


class AdaptFailure(NasError):
    """A node failed while running the example; ``node`` is where."""

    def __init__(self, gm: fx.GraphModule, node: fx.Node, exc: Exception, tried: str = "") -> None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        self.where = describe(gm, node)
        also = f" (nasflow tried {tried})" if tried else ""
        super().__init__(f"{self.where} fails on the data{also}: {type(exc).__name__}: {first}")
        self.node, self.cause, self.tried = node, exc, tried
        self.layer = gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        inputs = [a for a in node.args if isinstance(a, fx.Node)]
        self.input_shape = inputs[0].meta.get("nas_shape") if inputs else None


class _Runner(fx.Interpreter):
    module: fx.GraphModule  # the traced graph it runs (fx.Interpreter types it as any Module)

    def __init__(self, gm: fx.GraphModule, input_desc: str, notes: list[Adaptation] | None) -> None:
        super().__init__(gm, garbage_collect_values=True)
        self.extra_traceback = False
        self.input_desc, self.notes, self.rewrote = input_desc, notes, False

    def run_node(self, n: fx.Node) -> Any:
        try:
            if n.op == "call_module":
                self._fit_module(n)
            elif n.op in ("call_method", "call_function"):
                self._fit_view(n)
            result = super().run_node(n)
        except AdaptFailure:
            raise
        except Exception as exc:
            raise AdaptFailure(self.module, n, exc) from exc
        n.meta["nas_shape"] = tuple(result.shape) if isinstance(result, torch.Tensor) else None
        return result

    def _fit_module(self, n: fx.Node) -> None:
        module = self.module.get_submodule(str(n.target))
        for label, old, value in fit_hidden_states(module, n, self.env):
            self.rewrote = True
            if self.notes is not None:
                self.notes.append(Adaptation(label, old, value, f"initial state of '{n.target}'"))
        x = self.env.get(n.args[0]) if n.args and isinstance(n.args[0], fx.Node) else None
        if not isinstance(x, torch.Tensor):
            return
        new = resized_for_input(module, x)
        if new is None:
            return
        self.module.set_submodule(str(n.target), new)
        if self.notes is not None:
            attr = input_width_attr(module)
            old, value = getattr(module, attr), getattr(new, attr)
            if isinstance(old, tuple) and len(old) == 1:
                old, value = old[0], value[0]
            self.notes.append(Adaptation(f"{n.target}.{attr}", old, value, self._reason(n)))

    def _fit_view(self, n: fx.Node) -> None:
        """``x.view(-1, N)`` / ``x.reshape(-1, N)`` with a constant N that no longer fits: flatten per sample;
        ``x.reshape(-1, 28, 28)`` written for another input size: the sizes of the tensor that arrives."""
        is_view = (n.op == "call_method" and n.target in _FLATTEN_METHODS) or (
            n.op == "call_function" and n.target is torch.reshape
        )
        if not is_view or n.kwargs:
            return
        sizes = n.args[1:]
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        x = self.env.get(cast(fx.Node, n.args[0]))  # the tensor viewed
        if len(sizes) < 2 or not isinstance(x, torch.Tensor) or x.dim() < 2:
            return
        lead, rest = sizes[0], sizes[1:]
        if (lead != -1 and not isinstance(lead, fx.Node)) or not all(type(s) is int for s in rest):
            return
        per_sample = tuple(x.shape[1:])
        if len(rest) == 1:
            if lead != -1 or rest[0] in (x.shape[-1], math.prod(per_sample)):
                return
            old, n.op, n.target, n.args = f"view(-1, {rest[0]})", "call_function", torch.flatten, (n.args[0], 1)
            new, reason = "flatten(x, 1)", f"flatten size for input {self.input_desc}"
        else:
            wanted = per_sample[-len(rest):]
            sizes_in = cast(tuple[int, ...], rest)  # all ints, checked above
            if math.prod(sizes_in) == math.prod(per_sample) or len(rest) > len(per_sample):
                return
            if math.prod(wanted) != math.prod(per_sample):
                return
            shown = "-1" if lead == -1 else "x.size(0)"
            old = f"{n.target if n.op == 'call_method' else 'reshape'}({shown}, {', '.join(map(str, rest))})"
            n.args = (n.args[0], lead, *wanted)
            new = old.split("(")[0] + f"({shown}, {', '.join(map(str, wanted))})"
            reason = f"sizes of input {self.input_desc}"
        self.rewrote = True
        if self.notes is not None:
            self.notes.append(Adaptation(f"{module_path(n) or 'forward'}.{n.name}", old, new, reason))

    def _reason(self, n: fx.Node) -> str:
        current = n.args[0]
        while isinstance(current, fx.Node):
            if current.op == "placeholder":
                return "data"
            if _is_flatten(self.module, current):
                flat = len(current.meta.get("nas_shape") or (0, 0)) == 2
                return f"{'flatten size' if flat else 'reshaped rows'} for input {self.input_desc}"
            if current.op == "call_module" and not _passes_width(self.module.get_submodule(str(current.target))):
                break
            inputs = [a for a in current.args if isinstance(a, fx.Node)]
            if len(inputs) != 1:
                break
            current = inputs[0]
        return "follows the layer before"


def _is_flatten(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(str(node.target)), nn.Flatten)
    if node.op == "call_method":
        return node.target in ("flatten", "view", "reshape")
    return node.op == "call_function" and node.target in (torch.flatten, torch.reshape)


def _passes_width(module: nn.Module) -> bool:
    return not isinstance(module, CONV_TYPES + (nn.Linear,))


@contextmanager
def single_thread() -> Iterator[None]:
    """One intra-op thread for tiny example batches (thread start-up costs more than the work)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_adaptive(gm: fx.GraphModule, example: torch.Tensor, notes: list[Adaptation] | None = None) -> torch.Tensor:
    """Run ``gm`` on ``example`` (in eval mode, no grad), resizing layers so every node fits; recompile if needed.

    Raises :class:`AdaptFailure` naming the node that still fails.
    """
    training = gm.training
    gm.eval()
    desc = "x".join(str(s) for s in example.shape[1:])
    runner = _Runner(gm, desc, notes)
    try:
        with torch.no_grad(), single_thread():
            out = runner.run(example)
    finally:
        gm.train(training)
        if runner.rewrote:
            gm.recompile()
    return out


def same_padding_fix(gm: fx.GraphModule, notes: list[Adaptation], input_desc: str) -> bool:
    """Give every unpadded odd-kernel conv "same" padding (for data too small for the original); whether any changed."""
    changed = False
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        conv = gm.get_submodule(str(node.target))
        if not isinstance(conv, CONV_TYPES) or isinstance(conv.padding, str) or any(conv.padding):
            continue
        k = conv.kernel_size
        if all(s == 1 for s in k) or any(s % 2 == 0 for s in k):
            continue
        padding = tuple(s // 2 for s in k)
        gm.set_submodule(str(node.target), rebuild(conv, padding=padding))
        notes.append(
            Adaptation(f"{node.target}.padding", 0, padding[0], f"input {input_desc} too small for unpadded kernels")
        )
        changed = True
    return changed
