"""What a model must be to be searched: trainable, with a forward that returns one (batch, classes) logits tensor."""

from __future__ import annotations

from typing import Any

import torch

from nas.errors import ModelFileError

RULE = "make forward return one logits tensor of shape (batch, classes), e.g. return logits instead of (logits, aux)"


def check_forward(factory: Any, example: torch.Tensor) -> None:
    """Build the space's default model and refuse its output unless it is a (batch, classes) tensor.

    A build or forward that raises is left to the trials (they record the error and the search stops after
    ``search.max_failures`` of them).
    """
    try:
        model = factory.build(factory.space.defaults())
        model.eval()
        with torch.no_grad():
            out = model(example)
    except Exception:  # noqa: BLE001 - any build or forward error is the trials' to record, once each
        return
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == len(example):
        return
    what = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
            else f"a {type(out).__name__}" + (f" with keys {sorted(map(str, out))}" if isinstance(out, dict) else ""))
    name = type(model).__name__
    raise ModelFileError(f"{name}.forward returned {what} for a batch of {len(example)}; {RULE}")


def check_trainable(factory: Any, where: str) -> None:
    """Refuse a model whose default build has no trainable parameter (nothing to train, so nothing to search)."""
    model = factory.build(factory.space.defaults())
    if not any(p.requires_grad for p in model.parameters()):
        raise ModelFileError(f"{type(model).__name__} in {where} has no trainable parameters, so there is nothing to "
                             "train or search; give it at least one layer with weights (e.g. nn.Linear)")
