"""The ``nasflow`` command line: subcommands whose remaining arguments are Hydra overrides.

Heavy libraries (torch, optuna, mlflow, hydra) are imported inside the commands so that
``nasflow --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from workflows.quiet import quiet

# knowledge_base.FORMATS (a test holds them equal): importing knowledge_base here would load SQLAlchemy for --help
OUTPUT_FORMATS = ("table", "json", "csv")
EPILOG = """examples:
  nasflow init my-project                      scaffold a project (conf/, dvc.yaml, git, DVC)
  nasflow run                                  search, retrain and register the example model on digits
  nasflow search model=digits_cnn search.n_trials=50 train.epochs=5
  nasflow run +experiment=quick                a tiny budget
  nasflow space examples/models/digits_cnn.py:DigitsCNN
  nasflow kb query "task = 'digits' and test_accuracy >= 0.97 order by params limit 5"
  nasflow ui                                   the MLflow UI on 127.0.0.1
"""

QUERY_HELP = """Filter knowledge-base records (one row per trial or retrain) with a small query language.

  query      [condition {and|or condition}] [order by FIELD [asc|desc], ...] [limit N]
  condition  FIELD OP VALUE   with OP one of = != < <= > >=;  FIELD [not] in (V, ...);  FIELD [not] like 'pat%'
             not CONDITION, (parentheses) group; text values in single quotes, numbers and true/false bare
  FIELD      a column: id task model kind state fingerprint params flops latency_ms device wall_time_s created_at
             or a key: a metric (test_accuracy, val_accuracy, ...), arch.LABEL, settings.KEY, lineage.KEY, task.KEY

examples:
  nasflow kb query "task = 'digits' and test_accuracy >= 0.97 order by params limit 5"
  nasflow kb query "kind = 'trial' and state in ('complete', 'pruned') order by val_accuracy desc"
  nasflow kb query "lineage.study_name like 'digits%' and settings.epochs >= 5" --format json
"""


def _overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params-file", metavar="FILE",
                        help="a fully composed config (DVC's params.yaml) used instead of composing conf/")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides, e.g. search.n_trials=50")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each binds its handler (``args.handler``) with ``set_defaults``."""
    from workflows import commands

    parser = argparse.ArgumentParser(prog="nasflow", description="Declarative neural-architecture search for PyTorch.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", help="the conf/ folder (default: ./conf, else the project's own)")
    parser.add_argument("-v", "--traceback", action="store_true",
                        help="on an error, also print its traceback (with its causes) and the debug log")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="scaffold a project: conf/, the example model, dvc.yaml, params.yaml, git, DVC",
                       description="Scaffold a nasflow project in DIR (default: .): "
                                   "copy what is missing, keep the rest.")
    p.add_argument("folder", nargs="?", default=".", metavar="DIR", help="the project folder (created if missing)")
    p.set_defaults(handler=commands.cmd_init)

    p = sub.add_parser("space", help="derive a search space from a model file and write conf/space/<name>.yaml")
    p.set_defaults(handler=commands.cmd_space)
    p.add_argument("target", metavar="FILE.py:Class",
                   help="a model file and a class (or a function returning a model) in it")
    p.add_argument("--name", help="config name (default: the class name in snake_case)")
    p.add_argument("--force", action="store_true", help="overwrite an existing space YAML")
    _overrides(p)

    for name, text, handler in (
        ("search", "run (or resume) the Optuna search", commands.cmd_search),
        ("retrain", "retrain the best configuration of the study and register it in MLflow", commands.cmd_retrain),
        ("run", "search, retrain the best, register it and record it in the knowledge base", commands.cmd_run),
    ):
        p = sub.add_parser(name, help=text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="print the summary as JSON")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
        if name == "search":
            p.add_argument("--best-file", metavar="FILE",
                           help="also write the chosen trial's number and params as JSON")
        if name == "retrain":
            p.add_argument("--trial", type=int, help="retrain this trial number instead of the best")
            p.add_argument("--model-out", metavar="DIR",
                           help="also save the retrained model here (for nasflow register)")
            p.add_argument("--no-register", dest="register", action="store_false",
                           help="do not register the model "
                                "(needs --model-out; register it later with nasflow register)")
        if name != "search":
            p.add_argument("--metrics-file", help="also write the test metrics as JSON here (for DVC metrics)")
        _overrides(p)

    p = sub.add_parser("register",
                       help="register a model saved by 'nasflow retrain --model-out' (champion only if better)")
    p.set_defaults(handler=commands.cmd_register)
    p.add_argument("--model-dir", required=True, metavar="DIR",
                   help="the folder written by 'nasflow retrain --model-out'")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument("--no-progress", action="store_true", help="no finished-phase line on the terminal")
    p.add_argument("--metrics-file", help="also write the test metrics and version as JSON here (for DVC metrics)")
    _overrides(p)

    p = sub.add_parser("config",
                       help="print the composed config as YAML (what DVC's Hydra composition writes to params.yaml)")
    p.set_defaults(handler=commands.cmd_config)
    p.add_argument("--out", metavar="FILE", help="write it to FILE instead of stdout")
    _overrides(p)

    p = sub.add_parser("kb", help="query the knowledge base")
    kb = p.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    q = kb.add_parser("query",
                      help="filter records: \"task = 'digits' and test_accuracy >= 0.97 order by params limit 5\"",
                      description=QUERY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.set_defaults(handler=commands.cmd_kb_query)
    q.add_argument("expression", help="the filter (quote it for the shell); see the language above")
    q = kb.add_parser("sql", help="read-only SQL over the knowledge base")
    q.set_defaults(handler=commands.cmd_kb_sql)
    q.add_argument("statement", help="one SELECT statement (anything that writes is refused)")
    kb.add_parser("tasks", help="tasks with their meta-features").set_defaults(handler=commands.cmd_kb_tasks)
    q = kb.add_parser("similar", help="past tasks ranked by similarity to TASK")
    q.set_defaults(handler=commands.cmd_kb_similar)
    q.add_argument("task", help="a task (data set) name, as 'kb tasks' lists them")
    q.add_argument("-k", type=int, default=5, help="how many similar tasks (default 5)")
    q = kb.add_parser("best", help="the best models of TASK under a budget")
    q.set_defaults(handler=commands.cmd_kb_best)
    q.add_argument("task", help="a task (data set) name, as 'kb tasks' lists them")
    q.add_argument("--metric", help="rank by this metric (default: test_accuracy, else val_accuracy for a task "
                                    "with trials only)")
    q.add_argument("--max-params", type=int, help="only models with at most this many parameters")
    q.add_argument("--max-latency-ms", type=float, help="only models at most this fast on their device (ms per batch)")
    for q in kb.choices.values():
        q.add_argument("--format", choices=OUTPUT_FORMATS, default="table",
                       help="output format (default: table)")
        q.add_argument("--columns", metavar="A,B,...", help="only these columns, in this order (e.g. id,test_accuracy,"
                       "params,lineage.mlflow_run_id,settings.epochs; default: a table of what fits 120 characters, "
                       "every column in JSON and CSV)")
        _overrides(q)

    p = sub.add_parser("export", help="write a chosen architecture as a standalone PyTorch .py plus its weights")
    p.set_defaults(handler=commands.cmd_export)
    p.add_argument("--out", default="exported", help="output folder (default: ./exported)")
    p.add_argument("--no-progress", action="store_true", help="no finished-phase line on the terminal")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--trial", type=int, help="a trial of the study (architecture, freshly initialized)")
    which.add_argument("--version", help="a registered model version (trained weights)")
    which.add_argument("--alias", default="champion", help="a registered model alias (default: champion)")
    _overrides(p)

    p = sub.add_parser("dashboard", help="open optuna-dashboard on 127.0.0.1 for this workspace's study storage")
    p.set_defaults(handler=commands.cmd_dashboard)
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    _overrides(p)

    p = sub.add_parser("ui", help="open the MLflow UI on 127.0.0.1 for this workspace's store")
    p.set_defaults(handler=commands.cmd_ui)
    p.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    _overrides(p)

    p = sub.add_parser("watch",
                       help="retrain and register when DVC-tracked data folders change (champion only if better)")
    p.set_defaults(handler=commands.cmd_watch)
    p.add_argument("targets", nargs="*", metavar="FOLDER|KEY=VALUE",
                   help="data folders to watch (default: data.path), then Hydra overrides")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between rounds (default 60)")
    p.add_argument("--max-rounds", type=int, default=0, help="stop after this many rounds (default 0: until Ctrl-C)")
    p.add_argument("--research", action="store_true",
                   help="re-search (warm-started) instead of retraining the champion")

    p = sub.add_parser("data", help="data folders")
    data = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    q = data.add_parser("init", help="export a bundled dataset into FOLDER and track it with DVC")
    q.set_defaults(handler=commands.cmd_data_init)
    q.add_argument("dataset", choices=("digits",), help="the bundled dataset (scikit-learn's digits, no download)")
    q.add_argument("folder", help="the data folder to write (class sub-folders of PNGs)")
    q = data.add_parser("check", help="validate a data folder and print its content hash and meta-features as JSON")
    q.set_defaults(handler=commands.cmd_data_check)
    q.add_argument("folder", help="a data folder: class sub-folders of images, a CSV table or an .npz")
    q.add_argument("--no-progress", action="store_true", help="no finished-phase line on the terminal")
    q.add_argument("--no-cache", action="store_true",
                   help="decode every image, neither reading nor writing the workspace's decode cache")
    _overrides(q)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand without a description its one-line help as one (``nasflow X --help`` starts with it)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                text = helps.get(name)
                if sub.description is None and text:
                    sub.description = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
                _describe(sub)


def _show_debug_log() -> None:
    """``-v``: the workflows' DEBUG records (e.g. why a watch round failed) go to stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nasflow: %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("workflows")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nasflow`` console script."""
    quiet()
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # overrides may follow the command's own options
        unknown = [arg for arg in extra if arg.startswith("-")]
        if unknown or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
        args.overrides = list(args.overrides) + extra
    from workflows.user_errors import user_errors

    if args.traceback:
        _show_debug_log()
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("nasflow: interrupted", file=sys.stderr)
        return 130
    except user_errors() as exc:
        if args.traceback:
            traceback.print_exc()
        print(f"nasflow: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an MLflow call to a tracking server that never answered is the user's to fix too
        from workflows.tracking_server import unavailable

        error = unavailable(exc)
        if error is None:
            raise
        if args.traceback:
            traceback.print_exc()
        print(f"nasflow: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
