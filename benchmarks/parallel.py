"""Run independent seeded jobs on the machine's cores (spawned processes: torch and fork do not mix)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parallel_map(fn: Callable[..., T], jobs: Iterable[tuple[Any, ...]], processes: int | None = None) -> list[T]:
    """``[fn(*job) for job in jobs]`` over up to ``processes`` spawned processes (in order); inline for one."""
    jobs = list(jobs)
    processes = min(processes or cores(), len(jobs))
    if processes <= 1:
        return [fn(*job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_one_thread) as pool:
        return list(pool.map(fn, *zip(*jobs)))


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)
