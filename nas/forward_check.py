"""What a model must be to be searched: trainable, with a forward that returns one (batch, classes) logits tensor.

:func:`check_output` is the one check: at extraction (the default model), after every build of a layer-level
sample, and by :func:`check_forward` before a search starts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nas.errors import ModelFileError
from nas.layers.adapt import single_thread

RULE = "make forward return one logits tensor of shape (batch, classes), e.g. return logits instead of (logits, aux)"


def check_output(model: nn.Module, example: torch.Tensor, n_classes: int | None, where: str) -> None:
    """Run ``model`` (eval, no grad) on ``example`` and refuse anything but a ``(batch, n_classes)`` tensor (any
    number of classes when ``n_classes`` is ``None``) with a :class:`ModelFileError` naming ``where``."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), single_thread():
            out = model(example)
    finally:
        model.train(training)
    refuse_output(out, example, n_classes, where, type(model).__name__)


def refuse_output(out: Any, example: torch.Tensor, n_classes: int | None, where: str, name: str,
                  fix: str = RULE) -> None:
    """Raise the :class:`ModelFileError` of :func:`check_output` (ending in ``fix``) unless ``out`` is a
    ``(batch, n_classes)`` tensor; ``name`` is the model's class name."""
    batch = len(example)
    shaped = isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == batch
    if shaped and (n_classes is None or out.shape[1] == n_classes):
        return
    prefix = f"{where}: " if where else ""
    if isinstance(out, torch.Tensor) and out.dim() >= 2:
        want = (batch, n_classes if n_classes is not None else "classes")
        raise ModelFileError(f"{prefix}a batch of shape {tuple(example.shape)} gives output {tuple(out.shape)}, not "
                             f"{want} (batch, classes); {fix}")
    what = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
            else f"a {type(out).__name__}" + (f" with keys {sorted(map(str, out))}" if isinstance(out, dict) else ""))
    raise ModelFileError(f"{prefix}{name}.forward returned {what} for a batch of {batch}; {fix}")


def check_forward(factory: Any, example: torch.Tensor, n_classes: int | None = None) -> None:
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
    spec = getattr(factory, "spec", None)
    where = getattr(factory, "where", f"{spec.file}:{spec.class_name}" if spec is not None else "")
    refuse_output(out, example, n_classes, where, type(model).__name__)


def check_trainable(factory: Any, where: str) -> None:
    """Refuse a model whose default build has no trainable parameter (nothing to train, so nothing to search)."""
    model = factory.build(factory.space.defaults())
    if not any(p.requires_grad for p in model.parameters()):
        raise ModelFileError(f"{type(model).__name__} in {where} has no trainable parameters, so there is nothing to "
                             "train or search; give it at least one layer with weights (e.g. nn.Linear)")


__all__ = ["RULE", "check_forward", "check_output", "check_trainable", "refuse_output"]
