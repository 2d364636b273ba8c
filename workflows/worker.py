"""One search worker process: ``python -m workflows.worker <resolved-config.yaml>`` (started by the search).

The worker starts before the parent has created the stores: it imports what it needs meanwhile, then waits
for the line ``start <parent run id>`` on its standard input (it exits quietly when the input ends first).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(config_path: str) -> int:
    """Get ready, wait for the parent's start line, then search the shared study until its budget is spent."""
    from omegaconf import OmegaConf

    from nas.training import warm_up
    from workflows.context import prepare
    from workflows.quiet import quiet
    from workflows.schema import NasflowConfig
    from workflows.search_run import START, search_in_process

    quiet()
    warm_up()
    import mlflow  # noqa: F401  (imported while the parent creates the stores)

    line = sys.stdin.readline().split()
    if not line or line[0] != START:
        return 0
    cfg = OmegaConf.merge(OmegaConf.structured(NasflowConfig), OmegaConf.load(Path(config_path)))
    search_in_process(prepare(cfg), show_progress=False, parent_run_id=line[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
