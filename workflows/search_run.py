"""Run a search from a resolved config: one process, or N worker processes sharing one study."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workflows.errors import WorkflowError

START = "start"  # the line that lets waiting worker processes begin (see workflows.worker)


def _tracker(ctx: Any, parent_run_id: str | None = None) -> Any:
    """The search's MLflow observer; a worker of a parent (``parent_run_id``) finds the stores created."""
    from contextlib import nullcontext

    from nas.device import device_name, resolve_device
    from nas.locks import FileLock
    from nas.recovery import worker_id
    from workflows.context import device_tags
    from workflows.tracking import MlflowSearchObserver, ensure_experiment, mlflow_client

    # searches started together without a parent (Hydra's launchers) must not both create the stores
    with FileLock(ctx.ws.root / "stores.lock") if parent_run_id is None else nullcontext():
        client = mlflow_client(ctx.ws)
        experiment_id = ensure_experiment(client, ctx.ws)
    tags = {"nasflow.model": ctx.ws.model, "nasflow.data": ctx.ws.data, "nasflow.study": ctx.ws.study_name,
            "nasflow.data_hash": ctx.data.content_hash, "nasflow.worker": worker_id(),
            **device_tags(device_name(resolve_device(ctx.train_settings.device))),
            **({"mlflow.source.git.commit": ctx.commit} if ctx.commit else {})}
    params = {**{f"train.{k}": v for k, v in ctx.train_settings.as_dict().items()},
              **{f"search.{k}": v for k, v in ctx.search_settings.__dict__.items() if k != "storage"}}
    return MlflowSearchObserver(client, experiment_id, tags, params, parent_run_id)


def _observers(ctx: Any, tracker: Any, show_progress: bool) -> list[Any]:
    from workflows.context import open_kb
    from workflows.kb_records import KnowledgeBaseObserver, task_record
    from workflows.pause import PauseObserver
    from workflows.progress import ProgressObserver

    kb_observer = KnowledgeBaseObserver(open_kb(ctx.ws), task_record(ctx.data), ctx.ws.model,
                                        ctx.train_settings.as_dict(), ctx.lineage, tracker.trial_runs)
    return [tracker, kb_observer, PauseObserver(), ProgressObserver(ctx.train_settings.epochs, enabled=show_progress)]


def _recovered_study(ctx: Any) -> Any:
    """The study, its trials of dead workers failed (and their retries enqueued) under the budget lock."""
    from nas.budget import budget_lock
    from nas.recovery import recover_orphans
    from nas.study import open_study

    study = open_study(ctx.search_settings)
    with budget_lock(ctx.search_settings.storage, ctx.search_settings.study_name):
        recover_orphans(study)
    return study


def warm_starts(ctx: Any, kb: Any) -> list[Any]:
    """With ``search.warm_start=auto``: the best configurations of the most similar past tasks (other data)."""
    if ctx.cfg.search.warm_start != "auto":
        return []
    return kb.warm_start(dict(ctx.data.meta), ctx.ws.model, k=ctx.cfg.search.warm_start_k,
                         exclude_hash=ctx.data.content_hash, metric=ctx.search_settings.metric)


def reuse_from(ctx: Any, kb: Any) -> Any:
    """A look-up of recorded results for the same model, data content hash, fingerprint and training settings."""
    from nas.search import Reused

    def lookup(key: str) -> Reused | None:
        record = kb.lookup_fingerprint(ctx.data.content_hash, key, ctx.ws.model, settings=ctx.train_settings.as_dict())
        if record is None:
            return None
        lineage = record.lineage
        source = (f"knowledge base evaluation {record.id} (study {lineage.get('study_name')}, "
                  f"trial {lineage.get('trial_number')}, task {record.task.name})")
        return Reused(dict(record.metrics), source)

    return lookup


def remember_warm_start(study: Any, starts: list[Any]) -> None:
    """Note in the study where its warm start came from (shown in the summary)."""
    if starts and "warm_start" not in study.user_attrs:
        study.set_user_attr("warm_start", [{"task": w.task, "distance": round(w.distance, 4), w.metric: w.value}
                                           for w in starts])


def search_in_process(ctx: Any, show_progress: bool = True, parent_run_id: str | None = None) -> Any:
    """Run (or resume) the search in this process, tracked in MLflow and recorded in the knowledge base."""
    from nas.observer import Observers
    from nas.search import fingerprint_key, run_search
    from nas.training import warm_up
    from workflows.context import open_kb
    from workflows.tracking import fail_orphan_runs
    from workflows.trial_restore import restore_trial_records

    warm_up()
    tracker = _tracker(ctx, parent_run_id)
    observers = _observers(ctx, tracker, show_progress)
    if parent_run_id is None:  # else a worker, whose coordinator did this before starting it
        fail_orphan_runs(tracker.client, tracker.experiment_id, ctx.ws.study_name)
        restore_trial_records(_recovered_study(ctx), tracker, observers[1], ctx.search_settings.metric)
    kb = open_kb(ctx.ws)
    starts = warm_starts(ctx, kb) if parent_run_id is None else []
    try:
        study = run_search(ctx.factory, ctx.data, ctx.train_settings, ctx.search_settings, Observers(observers),
                           arch_key=fingerprint_key, reuse=reuse_from(ctx, kb), warm_start=[w.params for w in starts])
        remember_warm_start(study, starts)
        return study
    except BaseException:
        observers[-1].progress.stop()
        tracker.abort()
        raise


def _worker_configs(ctx: Any) -> list[Path]:
    """One resolved config file per worker: same study and storage, its own seed and thread count."""
    from omegaconf import OmegaConf

    n = ctx.cfg.search.workers
    threads = ctx.cfg.search.threads or max(1, (os.cpu_count() or 1) // n)
    folder = ctx.ws.root / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        cfg = OmegaConf.to_container(ctx.cfg)
        cfg["workspace"] = str(ctx.ws.root)
        cfg["search"].update(workers=1, storage=ctx.ws.optuna_url, study_name=ctx.ws.study_name,
                             seed=ctx.cfg.search.seed + index, threads=threads)
        path = folder / f"{ctx.ws.study_name}-{index}.yaml"
        path.write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        paths.append(path)
    return paths


def worker_envs(ctx: Any) -> list[dict[str, str]]:
    """The environment of each worker: this one's, with ``CUDA_VISIBLE_DEVICES`` naming the worker's own GPU
    (round robin over ``search.gpus``; more workers than GPUs only with ``search.workers_per_gpu``)."""
    from omegaconf import OmegaConf

    from nas.device import check_workers_per_gpu, visible_gpus, worker_gpu

    s = ctx.cfg.search
    gpus = visible_gpus(s.gpus if isinstance(s.gpus, str) else list(OmegaConf.to_container(s.gpus)))
    check_workers_per_gpu(s.workers, gpus, s.workers_per_gpu)
    envs = []
    for index in range(s.workers):
        gpu = worker_gpu(index, gpus)
        envs.append({**os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})})
    return envs


def search_with_workers(ctx: Any, show_progress: bool = True) -> Any:
    """Run ``search.workers`` processes on one study, each on its own GPU when there are GPUs. They start at once
    and import what they need while this process creates the stores, experiment and study, then begin together
    on its start line."""
    from workflows.progress import StudyProgress

    envs = worker_envs(ctx)
    workers = [subprocess.Popen([sys.executable, "-m", "workflows.worker", str(path)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
               for path, env in zip(_worker_configs(ctx), envs)]
    try:
        tracker, study = _shared_stores(ctx)
        for worker in workers:  # no parent run: the budget is spent, the workers exit at once
            _send_line(worker, f"{START} {tracker.parent_id}\n" if tracker.parent_id else "")
    except BaseException:
        for worker in workers:
            worker.kill()
            worker.wait()
        raise
    with StudyProgress(study, ctx.search_settings.n_trials, enabled=show_progress) as progress:
        while any(w.poll() is None for w in workers):
            progress.refresh()
            time.sleep(0.5)
    errors = [f"worker {i} exited {w.returncode}: {(w.stderr.read().strip().splitlines() or ['?'])[-1]}"
              for i, w in enumerate(workers) if w.returncode != 0]
    if errors:
        tracker.abort()
        raise WorkflowError("; ".join(errors) + "; completed trials are kept, run the same command to resume")
    tracker.search_ended(study)
    return study


def _send_line(worker: subprocess.Popen, line: str) -> None:
    """Write ``line`` to the worker's input and close it; a worker that already died is reported by its exit."""
    try:
        worker.stdin.write(line)
        worker.stdin.close()
    except BrokenPipeError:
        pass


def _shared_stores(ctx: Any) -> tuple[Any, Any]:
    """The parent run and the study, with the MLflow store and experiment, knowledge base and study created
    (or recovered after a crash) once, before any worker uses them."""
    from nas.study import counted_trials
    from workflows.context import open_kb
    from workflows.tracking import fail_orphan_runs
    from workflows.trial_restore import restore_trial_records

    tracker = _tracker(ctx)
    fail_orphan_runs(tracker.client, tracker.experiment_id, ctx.ws.study_name)
    kb = open_kb(ctx.ws)  # creates or migrates the knowledge base
    study = _recovered_study(ctx)
    restore_trial_records(study, tracker, _observers(ctx, tracker, False)[1], ctx.search_settings.metric)
    if not study.trials:
        starts = warm_starts(ctx, kb)
        for params in [ctx.factory.space.defaults(), *(ctx.factory.space.clip(w.params) for w in starts)]:
            if params:
                study.enqueue_trial(params, skip_if_exists=True)
        remember_warm_start(study, starts)
    tracker.search_started(ctx.ws.study_name, ctx.search_settings.n_trials, counted_trials(study))
    return tracker, study


def search(ctx: Any, show_progress: bool = True) -> Any:
    """The search of ``ctx``: in this process, or with ``search.workers`` processes."""
    from nas.study import is_journal

    workers = ctx.cfg.search.workers
    if workers < 1:
        raise WorkflowError(f"search.workers={workers}; use 1 or more")
    if workers == 1:
        return search_in_process(ctx, show_progress)
    storage = ctx.ws.optuna_url
    if storage.startswith("sqlite"):
        raise WorkflowError(
            f"search.workers={workers} with SQLite storage '{storage}': SQLite cannot take several writers safely; "
            "leave search.storage empty (a JournalFileStorage in the workspace is used) or use postgresql://..."
        )
    if not (is_journal(storage) or storage.startswith("postgresql")):
        raise WorkflowError(f"search.workers={workers} needs a journal file or postgresql:// storage, not '{storage}'")
    return search_with_workers(ctx, show_progress)
