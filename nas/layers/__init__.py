"""Layer-level search spaces of unmodified PyTorch models.

Trace a model with torch.fx (:mod:`.graph`), fit it to the data by resizing layers whose input changed
(:mod:`.adapt`; the input itself, flattened or resized, in :mod:`.inputs`; advice for what cannot be fitted in
:mod:`.advice`), find what can be searched — tied widths (:mod:`.widths`), kernel sizes, dropout rates and
activations (:mod:`.sites`), depths of repeated blocks (:mod:`.blocks`) — and apply a sample (:mod:`.plan`).
:mod:`.extraction` checks the dimensions on the data; :mod:`.canonical` gives the canonical graph used by
:func:`nas.fingerprint.fingerprint`.
"""

from nas.layers.adapt import Adaptation, AdaptFailure, run_adaptive
from nas.layers.advice import advice
from nas.layers.blocks import Run, find_runs, set_depth
from nas.layers.canonical import Canonical
from nas.layers.extraction import LayerExtraction, build_layers, example_input, extract_layers, fit_to_data
from nas.layers.graph import TraceFailure, trace, trace_graph
from nas.layers.inputs import RESIZE_SIZES, InputTooSmall, fit_input
from nas.layers.modules import ACTIVATION_CHOICES, ACTIVATION_MODULES
from nas.layers.ownership import owned_labels
from nas.layers.plan import LayerPlan, analyze
from nas.layers.sites import Site, find_sites
from nas.layers.validate import check_layer_dimension
from nas.layers.widths import WidthGroup, width_groups

__all__ = [
    "ACTIVATION_CHOICES",
    "ACTIVATION_MODULES",
    "AdaptFailure",
    "Adaptation",
    "InputTooSmall",
    "RESIZE_SIZES",
    "Canonical",
    "LayerExtraction",
    "LayerPlan",
    "Run",
    "Site",
    "TraceFailure",
    "WidthGroup",
    "advice",
    "analyze",
    "build_layers",
    "check_layer_dimension",
    "example_input",
    "extract_layers",
    "find_runs",
    "find_sites",
    "fit_input",
    "fit_to_data",
    "owned_labels",
    "run_adaptive",
    "set_depth",
    "trace",
    "trace_graph",
    "width_groups",
]
