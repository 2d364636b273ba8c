"""One watch round for one data folder: detect a change, then retrain (or re-search) and register, or say why not."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
WARM_START_TRIALS = 3


@dataclass
class FolderWatch:
    """What the watcher remembers about one data folder between rounds."""

    folder: Path
    cfg: Any
    signature: str | None = None
    last: str = "not checked yet"


@dataclass(frozen=True)
class RoundResult:
    """What one round did: ``unchanged``, ``matched`` (an existing version), ``registered`` or ``failed``."""

    status: str
    line: str
    version: str | None = None
    summary: str = ""


def folder_signature(folder: Path) -> str:
    """A cheap fingerprint of ``folder``: relative path, size and mtime of every file (hidden ones skipped).

    It only decides whether to look again; the data's identity is ``nas.data``'s content hash.
    """
    digest = hashlib.sha256()
    if not folder.is_dir():
        return "missing"
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(parent, name)
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we looked: the next round sees the folder settled
                continue
            digest.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def run_round(state: FolderWatch, research: bool) -> RoundResult:
    """Check ``state.folder`` once; on new data retrain (or re-search) and register. Never raises for a bad round."""
    from nas.errors import DataError
    from workflows.user_errors import user_errors

    signature = folder_signature(state.folder)
    if signature == state.signature:
        return RoundResult("unchanged", f"{state.folder}: unchanged ({state.last})")
    state.signature = signature
    started = time.perf_counter()
    try:
        result = _changed(state, research)
    except user_errors() as exc:
        if not isinstance(exc, DataError):
            state.signature = None  # not the data's fault: try again next round
        result = RoundResult("failed", f"failed: {exc}; {_champion_kept(state)}")
    except Exception as exc:  # a bug or a broken store must not end the watch
        log.debug("watch round failed", exc_info=True)
        state.signature = None
        result = RoundResult("failed", f"failed: {type(exc).__name__}: {exc}; {_champion_kept(state)}")
    state.last = result.summary or "the last round failed"
    return dataclasses.replace(result, line=f"{state.folder}: {result.line} [{time.perf_counter() - started:.1f} s]")


def _champion_kept(state: FolderWatch) -> str:
    """``champion vN unchanged``, best effort (the store itself may be what failed)."""
    try:
        from workflows.tracking import mlflow_client
        from workflows.watch_versions import champion_label
        from workflows.workspace import Workspace

        ws = Workspace.from_config(state.cfg)
        return f"champion {champion_label(mlflow_client(ws), ws.registered_model)} unchanged"
    except Exception:  # noqa: BLE001 - only a courtesy in an error line
        return "champion unchanged"


def _changed(state: FolderWatch, research: bool) -> RoundResult:
    """The folder changed: load and validate it, then match, retrain or re-search."""
    import mlflow

    from workflows.context import prepare
    from workflows.data_versioning import dvc_repo_root, track_and_report
    from workflows.tracking import mlflow_client
    from workflows.watch_versions import champion_architecture, tag_version, versions_with_data_hash
    from workflows.workspace import git_commit

    ctx = prepare(state.cfg)  # DataError names the bad file; nothing is touched before this succeeds
    data_hash = ctx.data.content_hash
    mlflow.set_tracking_uri(ctx.ws.mlflow_uri)  # the champion scorer loads models:/… through the global URIs
    mlflow.set_registry_uri(ctx.ws.mlflow_uri)
    client = mlflow_client(ctx.ws)
    name = ctx.ws.registered_model
    matches = versions_with_data_hash(client, name, data_hash)
    dvc_hash, started = track_and_report(state.folder)
    what = f"data {data_hash[:12]} ({len(ctx.data.y)} samples, dvc {dvc_hash[:12]})"
    if started:
        what = f"{what} ({started})"
    if matches:
        listed = ", ".join(f"v{v}" for v in reversed(matches))
        return RoundResult("matched", f"{what} matches existing version {listed} of '{name}' (tag data_hash); "
                                      "no new version registered", matches[-1], f"data {data_hash[:12]} = v{matches[-1]}")
    champion = champion_architecture(client, name, ctx.factory.space)
    if research or champion is None:
        new, how = _search_and_retrain(ctx, champion)
    else:
        new = _retrain_champion(ctx, champion)
        how = f"retrained champion v{champion.version}'s architecture"
    tag_version(client, name, new.version, {  # dvc_hash is set by registering (the run's lineage)
        "dvc_file": f"{state.folder}.dvc", "nasflow.watch": "research" if research else "retrain",
        "data_git_commit": git_commit(dvc_repo_root(state.folder)) or "",
    })
    line = f"{what} → {how} → v{new.version} test_accuracy {new.test_accuracy:.4f} → {_verdict(new, ctx)}"
    return RoundResult("registered", line, new.version, f"data {data_hash[:12]} = v{new.version}")


@dataclass(frozen=True)
class NewVersion:
    """A version registered by a round, and the champion it was compared with."""

    version: str
    alias: str
    test_accuracy: float
    previous: str | None
    previous_accuracy: float | None


def _verdict(new: NewVersion, ctx: Any) -> str:
    """Which alias the new version took, and against what."""
    margin = ctx.cfg.tracking.promote_margin
    if new.previous is None:
        return "champion (first version)"
    previous = f"v{new.previous} at {new.previous_accuracy:.4f}"
    if new.alias == "champion":
        return f"champion (beat {previous} by more than margin {margin:g})"
    return f"challenger (champion {previous} kept, margin {margin:g})"


def _with_study(ctx: Any, study_name: str) -> Any:
    """``ctx`` with its Optuna study (and the lineage it writes) renamed to ``study_name``."""
    return dataclasses.replace(ctx, ws=dataclasses.replace(ctx.ws, study_name=study_name),
                               search_settings=dataclasses.replace(ctx.search_settings, study_name=study_name))


def _retrain_champion(ctx: Any, champion: Any) -> NewVersion:
    """Retrain the champion's architecture on today's data; lineage keeps the champion's study and trial."""
    from workflows.pipeline import retrain_and_register

    outcome = retrain_and_register(_with_study(ctx, champion.study or ctx.ws.study_name), dict(champion.params),
                                   champion.trial)
    registered = outcome["registered"]
    return NewVersion(registered.version, registered.alias, outcome["result"].metrics["test_accuracy"],
                      registered.previous_champion, registered.previous_champion_accuracy)


def _search_and_retrain(ctx: Any, champion: Any) -> tuple[NewVersion, str]:
    """The whole workflow again: a new study per data hash warm-started from the champion's, or the first search."""
    import copy

    from workflows.pipeline import run

    cfg = ctx.cfg
    if champion is not None:
        previous = champion.study or ctx.ws.study_name
        cfg = copy.deepcopy(cfg)
        cfg.search.study_name = f"{ctx.ws.study_name}-{ctx.data.content_hash[:12]}"
        seeds = _warm_start(_with_study(ctx, cfg.search.study_name), previous, champion.params)
        how = f"searched study '{cfg.search.study_name}' (warm-started with {seeds} configurations of '{previous}')"
    else:
        how = f"no champion yet: searched study '{ctx.ws.study_name}'"
    summary = run(cfg, show_progress=False)
    before = summary.get("previous_champion") or {}
    return NewVersion(summary["version"], summary["alias"], summary["test_accuracy"], before.get("version"),
                      before.get("test_accuracy")), how


def _warm_start(ctx: Any, previous: str, champion_params: dict[str, Any]) -> int:
    """Enqueue the champion's params and the best trials of study ``previous`` into ``ctx``'s (new) study."""
    import optuna

    from nas.study import open_study

    configs = [champion_params]
    try:
        old = optuna.load_study(study_name=previous, storage=ctx.ws.optuna_url)
        done = [t for t in old.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.values]
        maximize = old.directions[0] == optuna.study.StudyDirection.MAXIMIZE
        configs += [dict(t.params) for t in sorted(done, key=lambda t: t.values[0], reverse=maximize)[:WARM_START_TRIALS]]
    except Exception as exc:  # noqa: BLE001 - the previous study is gone or unreadable: the champion alone seeds it
        log.info("study '%s' not readable in %s (%s); warm start from the champion only", previous, ctx.ws.optuna_url, exc)
    study = open_study(ctx.search_settings)
    space = ctx.factory.space
    unique = {tuple(sorted(space.clip(c).items())): space.clip(c) for c in configs}
    for params in unique.values():
        study.enqueue_trial(params, skip_if_exists=True)
    return len(unique)
