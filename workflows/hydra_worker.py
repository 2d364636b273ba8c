"""A search worker as a Hydra application, so Hydra's launchers can start many of them on one study.

    python -m workflows.hydra_worker --multirun hydra/launcher=joblib hydra.launcher.n_jobs=4 \\
        search.seed=0,1,2,3 search.storage=postgresql://user@host/db
    python -m workflows.hydra_worker --multirun hydra/launcher=submitit_slurm search.seed='range(16)' ...

Each job runs the same study (one storage, one study name) with its own seed; the budget is shared exactly.
With GPUs, job ``hydra.job.num`` trains on GPU ``num`` modulo ``search.gpus`` (``CUDA_VISIBLE_DEVICES`` is set
before torch starts CUDA).
"""

from __future__ import annotations

from typing import Any

import hydra

from workflows.config import config_dir
from workflows.quiet import quiet
from workflows.schema import register_schemas

register_schemas()


def job_gpu(job_num: int | None, gpus: Any) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` value of Hydra job ``job_num``: GPU ``job_num`` modulo ``gpus`` (None
    without GPUs or outside a multirun)."""
    from omegaconf import ListConfig

    from nas.device import visible_gpus, worker_gpu

    ids = visible_gpus(list(gpus) if isinstance(gpus, (list, ListConfig)) else gpus)
    return worker_gpu(job_num or 0, ids) if ids else None


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def main(cfg: Any) -> None:
    """Join the configured study and search until its budget is spent."""
    import os

    from hydra.core.hydra_config import HydraConfig

    quiet()
    gpu = job_gpu(HydraConfig.get().job.num, cfg.search.gpus)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    from workflows.context import prepare
    from workflows.search_run import search_in_process

    search_in_process(prepare(cfg), show_progress=False)


if __name__ == "__main__":
    main()
