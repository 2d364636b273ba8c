"""A layer plan: what can be searched in one traced model (fitted to the data), and how to apply a sample of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx

from nas.layers.adapt import Adaptation, run_adaptive
from nas.layers.blocks import Run, find_runs, set_depth
from nas.layers.inputs import fit_input
from nas.layers.modules import rebuild, width_attr
from nas.layers.sites import Site, find_sites, module_changes, set_activation
from nas.layers.widths import WidthGroup, width_groups
from nas.space import Dimension


@dataclass
class LayerPlan:
    """Width groups, kernel/dropout/activation sites and repeated-block runs of one model, by label."""

    groups: list[WidthGroup]
    sites: list[Site]
    runs: list[Run]
    adaptations: list[Adaptation] = field(default_factory=list)

    def dimensions(self) -> dict[str, Dimension]:
        """Every searchable dimension: free widths, then kernel, dropout and activation sites, then depths."""
        dims: dict[str, Dimension] = {}
        for group in self.groups:
            if group.free:
                w = group.default
                dims[group.label] = Dimension("int", low=max(1, w // 4), high=max(2, 4 * w), log=True, default=w)
        for site in self.sites:
            dims[site.label] = site.dimension
        for run in self.runs:
            dims[run.label] = run.dimension
        return dims

    def fixed_notes(self) -> list[str]:
        """One line per width kept fixed because of a layer nasflow cannot resize (or another constraint)."""
        return [f"{g.label}: kept at {g.default} ({g.pinned[0]})" for g in self.groups if g.pinned]

    def apply(self, gm: fx.GraphModule, params: Mapping[str, Any], example: torch.Tensor) -> None:
        """Set every labelled dimension of ``gm`` found in ``params``, then propagate shapes on ``example``."""
        changes: dict[str, dict[str, Any]] = {}
        for group in self.groups:
            if group.free and group.label in params and int(params[group.label]) != group.default:
                for path in group.members:
                    changes.setdefault(path, {})[width_attr(gm.get_submodule(path))] = int(params[group.label])
        for site in self.sites:
            if site.label not in params:
                continue
            if site.kind == "activation":
                set_activation(gm, site, params[site.label])
            else:
                found = module_changes(site, gm.get_submodule(site.target), params[site.label])
                if found:
                    changes.setdefault(site.target, {}).update(found)
        for path, kwargs in changes.items():
            gm.set_submodule(path, rebuild(gm.get_submodule(path), **kwargs))
        for run in reversed(self.runs):
            if run.label in params and int(params[run.label]) != len(run.segments):
                set_depth(gm, run, int(params[run.label]))
        gm.recompile()
        run_adaptive(gm, example)


def analyze(gm: fx.GraphModule, example: torch.Tensor, in_channels: int, n_classes: int,
            sites: bool = True) -> LayerPlan:
    """Fit ``gm`` to the data (in place) and find what can be searched in it: its width groups and, with
    ``sites``, its kernel, dropout and activation sites and repeated blocks (a fit alone needs only the widths).

    Raises :class:`AdaptFailure` when the model cannot be made to run on ``example``.
    """
    notes: list[Adaptation] = []
    fit_input(gm, example, notes)
    groups = width_groups(gm, n_classes=n_classes, in_channels=in_channels)
    retarget = False
    for group in groups:
        if group.target is not None and group.target != group.default:
            reason = group.target_reason
            for path in group.members:
                module = gm.get_submodule(path)
                gm.set_submodule(path, rebuild(module, **{width_attr(module): group.target}))
            notes.append(Adaptation(group.label, group.default, group.target, reason))
            group.default = group.target
            retarget = True
    if retarget:
        run_adaptive(gm, example, notes)
    return LayerPlan(groups, find_sites(gm) if sites else [], find_runs(gm) if sites else [], notes)
