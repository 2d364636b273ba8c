"""``nasflow watch``: poll DVC-tracked data folders; on new data retrain, register, move ``champion`` only if better.

One line per folder per round on stdout. The first Ctrl-C finishes the current round and stops (a second one
aborts it); either way the watch exits 0 with a last line. One watcher per DVC repository (a lock file).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from workflows.errors import WorkflowError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from workflows.watch_round import FolderWatch, RoundResult


class StopRequest:
    """Ctrl-C as a request: the first one stops after the current round, a second one aborts the round."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.in_round = False

    @property
    def requested(self) -> bool:
        """Whether Ctrl-C was pressed."""
        return self.event.is_set()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The SIGINT handler."""
        if self.in_round and self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        if self.in_round:
            print("nasflow watch: Ctrl-C: stopping after this round (Ctrl-C again aborts it)", file=sys.stderr,
                  flush=True)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if Ctrl-C comes first."""
        self.event.wait(seconds)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Handle SIGINT with :meth:`handle` for the block (main thread only; elsewhere Ctrl-C is untouched)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self.handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def folder_configs(folders: list[str], overrides: list[str], config_dir: str | None) -> list[tuple[Path, DictConfig]]:
    """The composed config of each watched folder (``data.path`` set to it; named after it if several)."""
    from workflows.config import compose_config

    if not folders:
        cfg = compose_config(overrides, config_dir)
        return [(Path(cfg.data.path), cfg)]
    if len(set(folders)) != len(folders):
        raise WorkflowError(f"folders {folders} name one folder twice; list each data folder once")
    missing = [f for f in folders if not Path(f).is_dir()]
    if missing:
        raise WorkflowError(f"data folder '{missing[0]}' does not exist; create it (e.g. 'nasflow data init digits "
                            f"{missing[0]}') or pass an existing folder to watch")
    configs = []
    for folder in folders:
        named = [f"data.name={Path(folder).name}"] if len(folders) > 1 else []
        configs.append((Path(folder), compose_config([*named, *overrides, f"data.path={folder}"], config_dir)))
    return configs


def watch(folders: list[str], interval: float, max_rounds: int, research: bool = False,
          overrides: list[str] | None = None, config_dir: str | None = None,
          emit: Callable[[str], None] | None = None) -> int:
    """Watch ``folders`` (default: ``data.path``) every ``interval`` s for ``max_rounds`` rounds (0 = until Ctrl-C)."""
    from workflows.data_versioning import dvc_repo_root, watcher_lock
    from workflows.watch_round import FolderWatch, run_round

    if interval < 0 or max_rounds < 0:
        raise WorkflowError(f"--interval {interval:g} and --max-rounds {max_rounds} must be >= 0 (0 rounds = forever)")
    say = emit or (lambda line: print(line, flush=True))
    configs = folder_configs(list(folders), list(overrides or []), config_dir)
    states = [FolderWatch(folder, cfg) for folder, cfg in configs]
    roots = sorted({dvc_repo_root(state.folder) for state in states})
    stop = StopRequest()
    with ExitStack() as stack:
        for root in roots:
            stack.enter_context(watcher_lock(root))
        mode = "re-search" if research else "retrain the champion's architecture"
        limit = f"{max_rounds} round(s)" if max_rounds else "until Ctrl-C"
        say(f"watch: {', '.join(str(s.folder) for s in states)} every {interval:g} s, {limit}; on new data: {mode}")
        stack.enter_context(stop.installed())
        done = _loop(states, interval, max_rounds, research, stop, say, run_round)
    why = "Ctrl-C" if stop.requested else f"{done} round(s)"
    say(f"watch: stopped after {why}; {_champions(states)}")
    return 0


def _loop(states: list[FolderWatch], interval: float, max_rounds: int, research: bool, stop: StopRequest,
          say: Callable[[str], None], run_round: Callable[[FolderWatch, bool], RoundResult]) -> int:
    """Run rounds until ``max_rounds`` or Ctrl-C; returns the number of rounds done."""
    done = 0
    while not stop.requested and (max_rounds == 0 or done < max_rounds):
        if done:
            stop.sleep(interval)
            if stop.requested:
                break
        done += 1
        for state in states:
            stop.in_round = True
            try:
                result = run_round(state, research)
            except KeyboardInterrupt:
                stop.event.set()
                say(f"round {done}: {state.folder}: aborted by Ctrl-C; nothing new registered for it")
                return done
            finally:
                stop.in_round = False
            say(f"round {done}: {result.line}")
            if stop.requested:
                break
    return done


def _champions(states: list[FolderWatch]) -> str:
    """``champion of <model>: vN`` for each registered model watched."""
    from workflows.tracking import mlflow_client
    from workflows.watch_versions import champion_label
    from workflows.workspace import Workspace

    labels = {}
    for state in states:
        ws = Workspace.from_config(state.cfg)
        labels[ws.registered_model] = champion_label(mlflow_client(ws), ws.registered_model)
    return ", ".join(f"champion of '{name}': {label}" for name, label in labels.items())
