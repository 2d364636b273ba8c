"""The final summary of a search or run: a dict for ``--json`` and a rich table for people."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna import Study

    from workflows.context import RunContext
    from workflows.registry import RegisteredVersion


def trial_counts(study: Study) -> dict[str, int]:
    """How many trials of the study ended in each state."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return counts


def left_running(study: Study) -> list[dict[str, Any]]:
    """Trials still RUNNING when this worker stopped, with the worker (``host:pid:start``) that runs them."""
    from nas.recovery import WORKER_ATTR, others_running

    return [{"trial": t.number, "worker": t.user_attrs.get(WORKER_ATTR, "?")} for t in others_running(study)]


def build_summary(ctx: RunContext, study: Study, outcome: dict[str, Any] | None, wall_time_s: float) -> dict[str, Any]:
    """Everything worth printing about a search (and, with ``outcome``, its retrain and registration)."""
    summary: dict[str, Any] = {
        "model": ctx.ws.model,
        "data": ctx.ws.data,
        "study": ctx.ws.study_name,
        "trials": trial_counts(study),
        "left_running": left_running(study),
        "tracking_uri": ctx.ws.mlflow_uri,
        "optuna_storage": ctx.ws.optuna_url,
        "kb_url": ctx.ws.kb_url,
        "wall_time_s": round(wall_time_s, 2),
    }
    from nas.errors import SearchError
    from nas.selection import pareto_front, pruning_report, select_trial

    summary["pruning"] = pruning_report(study, ctx.train_settings.epochs)
    reused = {str(t.number): reuse_source(t.user_attrs["reused_from"]) for t in study.get_trials(deepcopy=False)
              if "reused_from" in t.user_attrs}
    if reused:
        summary["reused_from"] = reused
    if study.user_attrs.get("warm_start"):
        summary["warm_start"] = study.user_attrs["warm_start"]
    try:
        chosen = select_trial(study, ctx.search_settings)
    except SearchError:
        chosen = None
    if chosen is not None:
        summary["best_trial"] = chosen.number
        summary["best_params"] = dict(chosen.params)
        summary[f"best_{ctx.search_settings.metric}"] = chosen.values[0]
    if ctx.search_settings.multi_objective:
        names = [ctx.search_settings.metric, *ctx.search_settings.costs]
        summary["pareto_front"] = [{"trial": t.number, **dict(zip(names, t.values))} for t in pareto_front(study)]
    if outcome is not None:
        result, registered = outcome["result"], outcome["registered"]
        summary["best_params"] = dict(result.params)
        summary["metrics"] = {k: round(v, 6) for k, v in result.metrics.items()}
        summary["test_accuracy"] = result.metrics["test_accuracy"]
        summary["params"] = result.cost.params
        summary["flops"] = result.cost.flops
        summary["registered_model"] = registered.name
        summary["version"] = registered.version
        summary["alias"] = registered.alias
        summary["model_uri"] = registered.uri
        summary["alias_uri"] = registered.alias_uri
        summary["champion_uri"] = f"models:/{registered.name}@champion"
        summary["serialization_format"] = registered.serialization_format
        if registered.already_registered:
            summary["message"] = (f"this model is already version {registered.version} of '{registered.name}'; "
                                  f"no new version registered{finished_note(registered)}")
        if registered.previous_champion is not None:
            summary["previous_champion"] = {"version": registered.previous_champion,
                                            "test_accuracy": registered.previous_champion_accuracy}
        summary["decision"] = decision(registered, result.metrics["test_accuracy"], ctx.cfg.tracking.promote_margin)
        if str(summary.get("best_trial")) in reused:  # its search score was not trained in this study
            summary["decision"] += f"; trial {summary['best_trial']}'s search score came from " \
                                   f"{reused[str(summary['best_trial'])]}"
    summary["next"] = [
        "nasflow ui",
        f"nasflow kb query \"task = '{ctx.ws.data}' and test_accuracy >= 0.95 order by params limit 5\"",
    ]
    return summary


def reuse_source(source: object) -> str:
    """Where a reused trial's result came from, in words (a trial number of the same study, or a record)."""
    return f"trial {source} of this study" if isinstance(source, int) else str(source)


def finished_note(registered: RegisteredVersion) -> str:
    """What an answer about an already registered version adds when this call finished its registration."""
    return "; its interrupted registration is finished now" if registered.resumed else ""


def decision(registered: RegisteredVersion, test_accuracy: float, margin: float) -> str:
    """Why the version holds its alias: the same bytes were registered before (that version, left as it is), no
    champion yet, or both scores on today's test split (the version's own; the champion's, if another, named) and
    the margin."""
    if registered.already_registered:
        return (f"{registered.alias}: the same model bytes as version {registered.version} of {registered.name} "
                f"(MLflow run {registered.run_id}), registered before and left as it is; no new "
                f"version{finished_note(registered)}")
    if registered.previous_champion is None or registered.previous_champion_accuracy is None:
        return f"{registered.alias}: the first version of {registered.name}"
    champion = registered.previous_champion_accuracy
    verdict = "beats" if registered.alias == "champion" else "does not beat"
    return (f"{registered.alias}: {test_accuracy:.4f} {verdict} champion v{registered.previous_champion} "
            f"({champion:.4f} on the same test split) by more than the margin {margin:g} "
            f"(difference {test_accuracy - champion:+.4f})"
            + (f"; v{registered.previous_champion} was registered on another test split "
               f"({registered.previous_champion_split}, today's is {registered.test_split})"
               if registered.previous_champion_split not in (None, registered.test_split) else ""))


def write_json(path: str | None, payload: Any) -> None:
    """Write ``payload`` as JSON to ``path`` (folders created) if a path is given."""
    if not path:
        return
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def search_line(summary: dict[str, Any], metric: str) -> str:
    """The search's one finished-phase line: its trials by state and the chosen trial."""
    counts = ", ".join(f"{n} {state}" for state, n in summary["trials"].items()) or "no trials"
    best = (f"; best trial {summary['best_trial']} ({metric} {summary[f'best_{metric}']:.4f})"
            if "best_trial" in summary and f"best_{metric}" in summary else "")
    return f"searched {summary['study']}: {counts}{best}"


def write_metrics(summary: dict[str, Any], path: str | None) -> None:
    """Write the registered model's test metrics, cost, version and alias as JSON to ``path`` (DVC ``metrics``)."""
    write_json(path, {**summary.get("metrics", {}), "params": summary.get("params"), "flops": summary.get("flops"),
                      "version": summary.get("version"), "alias": summary.get("alias")})


def print_summary(summary: dict[str, Any], as_json: bool = False) -> None:
    """Print the summary as JSON (for scripts) or as a table (for people) on stdout."""
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"nasflow: {summary['model']} on {summary['data']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = [
        ("best parameters", ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in summary.get("best_params", {}).items())),
        ("trials", ", ".join(f"{k} {v}" for k, v in summary["trials"].items() if k != "running")),
        ("left running", ", ".join(f"trial {r['trial']} of worker {r['worker']} (another worker finishes or, if "
                                   "that host died, retries it)" for r in summary["left_running"]) or "-"),
        ("pruning", "{pruned} pruned ({infeasible} by constraints), {epochs_saved} epochs saved, {reused} reused"
                    .format(**summary["pruning"])),
        ("reused from",
         "\n".join(f"trial {n}: {source}" for n, source in summary.get("reused_from", {}).items()) or "-"),
        ("warm start",
         ", ".join(f"{w['task']} (distance {w['distance']})" for w in summary.get("warm_start", [])) or "-"),
        ("best val accuracy", f"{summary['best_val_accuracy']:.4f}" if "best_val_accuracy" in summary else "-"),
        ("test accuracy", f"{summary['test_accuracy']:.4f}" if "test_accuracy" in summary else "-"),
        ("parameters", f"{summary['params']:,}" if "params" in summary else "-"),
        ("wall time", f"{summary['wall_time_s']:.1f} s"),
        ("model URI", f"{summary['model_uri']} ({summary['alias']})" if "model_uri" in summary else "-"),
        ("decision", summary.get("decision", "-")),
        ("tracking URI", summary["tracking_uri"]),
        ("next", "\n".join(summary["next"])),
    ]
    for what, value in rows:
        table.add_row(what, value)
    console = Console()
    if summary.get("pareto_front"):
        front = Table(title="Pareto front")
        names = list(summary["pareto_front"][0])
        for name in names:
            front.add_column(name)
        for point in summary["pareto_front"]:
            front.add_row(*(f"{point[n]:.4g}" if isinstance(point[n], float) else str(point[n]) for n in names))
        console.print(front)
    console.print(table)
