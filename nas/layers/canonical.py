"""Canonical terms of a traced graph: what each node computes, independent of names and written form.

Each node gets a hash built from its operation (module type and settings, or the function, written in one
canonical way: ``F.relu``, ``torch.relu``, ``x.relu()`` and ``nn.ReLU`` are all ``relu``) and the hashes of its
inputs. Identity operations take their input's hash; values known to be zero (``x * 0``, ``zeros_like``) are
propagated through operations that keep zero at zero and dropped from sums; sums are flattened and their terms
sorted, so ``a + b`` and ``b + a`` agree. Nodes that do not reach the output never enter a hash.
"""

from __future__ import annotations

import hashlib
import operator
from collections import Counter
from collections.abc import Container
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import fx, nn

from nas.layers.graph import FUNCTIONAL_DROPOUT
from nas.layers.modules import BATCH_NORM_TYPES, CONV_TYPES, DROPOUT_TYPES, activation_name

ZERO = "0"
_ADD = {operator.add, operator.iadd, torch.add, "add", "add_", "__add__", "__radd__"}
_MUL = {operator.mul, operator.imul, torch.mul, "mul", "mul_", "__mul__", "__rmul__"}
_SUB = {operator.sub, operator.isub, torch.sub, "sub", "sub_"}
_DIV = {operator.truediv, torch.div, "div", "div_"}
_ZERO_MAKERS = {torch.zeros_like, "zero_", "zeros_like"}
_FLATTEN = {torch.flatten, "flatten"}
_IDENTITY_METHODS = {"contiguous", "clone"}
#: Operations mapping an all-zero input to an all-zero output, whatever their settings.
_KEEPS_ZERO = {
    "relu",
    "gelu",
    "silu",
    "elu",
    "leaky_relu",
    "tanh",
    "mish",
    "hardswish",
    "relu6",
    "selu",
    "flatten",
    F.max_pool1d,
    F.max_pool2d,
    F.max_pool3d,
    F.avg_pool1d,
    F.avg_pool2d,
    F.avg_pool3d,
    F.adaptive_avg_pool1d,
    F.adaptive_avg_pool2d,
    F.adaptive_max_pool1d,
    F.adaptive_max_pool2d,
    F.interpolate,
    torch.max_pool2d,
    torch.avg_pool1d,
    "view",
    "reshape",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "mean",
    "sum",
    "amax",
    torch.reshape,
    torch.permute,
    torch.transpose,
    torch.squeeze,
    torch.unsqueeze,
    torch.mean,
    torch.sum,
    torch.cat,
}
_ZERO_KEEPING_MODULES = (
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.Flatten,
    nn.Upsample,
) + DROPOUT_TYPES
_ACTIVATION_DEFAULTS: dict[str, dict[str, Any]] = {
    "leaky_relu": {"negative_slope": 0.01}, "elu": {"alpha": 1.0}, "gelu": {"approximate": "none"}
}


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class Canonical:
    """Canonical hashes of the nodes of one traced graph (see the module docstring)."""

    def __init__(self, root: nn.Module, graph: fx.Graph) -> None:
        self.root = root
        self.value: dict[fx.Node, str] = {}  # node -> hash, or ZERO
        self.source: dict[fx.Node, fx.Node] = {}  # node -> the node whose value it is (identities skipped)
        self.state: dict[fx.Node, frozenset[fx.Node]] = {}  # node -> the stateful nodes its value depends on
        self.sums: dict[fx.Node, list[tuple[int, Any]]] = {}
        live = _live_nodes(graph)
        self._uses = Counter(str(n.target) for n in live if n.op == "call_module")
        inputs = 0
        for node in graph.nodes:
            if node.op == "placeholder":
                self._term(node, f"input{inputs}", [])
                inputs += 1
            elif node.op == "output":
                self.output = node
            elif node in live:
                self._visit(node)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _alias(self, node: fx.Node, other: fx.Node) -> None:
        self.source[node] = self.source.get(other, other)
        self.value[node], self.state[node] = self.value[other], self.state[other]

    def _zero(self, node: fx.Node) -> None:
        self.value[node], self.state[node] = ZERO, frozenset()

    def _term(
        self, node: fx.Node, key: str, operands: list[fx.Node], commutative: bool = False, stateful: bool = False
    ) -> None:
        operands = [self.source.get(n, n) for n in operands]
        hashes = self._multiset([(1, n) for n in operands]) if commutative else [self.value[n] for n in operands]
        self.value[node] = _digest(key + "(" + ",".join(hashes) + ")")
        own = frozenset((node,)) if stateful else frozenset()
        self.state[node] = own.union(*(self.state[n] for n in operands))

    def _multiset(self, terms: list[tuple[int, fx.Node]]) -> list[str]:
        """Sorted terms with multiplicities; equal values (same hash, same weights) count together."""
        counts = Counter((sign, self.value[n], self.state[n]) for sign, n in terms)
        return sorted(f"{'-' if sign < 0 else '+'}{h}*{k}" for (sign, h, _), k in counts.items())

    def _key(self, node: fx.Node, name: str) -> str:
        """``name`` plus the node's constant arguments (tensor arguments replaced by their position)."""
        args = fx.node.map_arg(node.args, lambda _: "#")
        kwargs = {k: fx.node.map_arg(v, lambda _: "#") for k, v in sorted(node.kwargs.items()) if k != "inplace"}
        return f"{name}{args!r}{kwargs!r}"

    # -- nodes ---------------------------------------------------------------------------------------------
    def _visit(self, node: fx.Node) -> None:
        inputs = [n for n in node.all_input_nodes]
        if node.op == "get_attr":
            tensor = _fetch(self.root, str(node.target))
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            self._term(node, f"param{shape}", [], stateful=True)
            return
        if node.op == "call_module":
            self._visit_module(node, self.root.get_submodule(str(node.target)), inputs)
            return
        target = node.target
        name = activation_name(node.op, target)
        zeros = [n for n in inputs if self.value[n] == ZERO]
        if _is(target, FUNCTIONAL_DROPOUT):
            self._visit_dropout(node, FUNCTIONAL_DROPOUT[target].__name__, inputs)
        elif _is(target, _ZERO_MAKERS):
            self._zero(node)
        elif (_is(target, _ADD) or _is(target, _SUB)) and not node.kwargs:
            self._visit_sum(node, subtract=_is(target, _SUB))
        elif _is(target, _MUL) and (zeros or _has_constant(node, 0)):
            self._zero(node)
        elif (_is(target, _MUL) or _is(target, _DIV)) and _has_constant(node, 1) and len(inputs) == 1:
            self._alias(node, inputs[0])
        elif _is(target, _DIV) and inputs and self.value[inputs[0]] == ZERO:
            self._zero(node)
        elif node.op == "call_method" and target in _IDENTITY_METHODS:
            self._alias(node, inputs[0])
        elif inputs and len(zeros) == len(inputs) and (name is not None or _is(target, _KEEPS_ZERO)):
            self._zero(node)
        elif name is not None:
            self._term(node, _activation_key(name, _activation_settings(name, node)), inputs[:1])
        elif _is(target, _FLATTEN):
            start = node.kwargs.get("start_dim", node.args[1] if len(node.args) > 1 else 0)
            end = node.kwargs.get("end_dim", node.args[2] if len(node.args) > 2 else -1)
            self._term(node, f"flatten({start},{end})", inputs[:1])
        else:
            self._term(node, self._key(node, _function_name(node)), inputs, _is(target, _MUL))

    def _visit_module(self, node: fx.Node, module: nn.Module, inputs: list[fx.Node]) -> None:
        zero_in = bool(inputs) and all(self.value[n] == ZERO for n in inputs)
        name = activation_name("call_module", node.target, module)
        if isinstance(module, nn.Identity):
            self._alias(node, inputs[0])
        elif isinstance(module, DROPOUT_TYPES):
            self._term_dropout(node, type(module).__name__, float(module.p), inputs[0])
        elif zero_in and (
            name is not None
            or isinstance(module, _ZERO_KEEPING_MODULES)
            or _linear_without_bias(module)
            or _norm_without_affine(module)
        ):
            self._zero(node)
        elif name is not None:
            self._term(node, _activation_key(name, _module_settings(name, module)), inputs)
        elif isinstance(module, nn.Flatten):
            self._term(node, f"flatten({module.start_dim},{module.end_dim})", inputs)
        else:
            settings = module.extra_repr().replace(", inplace=True", "").replace("inplace=True", "")
            shared = f"shared{self._uses[str(node.target)]}" if self._uses[str(node.target)] > 1 else ""
            stateful = any(True for _ in module.parameters())
            self._term(
                node,
                f"{type(module).__module__}.{type(module).__qualname__}({settings}){shared}",
                inputs,
                stateful=stateful,
            )

    def _visit_dropout(self, node: fx.Node, kind: str, inputs: list[fx.Node]) -> None:
        p = cast(float, node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.5))  # a traced rate
        training = node.kwargs.get("training", node.kwargs.get("train", node.args[2] if len(node.args) > 2 else True))
        self._term_dropout(node, kind, float(p) if training is not False else 0.0, inputs[0])

    def _term_dropout(self, node: fx.Node, kind: str, p: float, x: fx.Node) -> None:
        if p == 0.0 or self.value[x] == ZERO:
            self._alias(node, x)
        else:
            self._term(node, f"{kind}({p})", [x])

    def _visit_sum(self, node: fx.Node, subtract: bool) -> None:
        terms: list[tuple[int, Any]] = []  # (sign, node or constant), nested sums flattened, zeros dropped
        for index, arg in enumerate(node.args[:2]):
            sign = -1 if subtract and index == 1 else 1
            if isinstance(arg, fx.Node):
                terms.extend((sign * s, t) for s, t in self._sum_terms(arg))
            elif arg != 0:
                terms.append((sign, arg))
        nodes = [t for _, t in terms if isinstance(t, fx.Node)]
        if not terms:
            self._zero(node)
        elif len(terms) == 1 and terms[0][0] == 1 and nodes:
            self._alias(node, nodes[0])
        else:
            hashes = self._multiset([(s, t) for s, t in terms if isinstance(t, fx.Node)])
            constants = sorted(f"{s}:{t!r}" for s, t in terms if not isinstance(t, fx.Node))
            self.value[node] = _digest(f"sum{constants}(" + ",".join(hashes) + ")")
            self.state[node] = frozenset().union(*(self.state[t] for t in nodes))
            self.sums[node] = terms

    def _sum_terms(self, node: fx.Node) -> list[tuple[int, Any]]:
        node = self.source.get(node, node)
        if self.value[node] == ZERO:
            return []
        return self.sums.get(node) or [(1, node)]

    # -- result --------------------------------------------------------------------------------------------
    def reachable_state(self) -> list[str]:
        """Hashes of the stateful nodes (layers with weights) the output depends on, one per distinct node."""
        outputs = [self.source.get(n, n) for n in self.output.all_input_nodes]
        return sorted(self.value[n] for n in frozenset().union(*(self.state[o] for o in outputs)))

    def output_hash(self) -> str:
        values = fx.node.map_arg(self.output.args[0], lambda n: self.value[n])
        return repr(values)


def _live_nodes(graph: fx.Graph) -> set[fx.Node]:
    """Nodes the output depends on."""
    live: set[fx.Node] = set()
    todo = [n for n in graph.nodes if n.op == "output"]
    while todo:
        node = todo.pop()
        if node not in live:
            live.add(node)
            todo.extend(node.all_input_nodes)
    return live


def _is(target: Any, group: Container[Any]) -> bool:
    try:
        return target in group
    except TypeError:
        return False


def _has_constant(node: fx.Node, value: float) -> bool:
    return any(
        not isinstance(a, fx.Node) and isinstance(a, (int, float)) and not isinstance(a, bool) and a == value
        for a in node.args
    )


def _fetch(root: nn.Module, target: str) -> Any:
    owner, _, name = target.rpartition(".")
    return getattr(root.get_submodule(owner) if owner else root, name)


def _function_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    return f"{getattr(target, '__module__', '') or ''}.{getattr(target, '__name__', repr(target))}"


def _linear_without_bias(module: nn.Module) -> bool:
    return isinstance(module, CONV_TYPES + (nn.Linear,)) and module.bias is None


def _norm_without_affine(module: nn.Module) -> bool:
    if isinstance(module, BATCH_NORM_TYPES + (nn.GroupNorm,)):
        return not module.affine
    return isinstance(module, nn.LayerNorm) and not module.elementwise_affine


def _activation_settings(name: str, node: fx.Node) -> dict[str, Any]:
    defaults = _ACTIVATION_DEFAULTS.get(name, {})
    values = dict(zip(defaults, node.args[1:]))
    values.update({k: v for k, v in node.kwargs.items() if k in defaults})
    return values


def _module_settings(name: str, module: nn.Module) -> dict[str, Any]:
    return {k: getattr(module, k) for k in _ACTIVATION_DEFAULTS.get(name, {}) if hasattr(module, k)}


def _activation_key(name: str, settings: dict[str, Any]) -> str:
    defaults = _ACTIVATION_DEFAULTS.get(name, {})
    changed = {k: v for k, v in sorted(settings.items()) if defaults.get(k) != v}
    return f"{name}{changed}" if changed else name
