"""Study plots as PNG files: optimization history, parameter importance, Pareto front."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna import Study

log = logging.getLogger(__name__)


def save_study_plots(study: Study, folder: Path) -> list[Path]:
    """Write the plots that the study supports into ``folder``; returns their paths."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    multi = len(study.directions) > 1
    plots = {"pareto_front": lambda: ovm.plot_pareto_front(study)} if multi else {
        "optimization_history": lambda: ovm.plot_optimization_history(study)}
    if len(complete) >= 3 and len(complete[0].params) > 1:
        plots["param_importances"] = lambda: ovm.plot_param_importances(
            study, target=(lambda t: t.values[0]) if multi else None)
    paths = []
    for name, draw in plots.items():
        try:
            axes: Any = draw()  # one Axes, or an array of them
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            path = folder / f"{name}.png"
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
            paths.append(path)
        except Exception as exc:  # a plot the study cannot support is skipped, never fatal
            log.warning("skipped plot %s: %s", name, exc)
    return paths
