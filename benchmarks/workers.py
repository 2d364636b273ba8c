"""Part 4: ``nasflow search search.workers=2`` against ``search.workers=1`` on the same small budget.

Each search runs in a fresh workspace on the same exported digits. Trials per minute are counted over the trial
phase (first trial started → last trial finished, from the study itself) and over the whole command (which adds
each process's start-up: imports, stores, data). A full run adds ``workers=1`` on one thread (the default single
worker trains on every core, the workers on one each) and repeats the three searches ``ROUNDS`` times.

The architecture is fixed (``FIXED_ARCHITECTURE``: constructor arguments only; the dropout rate is searched, which
changes no trial's cost), so every search trains exactly the same work: over the whole space the runs sample
different configurations whose training cost varies several-fold (which made the ratio swing between 1.1× and 2.0×
from run to run). What remains is the machine's own noise: the same single-thread search ran at 83 to 106
trials/min in the three rounds of one run, so the ratio is taken within each round (its searches run back to back)
and the median of those is reported.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.cli import run_nasflow
from benchmarks.table import Figure, PartResult

TARGET = 1.8
ROUNDS = 3
FIXED_ARCHITECTURE = ("model.extract=constructor", "+model.args.channels=32", "+model.args.depth=2",
                      "+model.args.kernel_size=3", "+model.args.hidden=64", "+model.args.activation=relu",
                      "+model.args.batch_norm=true")


def trial_window_s(storage: str, study_name: str) -> float:
    """Seconds from the first trial's start to the last trial's end in the study at ``storage``."""
    import optuna

    from nas.study import make_storage

    study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
    trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_start and t.datetime_complete]
    return (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()


def one_search(digits: Path, workspace: Path, workers: int, n_trials: int, epochs: int,
               extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """One ``nasflow search`` in a fresh workspace; its wall time, trial-phase time and trials per minute."""
    done = run_nasflow(["search", "--json", "--no-progress", f"data.path={digits}", f"search.workers={workers}",
                        f"search.n_trials={n_trials}", f"train.epochs={epochs}", "search.pruner=none",
                        *FIXED_ARCHITECTURE, *extra],
                       workspace=workspace)
    summary = done.json()
    window = trial_window_s(summary["optuna_storage"], summary["study"])
    return {"workers": workers, "wall_s": done.seconds, "trial_phase_s": window,
            "per_min_trial_phase": 60 * n_trials / window, "per_min_command": 60 * n_trials / done.seconds,
            "trials": summary["trials"]}


def median_search(searches: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure of one configuration's searches: its median over the rounds (the searches kept beside)."""
    figures = ("wall_s", "trial_phase_s", "per_min_trial_phase", "per_min_command")
    return {**{k: statistics.median(s[k] for s in searches) for k in figures}, "rounds": searches}


def round_ratios(rounds: list[list[dict[str, Any]]], figure: str, measured: int, baseline: int) -> list[float]:
    """Per round, ``figure`` of search ``measured`` over that of search ``baseline`` (run back to back)."""
    return [searches[measured][figure] / searches[baseline][figure] for searches in rounds]


def run(quick: bool = False) -> PartResult:
    """1 worker, 2 workers and (in a full run) 1 worker on one thread, each in a fresh workspace
    (``search.pruner=none``: every trial trains fully); a full run repeats the three ``ROUNDS`` times,
    interleaved, and reports medians: of each figure, and of the ratios within each round.

    In quick mode both searches run at the same time: the smoke test only checks that figures come out.
    """
    n_trials, epochs = (2, 1) if quick else (48, 6)  # a search of about half a minute: start-up edges stay small
    with tempfile.TemporaryDirectory() as tmp:
        digits = Path(tmp) / "digits"
        subprocess.run(["git", "init", "-q", tmp], check=True)
        run_nasflow(["data", "init", "digits", str(digits)], cwd=Path(tmp))
        one_thread, rounds = None, []
        jobs = [(digits, Path(tmp) / f"ws{n}", n, n_trials, epochs) for n in (1, 2)]
        if quick:  # a smoke run: both at once, the figures mean nothing
            with ThreadPoolExecutor(2) as pool:
                one, two = pool.map(lambda job: one_search(*job), jobs)
        else:
            rounds = [[one_search(digits, Path(tmp) / f"ws{n}-{t}-{r}", n, n_trials, epochs, extra)
                       for n, t, extra in ((1, 0, ()), (2, 0, ()), (1, 1, ("search.threads=1",)))]
                      for r in range(ROUNDS)]
            one, two, one_thread = (median_search(list(searches)) for searches in zip(*rounds))
    setup = (f"{n_trials} trials × {epochs} epochs of one DigitsCNN architecture (channels 32, depth 2, kernel 3, "
             "hidden 64, relu, batch norm; the dropout rate searched: every trial trains the same work), pruning off")
    figures = [
        Figure("parallel workers: trials/min, workers=2 vs 1 (whole command)", two["per_min_command"], "trials/min",
               baseline=one["per_min_command"], baseline_name="workers=1", decimals=1,
               note=f"wall {two['wall_s']:.1f} s vs {one['wall_s']:.1f} s, start-up and shutdown included"),
    ]
    if one_thread is not None:
        ratios = round_ratios(rounds, "per_min_trial_phase", 1, 2)
        figures.insert(0, Figure(
            "parallel workers: trials/min, workers=2 vs 1, one torch thread each (trial phase)",
            two["per_min_trial_phase"], "trials/min", baseline=one_thread["per_min_trial_phase"],
            baseline_name="workers=1 search.threads=1", target=TARGET, target_on="ratio", decimals=1,
            paired_ratio=statistics.median(ratios),
            note=f"{setup}; first trial start to last trial end, from the study; the scaling of worker processes; "
                 f"medians of {ROUNDS} rounds, the ratio the median of the rounds' own ratios "
                 f"({', '.join(f'{r:.2f}' for r in ratios)})"))
    default_ratios = round_ratios(rounds, "per_min_trial_phase", 1, 0)  # none in quick mode
    figures.insert(1 if one_thread is not None else 0, Figure(
        "parallel workers: trials/min, workers=2 vs the default workers=1 (trial phase)", two["per_min_trial_phase"],
        "trials/min", baseline=one["per_min_trial_phase"], baseline_name="workers=1 (torch threads = cores)",
        target=None if one_thread is not None else TARGET, target_on="ratio", decimals=1,
        paired_ratio=statistics.median(default_ratios) if default_ratios else None,
        note=f"{setup}; the default single worker trains on every core (threads = cores / workers), "
             "so this is 2 processes × 1 thread against 1 process × 2 threads"))
    return PartResult("workers", figures, {"one": one, "two": two, "one_thread": one_thread, "n_trials": n_trials,
                                           "epochs": epochs})
