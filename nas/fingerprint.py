"""Structural fingerprints: one hash per function a model computes, so equivalent samples are trained once.

The model is traced with torch.fx and canonicalized (see :mod:`nas.layers.canonical`): identity operations and
branches that contribute nothing (zero ops, dead code) are removed, sums are ordered, and every layer counts with
its type and settings. Two models computing the same function get the same fingerprint; weights never enter it.
A model torch.fx cannot trace is fingerprinted by the layers it runs on ``example``, in order.
"""

from __future__ import annotations

import hashlib

import torch
from torch import fx, nn

from nas.layers.canonical import Canonical
from nas.layers.graph import TraceFailure, trace_graph

VERSION = "fp1"


def fingerprint(model: nn.Module, example: torch.Tensor) -> str:
    """A hex digest identifying the function ``model`` computes (its structure, not its weights)."""
    try:
        graph = model.graph if isinstance(model, fx.GraphModule) else trace_graph(model)
    except TraceFailure:
        return _digest("executed", _executed_layers(model, example))
    canonical = Canonical(model, graph)
    return _digest("graph", [canonical.output_hash(), *canonical.reachable_state()])


def _digest(kind: str, parts: list[str]) -> str:
    return hashlib.sha256("\n".join([VERSION, kind, *parts]).encode()).hexdigest()


def _executed_layers(model: nn.Module, example: torch.Tensor) -> list[str]:
    """The leaf layers ``model`` runs on ``example``, in call order, with their settings and input shapes."""
    calls: list[str] = [f"{type(model).__module__}.{type(model).__qualname__}"]

    def hook(module: nn.Module, args: tuple) -> None:
        shapes = [tuple(a.shape[1:]) for a in args if isinstance(a, torch.Tensor)]
        calls.append(f"{type(module).__qualname__}({module.extra_repr()}){shapes}")

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_pre_hook(hook) for m in leaves]
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return calls


__all__ = ["fingerprint"]
