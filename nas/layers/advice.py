"""One line of advice per kind of layer that cannot be fitted to the data: what nasflow tried, and the one change to
the model file that lets it through."""

from __future__ import annotations

from nas.layers.adapt import AdaptFailure
from nas.layers.inputs import RESIZE_SIZES, TOO_SMALL, InputTooSmall
from nas.layers.modules import RECURRENT_TYPES

_GENERIC = ("Make its size a constructor argument filled from the data (in_channels, num_classes, input_size), or "
            "replace it with a layer nasflow resizes (Conv*, Linear, norms, RNN/LSTM/GRU)")


def advice(failure: AdaptFailure) -> str:
    """What was tried for ``failure`` and the fix, for the end of its error message."""
    node, layer = failure.node, failure.layer
    cause = str(failure.cause)
    if isinstance(failure, InputTooSmall):
        return (f"nasflow tried same padding and resizing the input up to {RESIZE_SIZES[-1]} on its shorter side; "
                "replace the fixed pooling window with adaptive pooling (nn.AdaptiveAvgPool2d(1) or "
                "F.adaptive_avg_pool2d(out, 1))")
    if TOO_SMALL.search(cause):
        return ("nasflow resizes only image (CxHxW) and sequence (CxL) inputs and found no same padding to add; "
                "use adaptive pooling or padded kernels so the layer fits any input size")
    if node.op in ("call_method", "call_function") and str(getattr(node.target, "__name__", node.target)) in (
            "view", "reshape"):
        return ("nasflow rewrites view(-1, N) into a per-sample flatten and reshape sizes into the input's own "
                "trailing sizes, and neither fits here; compute the sizes from the tensor, e.g. "
                "x.reshape(x.size(0), -1) or x.reshape(x.size(0), x.size(-2), x.size(-1))")
    if isinstance(layer, RECURRENT_TYPES):
        shape = "x".join(map(str, failure.input_shape[1:])) if failure.input_shape else "?"
        steps = "(batch, steps, features)" if layer.batch_first else "(steps, batch, features)"
        return (f"nasflow resizes input_size to the last axis but the layer gets a {shape} sample; reshape its input "
                f"to {steps} first, e.g. x.reshape(x.size(0), -1, x.size(-1)) for image rows")
    return _GENERIC


__all__ = ["advice"]
