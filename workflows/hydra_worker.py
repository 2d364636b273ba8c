"""A search worker as a Hydra application, so Hydra's launchers can start many of them on one study.

    python -m workflows.hydra_worker --multirun hydra/launcher=joblib hydra.launcher.n_jobs=4 \\
        search.seed=0,1,2,3 search.storage=postgresql://user@host/db
    python -m workflows.hydra_worker --multirun hydra/launcher=submitit_slurm search.seed='range(16)' ...

Each job runs the same study (one storage, one study name) with its own seed; the budget is shared exactly.
"""

from __future__ import annotations

from typing import Any

import hydra

from workflows.cli import quiet
from workflows.config import config_dir
from workflows.schema import register_schemas

register_schemas()


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def main(cfg: Any) -> None:
    """Join the configured study and search until its budget is spent."""
    from workflows.pipeline import prepare
    from workflows.search_run import search_in_process

    quiet()
    search_in_process(prepare(cfg), show_progress=False)


if __name__ == "__main__":
    main()
