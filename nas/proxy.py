"""A training-free score of an architecture (a zero-cost proxy): SynFlow of the freshly built model.

SynFlow (Tanaka et al., 2020; as a NAS proxy, Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", 2021)
sums ``|θ · ∂R/∂θ|`` over the parameters, ``R`` being the summed output of the network with every parameter
replaced by its absolute value on an all-ones input: it measures how much signal the architecture carries from
input to output, with no data and no training. It costs one forward and one backward pass of a single sample.

The local search sampler uses the score only to order the untried neighbours of a trial, and only as far as it
agrees with the trials already evaluated (see :mod:`nas.samplers`); the score never decides which trial wins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nas.errors import SearchError
from nas.extract import BUILD_FAILURES

if TYPE_CHECKING:
    from nas.samplers import Score

PROXIES = ("synflow", "none")


def synflow(model: nn.Module, example: torch.Tensor) -> float | None:
    """The natural log of ``model``'s SynFlow score for inputs shaped like ``example`` (batch dimension first).

    The model is left as it was (its parameters are replaced for one functional call, in double precision, and
    batch norm runs on its running statistics). None when the score is zero, not finite, or the model cannot be
    run that way (an operation that refuses double precision, for example).
    """
    params = {name: p.detach().abs().double().requires_grad_() for name, p in model.named_parameters()}
    if not params:
        return None
    buffers = {name: b.double() if b.is_floating_point() else b for name, b in model.named_buffers()}
    ones = torch.ones_like(example[:1], dtype=torch.double if example.is_floating_point() else example.dtype)
    was_training = model.training
    model.eval()
    try:
        output = torch.func.functional_call(model, {**params, **buffers}, (ones,))
        grads = torch.autograd.grad(output.sum(), list(params.values()), allow_unused=True)
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return None
    finally:
        model.train(was_training)
    total = sum(float((p.detach() * g).abs().sum()) for p, g in zip(params.values(), grads) if g is not None)
    return math.log(total) if 0.0 < total < math.inf else None


class SynflowScore:
    """The :func:`synflow` score of the model each configuration builds, computed once per configuration.

    ``build`` turns a configuration into a freshly initialized model; it runs under a fixed torch seed (the
    global random state is left as it was), so a configuration always gets the same score. A configuration that
    does not build (or fails to trace or fit the data) scores None.
    """

    def __init__(self, build: Callable[[Mapping[str, Any]], nn.Module], example: torch.Tensor, seed: int = 0) -> None:
        self.build, self.example, self.seed = build, example, seed
        self._scores: dict[str, float | None] = {}

    def __call__(self, params: Mapping[str, Any]) -> float | None:
        key = json.dumps(params, sort_keys=True, default=str)
        if key not in self._scores:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                try:
                    model = self.build(params)
                except BUILD_FAILURES:
                    self._scores[key] = None  # the trial will say why; a score never stops the search
                else:
                    self._scores[key] = synflow(model, self.example)
        return self._scores[key]


def make_score(proxy: str, build: Callable[[Mapping[str, Any]], nn.Module], example: torch.Tensor) -> Score | None:
    """The training-free score called ``proxy`` (``synflow``), or None for ``none``."""
    if proxy == "none":
        return None
    if proxy == "synflow":
        return SynflowScore(build, example)
    raise SearchError(f"unknown proxy '{proxy}'; use one of {', '.join(PROXIES)} (search.proxy=...)")
