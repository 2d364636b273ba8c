"""Part ``shared`` (``--only shared``, not in the default run: it needs PostgreSQL): nasflow on shared services.

The run creates fresh PostgreSQL databases on ``NASFLOW_TEST_POSTGRES_URL``'s server (default
``postgresql://postgres@127.0.0.1:5432/test``): one per side of the first figure for the study and the knowledge
base, and one for the backend store of an ``mlflow server`` (served artifacts) it starts on 127.0.0.1; all are
removed afterwards.

- Trials per minute of 2 worker groups × 1 worker (two ``nasflow search`` commands at once, each in a workspace of
  its own, as two hosts would run) against 1 group × 2 workers (``nasflow search search.workers=2``), both on the
  services, the fixed architecture of ``workers.py``, one torch thread per worker, pruning off; over the trial
  phase (first trial start to last trial end, from the study) and over the whole commands. Trials of 30 epochs
  (about 2.5 s each) keep the trial phase long beside the seconds by which the groups' start-ups differ, which
  would otherwise be most of it.
- The machinery per trial of ``machinery.py`` (training replaced by reports) with ``tracking.uri`` the server,
  against the same search on the default SQLite MLflow store (target: within 2×), and against a naive client on
  the server (one MLflow fluent call per value).
"""

from __future__ import annotations

import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.cli import run_nasflow
from benchmarks.machinery import measured, median_ms, naive_trials
from benchmarks.table import Figure, PartResult
from benchmarks.workers import FIXED_ARCHITECTURE, trial_window_s

TARGET_RATIO = 2.0


def _search(digits: Path, workspace: Path, services: dict[str, str], n_trials: int, epochs: int,
            *extra: str) -> Any:
    db, name = services["db"], services["name"]
    return run_nasflow(["search", "--json", "--no-progress", f"data.path={digits}", f"search.storage={db}",
                        f"kb.url={db}", f"tracking.uri={services['tracking']}", f"search.study_name={name}",
                        f"tracking.experiment={name}", f"search.n_trials={n_trials}", f"train.epochs={epochs}",
                        "search.pruner=none", "search.threads=1", *FIXED_ARCHITECTURE, *extra], workspace=workspace)


def trials_per_minute(digits: Path, folder: Path, services: dict[str, str], n_trials: int, epochs: int,
                      groups: int) -> tuple[float, float]:
    """Trials per minute of one study over its trial phase and over the whole commands (started together):
    ``groups`` commands of one worker each, or one command of two workers (``groups=1``). The study and the
    knowledge base are in a fresh database: a knowledge base holding the other side's trials would hand this side
    their results (warm start, reuse of a configuration already trained)."""
    from tests.workflows.test_resume_and_workers import postgres_url
    from tests.workflows.tracking_server import postgres_database

    with postgres_database(postgres_url()) as db:
        services = {**services, "db": db, "name": f"bench-{uuid.uuid4().hex[:8]}"}
        if groups == 1:
            wall = _search(digits, folder / "one-group", services, n_trials, epochs, "search.workers=2").seconds
        else:
            with ThreadPoolExecutor(groups) as pool:
                wall = max(done.seconds for done in pool.map(
                    lambda i: _search(digits, folder / f"group-{i}", services, n_trials, epochs, f"search.seed={i}"),
                    range(groups)))
        return 60 * n_trials / trial_window_s(db, services["name"]), 60 * n_trials / wall


def run(quick: bool = False) -> PartResult:
    """Both figures on freshly created services (see the module's docstring)."""
    from nas.data import export_digits
    from tests.workflows.test_resume_and_workers import postgres_url
    from tests.workflows.tracking_server import mlflow_server, postgres_database

    n_trials, epochs, machinery_trials = (2, 1, 6) if quick else (16, 30, 30)
    with tempfile.TemporaryDirectory() as tmp, postgres_database(postgres_url()) as store, \
            mlflow_server(store, Path(tmp) / "artifacts", Path(tmp) / "server.log") as server:
        folder = Path(tmp)
        digits = export_digits(folder / "digits")
        services = {"tracking": server.uri}
        sqlite = measured(folder / "sqlite", digits, machinery_trials)
        served = measured(folder / "served", digits, machinery_trials,
                           (f"tracking.uri={server.uri}", "tracking.experiment=bench-machinery"))
        naive = median_ms(naive_trials(folder, digits, machinery_trials, 6, tracking_uri=server.uri))
        # after the server has settled: its start-up (tens of seconds of CPU) would slow whichever side came first
        two_groups, two_groups_wall = trials_per_minute(digits, folder, services, n_trials, epochs, groups=2)
        one_group, one_group_wall = trials_per_minute(digits, folder, services, n_trials, epochs, groups=1)
    setup = (f"{n_trials} trials × {epochs} epochs of one DigitsCNN architecture, pruning off, one torch thread per "
             "worker; PostgreSQL study and knowledge base, an mlflow server (PostgreSQL store, served artifacts), all "
             "on this machine")
    writer = (f"MLflow's writer thread spent {served['mlflow_writer_ms']:.1f} ms per trial beside the trial with the "
              f"server, {sqlite['mlflow_writer_ms']:.1f} with SQLite")
    figures = [
        Figure("shared services: trials/min, 2 groups × 1 worker vs 1 group × 2 workers (trial phase)", two_groups,
               "trials/min", baseline=one_group, baseline_name="1 group, search.workers=2", decimals=1,
               note=f"{setup}; measured after the machinery figures, once the server has settled, each side on a fresh "
                    "database; each group its own nasflow search command and workspace, as two hosts"),
        Figure("shared services: trials/min, 2 groups × 1 worker vs 1 group × 2 workers (whole commands)",
               two_groups_wall, "trials/min", baseline=one_group_wall, baseline_name="1 group, search.workers=2",
               decimals=1, note="the groups' commands started together, timed to the last one's end"),
        Figure("machinery per trial, tracking server vs SQLite MLflow", served["machinery_ms"], "ms",
               baseline=sqlite["machinery_ms"], baseline_name="default SQLite MLflow store", target=TARGET_RATIO,
               target_on="ratio", higher_is_better=False, decimals=1,
               note=f"median of {served['trials']} trials of machinery.py's wired search; {writer}"),
        Figure("machinery per trial, tracking server vs a naive per-call client", served["machinery_ms"], "ms",
               baseline=naive, baseline_name="Optuna SQLite + MLflow call per value, on the server",
               higher_is_better=False, decimals=1, note="the same server for both"),
    ]
    return PartResult("shared", figures, {"two_groups": two_groups, "one_group": one_group,
                                          "two_groups_wall": two_groups_wall, "one_group_wall": one_group_wall,
                                          "sqlite": sqlite,
                                          "served": served, "naive_served_ms": naive, "n_trials": n_trials,
                                          "epochs": epochs})
