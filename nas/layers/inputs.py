"""Fitting a model's input to the data: flattened input for a model whose first layer is a ``Linear``, and a
resize for data smaller than the model's downsampling allows.

Both are nodes right after the graph's input, so training, the registered model and an exported ``model.py`` all
apply them identically to raw data-shaped input.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import fx

from nas.layers.adapt import Adaptation, AdaptFailure, run_adaptive, same_padding_fix
from nas.layers.graph import describe
from nas.layers.modules import CONV_TYPES, LINEAR_TYPES, activation_name, has_state

#: Input sizes probed (shorter side) when the data is smaller than a model's pooling windows allow.
RESIZE_SIZES = (16, 32, 64, 128, 256)
TOO_SMALL = re.compile(r"too small|greater than (the )?actual input|smaller than kernel|kernel size can't", re.I)


class InputTooSmall(AdaptFailure):
    """The model fails on the data as written, with same padding and at every probed input size."""


def _placeholder(gm: fx.GraphModule) -> fx.Node:
    return next(n for n in gm.graph.nodes if n.op == "placeholder")


def first_layer(gm: fx.GraphModule) -> fx.Node | None:
    """The first layer with weights that the input reaches through activations and dropouts only, if any."""
    node = _placeholder(gm)
    while len(node.users) == 1:
        node = next(iter(node.users))
        if node.op == "call_module":
            module = gm.get_submodule(str(node.target))
            if has_state(module):
                return node
        elif activation_name(node.op, node.target) is None:
            return None
    return None


def _insert_after_input(gm: fx.GraphModule, target: object, args: tuple, kwargs: dict) -> fx.Node:
    x = _placeholder(gm)
    with gm.graph.inserting_after(x):
        node = gm.graph.call_function(target, (x, *args), kwargs)  # type: ignore[arg-type]
    x.replace_all_uses_with(node, delete_user_cb=lambda user: user is not node)
    gm.recompile()
    return node


def flatten_for_linear(gm: fx.GraphModule, example: torch.Tensor, notes: list[Adaptation]) -> None:
    """Flatten the input per sample when the model's first layer is a ``Linear`` written for flattened input
    (its ``in_features`` is not the data's last axis), e.g. an MLP for 28x28 = 784 features on 1x8x8 digits."""
    if example.dim() <= 2:
        return
    node = first_layer(gm)
    if node is None:
        return
    layer = gm.get_submodule(str(node.target))
    if not isinstance(layer, LINEAR_TYPES) or layer.in_features == example.shape[-1]:
        return
    _insert_after_input(gm, torch.flatten, (1,), {})
    desc = "x".join(map(str, example.shape[1:]))
    notes.append(Adaptation("forward.input", f"x ({desc})", "flatten(x, 1)",
                            f"the first layer {describe(gm, node)} takes flattened input"))


def fit_input(gm: fx.GraphModule, example: torch.Tensor, notes: list[Adaptation]) -> None:
    """Make ``gm`` run on ``example`` in place, resizing layers as it goes: as written (flattened first for a
    ``Linear`` first layer); else with same padding for unpadded kernels; else with the input resized to the
    smallest of :data:`RESIZE_SIZES` the model works at. Every change is appended to ``notes``.

    Raises :class:`AdaptFailure` (:class:`InputTooSmall` when no probed size works).
    """
    flatten_for_linear(gm, example, notes)
    desc = "x".join(str(s) for s in example.shape[1:])
    try:
        run_adaptive(gm, example, notes)
        return
    except AdaptFailure as exc:
        failure = exc
    convs = {path: m for path, m in gm.named_modules() if isinstance(m, CONV_TYPES)}
    retry: list[Adaptation] = []
    if same_padding_fix(gm, retry, desc):
        try:
            run_adaptive(gm, example, retry)
            notes[:] = merged_notes(notes, retry)
            return
        except AdaptFailure:
            for path, conv in convs.items():
                gm.set_submodule(path, conv)
    if example.dim() not in (3, 4) or not TOO_SMALL.search(str(failure)):
        raise failure
    _resize_until_it_fits(gm, example, notes, failure)


def _resize_until_it_fits(gm: fx.GraphModule, example: torch.Tensor, notes: list[Adaptation],
                          failure: AdaptFailure) -> None:
    spatial = tuple(example.shape[2:])
    mode = "bilinear" if len(spatial) == 2 else "linear"
    node = _insert_after_input(gm, F.interpolate, (), {"size": spatial, "mode": mode, "align_corners": False})
    desc, first = "x".join(str(s) for s in example.shape[1:]), failure
    for side in (s for s in RESIZE_SIZES if s > min(spatial)):
        size = tuple(round(d * side / min(spatial)) for d in spatial)
        node.kwargs = {**node.kwargs, "size": size}
        gm.recompile()
        tried: list[Adaptation] = []
        try:
            run_adaptive(gm, example, tried)
        except AdaptFailure as exc:
            failure = exc if TOO_SMALL.search(str(exc)) else failure
            continue
        new = "x".join(map(str, (example.shape[1], *size)))
        resize = Adaptation("forward.input", desc, new, f"{mode} resize: {first.where} fails at {desc}")
        notes[:] = merged_notes(notes, [resize, *tried])
        return
    node.replace_all_uses_with(node.args[0])  # type: ignore[arg-type]
    gm.graph.erase_node(node)
    gm.recompile()
    raise InputTooSmall(gm, failure.node, failure.cause, tried=f"same padding and input sizes up to {RESIZE_SIZES[-1]}")


def merged_notes(first: list[Adaptation], retry: list[Adaptation]) -> list[Adaptation]:
    """The first pass's changes (still in the graph) followed by the retry's; a layer changed twice shows first old,
    last new."""
    merged = {a.label: a for a in first}
    for a in retry:
        earlier = merged.get(a.label)
        merged[a.label] = a if earlier is None else Adaptation(a.label, earlier.old, a.new, a.reason)
    return list(merged.values())


__all__ = [
    "RESIZE_SIZES", "TOO_SMALL", "InputTooSmall", "first_layer", "fit_input", "flatten_for_linear", "merged_notes",
]
