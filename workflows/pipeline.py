"""The workflow of one run: data → space → search → retrain → MLflow version → knowledge base.

The orchestration and the retrain: the context is built by :mod:`workflows.context`, the search run by
:mod:`workflows.search_run`, a version registered by :mod:`workflows.versioning`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workflows.context import RunContext, prepare
from workflows.versioning import register_result

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from nas.retrain import RetrainResult


def retrain_model(ctx: RunContext, params: dict[str, Any], show_progress: bool = False,
                  label: str = "retrain") -> RetrainResult:
    """Retrain ``params`` on train+validation for ``train.retrain_epochs`` and test it once (nothing recorded);
    ``show_progress`` draws an epoch bar on a terminal."""
    from nas.retrain import retrain
    from nas.training import TrainSettings
    from workflows.pause import pause_at
    from workflows.progress import EpochProgress

    ctx.data.save_cache()  # the settings are sound: keep the decoded images for the next run
    settings = TrainSettings(**{**ctx.train_settings.as_dict(), "epochs": ctx.cfg.train.retrain_epochs})
    with EpochProgress(label, settings.epochs, show_progress) as bar:
        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            bar.epoch_ended(epoch, metrics)
            pause_at("retrain-epoch")

        result = retrain(ctx.factory, params, ctx.data, settings, on_epoch=on_epoch)
        bar.done(f"test_accuracy={result.metrics['test_accuracy']:.4f}")
    return result


def retrain_and_register(ctx: RunContext, params: dict[str, Any], trial_number: int | None,
                         show_progress: bool = False) -> dict[str, Any]:
    """Retrain ``params`` on train+validation, test once, log and register the model, record it in the KB."""
    from workflows.progress import phase_line

    result = retrain_model(ctx, params, show_progress, f"retrain trial {trial_number}")
    registered = register_result(ctx, result, trial_number)
    phase_line(f"registered {registered.uri} ({registered.alias})", show_progress)
    return {"result": result, "registered": registered}


def run(cfg: DictConfig, show_progress: bool = True) -> dict[str, Any]:
    """The whole workflow; returns the summary (see :func:`workflows.summary.build_summary`)."""
    from nas.selection import select_trial
    from workflows.search_run import search
    from workflows.summary import build_summary

    started = time.perf_counter()
    ctx = prepare(cfg)
    study = search(ctx, show_progress)
    chosen = select_trial(study, ctx.search_settings)
    outcome = retrain_and_register(ctx, dict(chosen.params), chosen.number, show_progress)
    return build_summary(ctx, study, outcome, time.perf_counter() - started)
