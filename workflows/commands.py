"""The subcommands of ``nasflow``; each composes the config from its overrides and calls the workflow."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.config import compose_config, config_dir

if TYPE_CHECKING:
    from omegaconf import DictConfig



def _cfg(args: argparse.Namespace, extra: list[str] | None = None) -> DictConfig:
    """The run's config: the ``--params-file`` as it is, else ``conf/`` composed with the overrides."""
    if getattr(args, "params_file", None):
        from workflows.config import load_config_file
        from workflows.errors import ConfigError

        if args.overrides or extra:
            raise ConfigError(f"overrides {list(extra or []) + list(args.overrides)} cannot change --params-file "
                              f"'{args.params_file}' (a composed config); edit the file or drop --params-file")
        return load_config_file(args.params_file)
    return compose_config(list(extra or []) + list(args.overrides), args.config_dir)


def cmd_space(args: argparse.Namespace) -> int:
    """Derive the space of FILE.py:Class for the configured data, print it and write the YAML configs."""
    from workflows.space_files import write_space

    write_space(args.target, args.name, args.force, _cfg(args), config_dir(args.config_dir))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Run or resume the search and print its summary."""
    import time

    from workflows.context import prepare
    from workflows.progress import phase_line
    from workflows.search_run import search
    from workflows.summary import build_summary, print_summary, search_line, write_json

    started = time.perf_counter()
    ctx = prepare(_cfg(args))
    study = search(ctx, show_progress=not args.no_progress)
    summary = build_summary(ctx, study, None, time.perf_counter() - started)
    if args.best_file:
        from workflows.errors import WorkflowError

        if "best_trial" not in summary:
            raise WorkflowError(f"study '{ctx.ws.study_name}' has no trial that meets the selection rule "
                                "search.select; "
                                "relax search.select or search longer (search.n_trials)")
        write_json(args.best_file, {"study": ctx.ws.study_name, "trial": summary["best_trial"],
                                    "params": summary["best_params"]})
    print_summary(summary, args.json)
    phase_line(search_line(summary, ctx.search_settings.metric), not args.no_progress)
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    """Retrain the study's best (or a chosen) trial, register it (unless --no-register) and print the summary."""
    import time

    from nas.selection import select_trial, trial_by_number
    from nas.study import open_existing_study
    from workflows.context import prepare
    from workflows.errors import WorkflowError
    from workflows.pipeline import retrain_model
    from workflows.summary import build_summary, print_summary, write_json, write_metrics
    from workflows.versioning import register_result

    if not args.register and not args.model_out:
        raise WorkflowError("--no-register needs --model-out DIR, else the retrained model would be lost; "
                            "add --model-out DIR (then 'nasflow register --model-dir DIR') or drop --no-register")
    started = time.perf_counter()
    ctx = prepare(_cfg(args))
    study = open_existing_study(ctx.search_settings)
    chosen = select_trial(study, ctx.search_settings) if args.trial is None else trial_by_number(study, args.trial)
    params, number = dict(chosen.params), chosen.number
    result = retrain_model(ctx, params, not args.no_progress, f"retrain trial {number}")
    if args.model_out:
        from workflows.model_bundle import save_bundle

        save_bundle(Path(args.model_out), ctx, result, number)
    if not args.register:
        write_json(args.metrics_file, {**result.metrics, "params": result.cost.params, "flops": result.cost.flops})
        saved = {"model_dir": args.model_out, "trial": number, "params": params,
                 "test_accuracy": result.metrics["test_accuracy"],
                 "wall_time_s": round(time.perf_counter() - started, 2)}
        print(json.dumps(saved, indent=2, default=str) if args.json else
              f"retrained trial {number}: test_accuracy {result.metrics['test_accuracy']:.4f}; "
              f"saved to {args.model_out} "
              f"(register it with: nasflow register --model-dir {args.model_out})")
        return 0
    from workflows.progress import phase_line

    outcome: dict[str, Any] = {"result": result, "registered": register_result(ctx, result, number)}
    phase_line(f"registered {outcome['registered'].uri} ({outcome['registered'].alias})", not args.no_progress)
    summary = build_summary(ctx, study, outcome, time.perf_counter() - started)
    write_metrics(summary, args.metrics_file)
    print_summary(summary, args.json)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    """Register a saved retrained model (champion only if better), or name the version that already holds it."""
    from workflows.context import prepare
    from workflows.model_bundle import require_bundle
    from workflows.progress import phase_line
    from workflows.register_step import register_saved
    from workflows.summary import write_metrics

    folder = require_bundle(Path(args.model_dir))
    summary = register_saved(prepare(_cfg(args)), folder)
    write_metrics(summary, args.metrics_file)
    print(json.dumps(summary, indent=2, default=str) if args.json else summary["message"])
    if args.json:  # else the message is the line
        phase_line(summary["message"], not args.no_progress)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Scaffold a project folder; print what was created and the next steps."""
    from workflows.init_project import init_project, init_report

    folder = Path(args.folder)
    print(init_report(folder, init_project(folder)))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    """Print (or write with --out) the composed config as YAML: DVC's params.yaml."""
    from workflows.config import config_yaml

    text = config_yaml(_cfg(args))
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Search, retrain the best, register it and record it; print the summary."""
    from workflows.pipeline import run
    from workflows.summary import print_summary, write_metrics

    summary = run(_cfg(args), show_progress=not args.no_progress)
    write_metrics(summary, args.metrics_file)
    print_summary(summary, args.json)
    return 0


def _ask(args: argparse.Namespace, question: Callable[[Any], Any]) -> int:
    """Print the answer of ``question(kb)`` on the workspace's knowledge base in ``--format`` (only the
    ``--columns`` named, else a table of what fits 120 characters), then close it. An answer given as
    ``(result, why)`` prints ``why`` on stderr when there are no rows."""
    from knowledge_base import KnowledgeBase
    from knowledge_base.result import TABLE_WIDTH, format_result
    from workflows.workspace import Workspace

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    with KnowledgeBase(Workspace.from_config(_cfg(args)).kb_url) as kb:
        answer = question(kb)
        result, why = answer if isinstance(answer, tuple) else (answer, None)
        if why is not None:
            print(why, file=sys.stderr)
        print(format_result(result.select(columns) if columns else result, args.format,
                            width=None if columns else TABLE_WIDTH))
    return 0


def cmd_kb_query(args: argparse.Namespace) -> int:
    """Filter knowledge-base records with the query language."""
    return _ask(args, lambda kb: kb.query(args.expression, details=True))


def cmd_kb_sql(args: argparse.Namespace) -> int:
    """Read-only SQL over the knowledge base."""
    return _ask(args, lambda kb: kb.sql(args.statement))


def cmd_kb_tasks(args: argparse.Namespace) -> int:
    """Tasks with their meta-features."""
    return _ask(args, lambda kb: kb.tasks())


def cmd_kb_similar(args: argparse.Namespace) -> int:
    """Past tasks ranked by meta-feature distance to a task."""
    from workflows.kb_answers import similar_answer

    return _ask(args, lambda kb: similar_answer(kb, args.task, args.k))


def cmd_kb_best(args: argparse.Namespace) -> int:
    """The best models of a task under a budget."""
    from workflows.kb_answers import best_answer

    return _ask(args, lambda kb: best_answer(kb, args.task, args.metric, args.max_params, args.max_latency_ms))


def cmd_ui(args: argparse.Namespace) -> int:
    """Start the MLflow UI on 127.0.0.1 for the workspace's tracking store (Ctrl-C stops it)."""
    from workflows.ports import require_free_port
    from workflows.serve import runs_table_url
    from workflows.tracking import ensure_experiment, mlflow_client
    from workflows.tracking_server import is_server
    from workflows.workspace import Workspace

    ws = Workspace.from_config(_cfg(args))
    if is_server(ws.mlflow_uri):
        url = runs_table_url(ws.mlflow_uri, ensure_experiment(mlflow_client(ws), ws))
        print(f"tracking.uri is a tracking server: the runs of {ws.experiment} are at {url}", file=sys.stderr)
        return 0
    require_free_port(args.port, "ui")
    from workflows.relocation import follow_moved_workspace

    follow_moved_workspace(ws)  # the UI shows artifacts from where the workspace is now
    experiment_id = ensure_experiment(mlflow_client(ws), ws)  # the store exists before the server reads it
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", ws.mlflow_uri,
               "--default-artifact-root", ws.artifact_root.as_uri(), "--host", "127.0.0.1", "--port", str(args.port),
               "--workers", "1"]
    url = runs_table_url(f"http://127.0.0.1:{args.port}", experiment_id)
    print(f"MLflow UI for {ws.mlflow_uri} at {url} (Ctrl-C stops it)", file=sys.stderr)
    from workflows.serve import serve

    return serve(command, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")  # no background job runners for browsing


def cmd_export(args: argparse.Namespace) -> int:
    """Export a registered version or a trial as a standalone .py plus weights."""
    from workflows.context import prepare
    from workflows.exporting import export_architecture
    from workflows.progress import phase_line

    report = export_architecture(prepare(_cfg(args)), Path(args.out), args.trial, args.version, args.alias)
    print(json.dumps(report, indent=2, default=str))
    phase_line(f"exported {report['source']} to {report['model_py']} and {report['weights']}", not args.no_progress)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Start optuna-dashboard on 127.0.0.1 for the workspace's study storage (Ctrl-C stops it)."""
    import shutil

    from workflows.errors import WorkflowError
    from workflows.workspace import Workspace

    ws = Workspace.from_config(_cfg(args))
    executable = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")
    if not Path(executable).exists():
        raise WorkflowError("optuna-dashboard is not installed; install it with: pip install 'nasflow[dashboard]'")
    from workflows.ports import require_free_port

    require_free_port(args.port, "dashboard")
    journal = ws.optuna_url.split("://", 1)[1] if ws.optuna_url.startswith("journal:") else None
    storage = "/" + journal.lstrip("/") if journal is not None else ws.optuna_url
    print(f"optuna-dashboard for {storage} at http://127.0.0.1:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    from workflows.serve import serve

    return serve([executable, storage, "--host", "127.0.0.1", "--port", str(args.port)])


def cmd_data_init(args: argparse.Namespace) -> int:
    """Export a bundled dataset into a folder and track it with DVC."""
    from workflows.data_versioning import init_dataset

    print(init_dataset(args.dataset, Path(args.folder)))
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    """Validate a data folder; print its content hash and meta-features as JSON. Decoded images are read from and
    written to the workspace's decode cache when the workspace exists and is writable (a check creates no
    workspace); ``--no-cache`` decodes every file and writes nothing."""
    import math
    import os

    from nas.data import load_data_folder
    from workflows.progress import phase_line
    from workflows.workspace import workspace_root

    cache, memory_mb = None, math.inf
    if not args.no_cache:
        cfg = _cfg(args)
        workspace = workspace_root(cfg)
        if workspace.is_dir() and os.access(workspace, os.W_OK):
            cache, memory_mb = workspace / "cache", float(cfg.data.memory_mb)
    data = load_data_folder(Path(args.folder), cache=cache, memory_mb=memory_mb)
    print(json.dumps({"name": data.name, "content_hash": data.content_hash, "meta": data.meta}, indent=2, default=str))
    phase_line(f"checked {args.folder}: {len(data.y)} samples, {data.n_classes} classes, content hash "
               f"{data.content_hash[:12]}", not args.no_progress)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Watch data folders; on new data retrain (or re-search), register, and move champion only if better."""
    from workflows.watch import watch

    overrides = [t for t in args.targets if "=" in t or t.startswith("~")]
    folders = [t for t in args.targets if t not in overrides]
    return watch(folders, args.interval, args.max_rounds, args.research, overrides, args.config_dir)
