"""Repeated blocks: runs of identical, shape-preserving children of a ``Sequential``/``ModuleList``, and their depth.

A run is found on the traced graph: consecutive segments (one child, or a repeating pattern of a few children
of a flat ``Sequential``) with one input and one output, the same layers and the same input and output shape.
Changing the depth removes segments from the end of the run or appends fresh copies of its last segment.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from torch import fx

from nas.layers.graph import module_stack, shape_of
from nas.layers.modules import has_state
from nas.space import Dimension

MAX_PERIOD = 4


@dataclass
class Run:
    """``segments[i]`` lists the child names making segment ``i`` of ``container`` (``''`` is the model itself)."""

    container: str
    segments: list[list[str]]
    low: int
    label: str = ""

    @property
    def dimension(self) -> Dimension:
        n = len(self.segments)
        return Dimension("int", low=self.low, high=max(2 * n, n + 2), default=n)

    def child_path(self, child: str) -> str:
        return f"{self.container}.{child}" if self.container else child


def _children(gm: fx.GraphModule, container: str) -> list[str]:
    module = gm.get_submodule(container) if container else gm
    names = list(module._modules)
    return names if names and all(n.isdigit() for n in names) else []


def _segment_nodes(gm: fx.GraphModule, paths: list[str]) -> list[fx.Node]:
    wanted = set(paths)
    return [n for n in gm.graph.nodes if wanted.intersection(module_stack(n))]


def _interface(nodes: list[fx.Node]) -> tuple[fx.Node, fx.Node] | None:
    """The single outside input and single output of a segment, if it has exactly one of each."""
    inside = set(nodes)
    ins = {a for n in nodes for a in n.all_input_nodes if a not in inside and a.op != "get_attr"}
    outs = [n for n in nodes if any(u not in inside for u in n.users)]
    if len(ins) != 1 or len(outs) != 1:
        return None
    return next(iter(ins)), outs[0]


def _run_interface(nodes: list[fx.Node]) -> tuple[fx.Node, fx.Node]:
    """The input and output of a run's segment (``_segment`` admits only segments that have one of each)."""
    face = _interface(nodes)
    assert face is not None
    return face


def _signature(gm: fx.GraphModule, paths: list[str]) -> tuple:
    parts = []
    for index, path in enumerate(paths):
        for name, m in gm.get_submodule(path).named_modules():
            shapes = tuple(tuple(p.shape) for p in m.parameters(recurse=False))
            parts.append((index, name, type(m).__qualname__, m.extra_repr(), shapes))
    return tuple(parts)


def _segment(gm: fx.GraphModule, container: str, children: list[str]):
    paths = [f"{container}.{c}" if container else c for c in children]
    nodes = _segment_nodes(gm, paths)
    face = _interface(nodes) if nodes else None
    if face is None:
        return None
    x_in, x_out = face
    if shape_of(x_in) is None or shape_of(x_in) != shape_of(x_out):
        return None
    modules = [gm.get_submodule(p) for p in paths]
    if not any(has_state(m) for root in modules for m in root.modules()):
        return None
    return nodes, x_in, x_out, _signature(gm, paths)


def _chained(prev: tuple, nxt: tuple) -> bool:
    _, _, prev_out, _ = prev
    nodes, x_in, _, _ = nxt
    return x_in is prev_out and all(u in set(nodes) for u in prev_out.users)


def find_runs(gm: fx.GraphModule) -> list[Run]:
    """Every run of repeated blocks in ``gm`` (shapes from a prior adaptive run), labelled ``<container>.depth``."""
    runs: list[Run] = []
    for container, _ in gm.named_modules():
        found = _runs_in(gm, container, _children(gm, container))
        for run in found:
            base = container or "root"
            run.label = f"{base}.depth" if len(found) == 1 else f"{base}.{run.segments[0][0]}.depth"
        runs.extend(found)
    return runs


def _runs_in(gm: fx.GraphModule, container: str, children: list[str]) -> list[Run]:
    found: list[Run] = []
    a = 0
    while a < len(children):
        best: tuple[int, list[list[str]]] | None = None
        for p in range(1, MAX_PERIOD + 1):
            segs = _repeats(gm, container, children, a, p)
            if len(segs) >= 2 and (best is None or len(segs) * p > best[0]):
                best = (len(segs) * p, segs)
        if best is None:
            lone = _lone_period(gm, container, children, a)
            best = (lone, [children[a : a + lone]]) if lone else None
        if best is None:
            a += 1
            continue
        found.append(Run(container, best[1], low=0 if a > 0 else 1))
        a += best[0]
    return found


def _repeats(gm: fx.GraphModule, container: str, children: list[str], a: int, p: int) -> list[list[str]]:
    """Consecutive identical, chained segments of ``p`` children starting at child ``a``."""
    segs: list[list[str]] = []
    prev = None
    for start in range(a, len(children) - p + 1, p):
        names = children[start : start + p]
        seg = _segment(gm, container, names)
        if seg is None or (prev is not None and (seg[3] != prev[3] or not _chained(prev, seg))):
            break
        segs.append(names)
        prev = seg
    return segs


def _lone_period(gm: fx.GraphModule, container: str, children: list[str], a: int) -> int | None:
    """The period of a lone shape-preserving segment after one of the same layer types (a stage's second block).

    Its predecessor changes the shape (so it is not a repeat itself), but the lone segment may repeat or go.
    """

    def path(c: str) -> str:
        return f"{container}.{c}" if container else c

    for p in range(1, MAX_PERIOD + 1):
        if a < p or a + p > len(children):
            break
        names, before = children[a : a + p], children[a - p : a]
        if [type(gm.get_submodule(path(c))) for c in names] != [type(gm.get_submodule(path(c))) for c in before]:
            continue
        seg = _segment(gm, container, names)
        prev_nodes = _segment_nodes(gm, [path(c) for c in before])
        prev_face = _interface(prev_nodes) if prev_nodes else None
        if seg is not None and prev_face is not None and _chained((prev_nodes, *prev_face, None), seg):
            return p
    return None


def set_depth(gm: fx.GraphModule, run: Run, depth: int) -> None:
    """Remove segments from the end of ``run`` or append fresh copies of its last segment until it has ``depth``."""
    n = len(run.segments)
    for names in reversed(run.segments[depth:]):
        paths = [run.child_path(c) for c in names]
        nodes = _segment_nodes(gm, paths)
        x_in, x_out = _run_interface(nodes)
        x_out.replace_all_uses_with(x_in)
        for node in reversed(nodes):
            gm.graph.erase_node(node)
        for p in paths:
            gm.delete_submodule(p)
    if depth > n:
        _append_copies(gm, run, depth - n)
    gm.graph.lint()
    gm.recompile()


def _append_copies(gm: fx.GraphModule, run: Run, count: int) -> None:
    container = gm.get_submodule(run.container) if run.container else gm
    last = run.segments[-1]
    nodes = _segment_nodes(gm, [run.child_path(c) for c in last])
    x_in, x_out = _run_interface(nodes)
    current = x_out
    used = {int(k) for k in container._modules if k.isdigit()}
    for _ in range(count):
        rename: dict[str, str] = {}
        for child in last:
            new = str(max(used) + 1)
            used.add(int(new))
            fresh = copy.deepcopy(container.get_submodule(child))
            for m in fresh.modules():
                if hasattr(m, "reset_parameters"):  # Module.__getattr__ types it as a Tensor or a Module
                    cast(Callable[[], None], m.reset_parameters)()
            container.add_module(new, fresh)
            rename[run.child_path(child)] = run.child_path(new)
        env: dict[fx.Node, fx.Node] = {x_in: current}
        anchor, copies = current, set[fx.Node]()

        def copied(arg: fx.Node, env: dict[fx.Node, fx.Node] = env) -> fx.Node:
            return env.get(arg, arg)

        def outside(user: fx.Node, copies: set[fx.Node] = copies) -> bool:
            return user not in copies

        for node in nodes:
            with gm.graph.inserting_after(anchor):
                new_node = gm.graph.node_copy(node, copied)
            if node.op in ("call_module", "get_attr"):
                new_node.target = _renamed(str(node.target), rename)
            stack = node.meta.get("nn_module_stack")
            if stack:
                new_node.meta["nn_module_stack"] = {_renamed(k, rename): v for k, v in stack.items()}
            env[node] = anchor = new_node
            copies.add(new_node)
        new_out = env[x_out]
        current.replace_all_uses_with(new_out, delete_user_cb=outside)
        current = new_out


def _renamed(path: str, rename: dict[str, str]) -> str:
    for old, new in rename.items():
        if path == old or path.startswith(old + "."):
            return new + path[len(old) :]
    return path
