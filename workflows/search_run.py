"""Run a search from a resolved config: one process, or N worker processes sharing one study."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from workflows.errors import WorkflowError

if TYPE_CHECKING:
    from optuna import Study

    from knowledge_base import KnowledgeBase, WarmStart
    from nas.search import Reuse
    from workflows.context import RunContext
    from workflows.kb_records import KnowledgeBaseObserver
    from workflows.tracking import MlflowSearchObserver

START = "start"  # the line that lets waiting worker processes begin (see workflows.worker)


def _tracker(ctx: RunContext, parent_run_id: str | None = None) -> MlflowSearchObserver:
    """The search's MLflow observer; a worker of a parent (``parent_run_id``) finds the stores created."""
    from contextlib import nullcontext

    from nas.device import device_name, resolve_device
    from nas.liveness import hold_lease
    from nas.locks import FileLock
    from nas.recovery import worker_id
    from workflows.context import device_tags
    from workflows.tracking import MlflowSearchObserver, ensure_experiment, mlflow_client, runs_lock

    hold_lease(ctx.search_settings.storage)  # its runs are open while it lives: other hosts must tell so
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
    return MlflowSearchObserver(client, experiment_id, tags, params, parent_run_id,
                                runs_lock(ctx.search_settings.storage, ctx.ws.study_name), ctx.ws.tracking_timeout_s)


def _kb_observer(ctx: RunContext, tracker: MlflowSearchObserver, kb: KnowledgeBase) -> KnowledgeBaseObserver:
    """The knowledge-base recorder on ``kb``, linking each record to its trial's MLflow run."""
    from workflows.kb_records import KnowledgeBaseObserver, task_record

    return KnowledgeBaseObserver(kb, task_record(ctx.data), ctx.ws.model, ctx.train_settings.as_dict(), ctx.lineage,
                                 tracker.trial_runs)


def _recovered_study(ctx: RunContext) -> Study:
    """The study, its trials of dead workers failed (and their retries enqueued) under the budget lock."""
    from nas.budget import budget_lock
    from nas.recovery import recover_orphans
    from nas.study import open_study

    study = open_study(ctx.search_settings)
    with budget_lock(ctx.search_settings.storage, ctx.search_settings.study_name):
        recover_orphans(study)
    return study


def warm_starts(ctx: RunContext, kb: KnowledgeBase) -> list[WarmStart]:
    """With ``search.warm_start=auto``: the best configurations of the most similar past tasks (other data)."""
    if ctx.cfg.search.warm_start != "auto":
        return []
    return kb.warm_start(dict(ctx.data.meta), ctx.ws.model, k=ctx.cfg.search.warm_start_k,
                         exclude_hash=ctx.data.content_hash, metric=ctx.search_settings.metric)


def reuse_from(ctx: RunContext, kb: KnowledgeBase) -> Reuse:
    """A look-up of recorded results for the same model, data content hash, fingerprint and training settings."""
    from nas.search import Reused

    def lookup(key: str) -> Reused | None:
        record = kb.lookup_fingerprint(ctx.data.content_hash, key, ctx.ws.model, settings=ctx.train_settings.as_dict())
        if record is None:
            return None
        lineage = record.lineage
        source = (f"knowledge base evaluation {record.id} (study {lineage.get('study_name')}, "
                  f"trial {lineage.get('trial_number')}, task {record.task.name})")
        return Reused(cast(dict[str, float], dict(record.metrics)), source)  # the metrics it was recorded with

    return lookup


def remember_warm_start(study: Study, starts: list[WarmStart]) -> None:
    """Note in the study where its warm start came from (shown in the summary)."""
    if starts and "warm_start" not in study.user_attrs:
        study.set_user_attr("warm_start", [{"task": w.task, "distance": round(w.distance, 4), w.metric: w.value}
                                           for w in starts])


def search_in_process(ctx: RunContext, show_progress: bool = True, parent_run_id: str | None = None) -> Study:
    """Run (or resume) the search in this process, tracked in MLflow and recorded in the knowledge base."""
    from nas.observer import Observers
    from nas.search import fingerprint_key, run_search
    from nas.training import warm_up
    from workflows.context import open_kb
    from workflows.pause import PauseObserver
    from workflows.progress import ProgressObserver
    from workflows.trial_restore import restore_trial_records

    warm_up()
    ctx.data.save_cache()  # the settings are sound: keep the decoded images for the next run
    tracker = _tracker(ctx, parent_run_id)
    kb = open_kb(ctx.ws)
    kb_observer = _kb_observer(ctx, tracker, kb)
    progress = ProgressObserver(ctx.train_settings.epochs, enabled=show_progress)
    starts = warm_starts(ctx, kb) if parent_run_id is None else []

    def restore(study: Study) -> None:  # a worker's coordinator did this before starting it
        restore_trial_records(study, tracker, kb_observer, ctx.search_settings.metric, tracker.lock,
                              ctx.search_settings.storage)

    try:
        study: Study = run_search(ctx.factory, ctx.data, ctx.train_settings, ctx.search_settings,
                                  Observers([tracker, kb_observer, PauseObserver(), progress]),
                                  arch_key=fingerprint_key, reuse=reuse_from(ctx, kb),
                                  warm_start=[w.params for w in starts],
                                  on_start=restore if parent_run_id is None else None)
        remember_warm_start(study, starts)
        return study
    except BaseException:
        progress.progress.stop()
        tracker.abort()
        raise


def _worker_configs(ctx: RunContext) -> list[Path]:
    """One resolved config file per worker: same study and storage, its own seed and thread count."""
    from omegaconf import OmegaConf

    n = ctx.cfg.search.workers
    threads = ctx.cfg.search.threads or max(1, (os.cpu_count() or 1) // n)
    folder = ctx.ws.root / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        cfg = cast(dict[str, Any], OmegaConf.to_container(ctx.cfg))
        cfg["workspace"] = str(ctx.ws.root)
        cfg["search"].update(workers=1, storage=ctx.ws.optuna_url, study_name=ctx.ws.study_name,
                             seed=ctx.cfg.search.seed + index, threads=threads)
        path = folder / f"{ctx.ws.study_name}-{index}.yaml"
        path.write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        paths.append(path)
    return paths


def worker_envs(ctx: RunContext) -> list[dict[str, str]]:
    """The environment of each worker: this one's, with ``CUDA_VISIBLE_DEVICES`` naming the worker's own GPU
    (round robin over ``search.gpus``; more workers than GPUs only with ``search.workers_per_gpu``)."""
    from omegaconf import OmegaConf

    from nas.device import check_workers_per_gpu, visible_gpus, worker_gpu

    s = ctx.cfg.search
    gpus = visible_gpus(s.gpus if isinstance(s.gpus, str) else cast(list[int], OmegaConf.to_container(s.gpus)))
    check_workers_per_gpu(s.workers, gpus, s.workers_per_gpu)
    envs = []
    for index in range(s.workers):
        gpu = worker_gpu(index, gpus)
        envs.append({**os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})})
    return envs


def search_with_workers(ctx: RunContext, show_progress: bool = True) -> Study:
    """Run ``search.workers`` processes on one study, each on its own GPU when there are GPUs. They start at once
    and import what they need while this process creates the stores, experiment and study, then begin together
    on its start line."""
    from workflows.progress import StudyProgress

    ctx.data.save_cache()  # the settings are sound: keep the decoded images for the next run
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
    errors = [f"worker {i} exited {w.returncode}: {(cast(IO[str], w.stderr).read().strip().splitlines() or ['?'])[-1]}"
              for i, w in enumerate(workers) if w.returncode != 0]
    if errors:
        tracker.abort()
        raise WorkflowError("; ".join(errors) + "; completed trials are kept, run the same command to resume")
    tracker.search_ended(study)
    return study


def _send_line(worker: subprocess.Popen[str], line: str) -> None:
    """Write ``line`` to the worker's input and close it; a worker that already died is reported by its exit."""
    stdin = cast(IO[str], worker.stdin)  # opened with stdin=PIPE
    try:
        stdin.write(line)
        stdin.close()
    except BrokenPipeError:
        pass


def _shared_stores(ctx: RunContext) -> tuple[MlflowSearchObserver, Study]:
    """The parent run and the study, with the MLflow store and experiment, knowledge base and study created
    (or recovered after a crash) once, before any worker uses them."""
    from nas.study import counted_trials, enqueue_first
    from workflows.context import open_kb
    from workflows.trial_restore import restore_trial_records

    tracker = _tracker(ctx)
    kb = open_kb(ctx.ws)  # creates or migrates the knowledge base
    study = _recovered_study(ctx)
    restore_trial_records(study, tracker, _kb_observer(ctx, tracker, kb), ctx.search_settings.metric, tracker.lock,
                          ctx.search_settings.storage)
    if not study.trials:
        starts = warm_starts(ctx, kb)
        enqueue_first(study, [w.params for w in starts], ctx.factory.space)
        remember_warm_start(study, starts)
    tracker.search_started(ctx.ws.study_name, ctx.search_settings.n_trials, counted_trials(study))
    return tracker, study


def search(ctx: RunContext, show_progress: bool = True) -> Study:
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
