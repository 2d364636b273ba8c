"""One search worker process: ``python -m workflows.worker <resolved-config.yaml>`` (started by the search)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(config_path: str) -> int:
    """Load the resolved config, then search the shared study until its budget is spent."""
    from omegaconf import OmegaConf

    from workflows.cli import quiet
    from workflows.pipeline import prepare
    from workflows.schema import NasflowConfig
    from workflows.search_run import PARENT_RUN_ENV, search_in_process

    quiet()
    cfg = OmegaConf.merge(OmegaConf.structured(NasflowConfig), OmegaConf.load(Path(config_path)))
    search_in_process(prepare(cfg), show_progress=False, parent_run_id=os.environ.get(PARENT_RUN_ENV))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
