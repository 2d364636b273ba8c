"""Consecutive trial failures: a search whose trials keep failing the same way stops, naming the error and its fix."""

from __future__ import annotations

import logging
from typing import Any

from nas.errors import SearchError

DEFAULT_MAX_FAILURES = 3
_FIXES = (
    ("empty parameter list", "the model has no trainable parameters; give it at least one layer with weights"),
    ("learning rate", "set train.lr to a positive number (e.g. train.lr=0.003)"),
    ("weight_decay", "set train.weight_decay to zero or more (e.g. train.weight_decay=0)"),
    ("out of memory", "lower train.batch_size or shrink the search space's widths"),
    ("must return", "make the model's forward return one logits tensor of shape (batch, classes)"),
)


class RepeatedFailureError(SearchError):
    """The last ``max_failures`` trials of a search failed with the same error."""


def failure_fix(error: str) -> str:
    """The fix for a trial's error message (a general hint where no specific one is known)."""
    lowered = error.lower()
    for needle, fix in _FIXES:
        if needle in lowered:
            return fix
    return "fix the model file or the train settings the error points at, then rerun"


class _TrialFailureFilter(logging.Filter):
    """Drops Optuna's per-trial failure warnings (a traceback each): the observer and the streak report them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Trial ") and " failed" in message)


_FILTER = _TrialFailureFilter()


def hide_trial_tracebacks() -> None:
    """Stop Optuna logging a traceback for every failed trial (idempotent)."""
    logger = logging.getLogger("optuna")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    for handler in logger.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


class FailureStreak:
    """Counts a search's consecutive failed trials; :meth:`record` raises once ``limit`` of them share one error.

    Failures with different errors stop the search too, after three times the limit in a row.
    """

    def __init__(self, limit: int = DEFAULT_MAX_FAILURES) -> None:
        hide_trial_tracebacks()
        self.limit = limit
        self.errors: list[str] = []

    def record(self, trial: Any) -> None:
        """Note how the finished Optuna ``trial`` ended."""
        if trial.state.name != "FAIL":
            self.errors.clear()
            return
        self.errors.append(str(trial.user_attrs.get("fail_reason", "unknown error")))
        last = self.errors[-self.limit:]
        if len(last) == self.limit and len(set(last)) == 1:
            raise RepeatedFailureError(
                f"search stopped: the last {self.limit} trials all failed with {last[0]}; {failure_fix(last[0])} "
                f"(failed trials stay recorded; search.max_failures={self.limit} sets how many in a row stop it)")
        if len(self.errors) >= 3 * self.limit:
            raise RepeatedFailureError(
                f"search stopped: the last {len(self.errors)} trials all failed, the latest with {self.errors[-1]}; "
                f"{failure_fix(self.errors[-1])} (search.max_failures={self.limit})")
