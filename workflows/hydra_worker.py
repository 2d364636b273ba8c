"""A search worker as a Hydra application, so Hydra's launchers can start many of them on one study.

    python -m workflows.hydra_worker --multirun hydra/launcher=joblib hydra.launcher.n_jobs=4 \\
        search.seed=0,1,2,3 search.storage=postgresql://user@host/db
    python -m workflows.hydra_worker --multirun hydra/launcher=submitit_slurm search.seed='range(16)' ...

Each job runs the same study (one storage, one study name) with its own seed; the budget is shared exactly.
With GPUs, job ``hydra.job.num`` trains on GPU ``num`` modulo ``search.gpus`` (``CUDA_VISIBLE_DEVICES`` is set
before torch starts CUDA). Each job logs which worker it is and how many trials it ran to its Hydra log
(``<workspace>/hydra/multirun/<time>/<job>/hydra_worker.log``, beside submitit's logs in ``.submitit/``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import hydra

from workflows.config import config_dir
from workflows.quiet import quiet
from workflows.schema import register_schemas

if TYPE_CHECKING:
    from omegaconf import DictConfig

register_schemas()
log = logging.getLogger(__name__)  # Hydra writes it to each job's log in the workspace


def job_gpu(job_num: int | None, gpus: Any) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` value of Hydra job ``job_num``: GPU ``job_num`` modulo ``gpus`` (None
    without GPUs or outside a multirun)."""
    from omegaconf import ListConfig

    from nas.device import visible_gpus, worker_gpu

    ids = visible_gpus(list(gpus) if isinstance(gpus, (list, ListConfig)) else gpus)
    return worker_gpu(job_num or 0, ids) if ids else None


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Join the configured study and search until its budget is spent."""
    import os

    from hydra.core.hydra_config import HydraConfig

    quiet()
    gpu = job_gpu(HydraConfig.get().job.num, cfg.search.gpus)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    from nas.recovery import WORKER_ATTR, worker_id
    from nas.study import counted_trials
    from workflows.context import prepare
    from workflows.search_run import search_in_process

    ctx = prepare(cfg)
    me = worker_id()
    log.info("worker %s joins study %s", me, ctx.ws.study_name)
    study = search_in_process(ctx, show_progress=False)
    mine = sum(t.user_attrs.get(WORKER_ATTR) == me for t in study.get_trials(deepcopy=False))
    log.info("worker %s ran %d trials; study %s holds %d of %d", me, mine, ctx.ws.study_name, counted_trials(study),
             ctx.search_settings.n_trials)


if __name__ == "__main__":
    main()
