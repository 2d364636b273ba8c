"""The allowed ranges of the numeric training and search settings, checked wherever settings are made."""

from __future__ import annotations

from collections.abc import Mapping

from nas.errors import SettingsError

Limits = Mapping[str, tuple[str, float]]  # setting -> (">=" or ">", bound)

TRAIN_LIMITS: Limits = {"epochs": (">=", 1), "batch_size": (">=", 1), "lr": (">", 0), "weight_decay": (">=", 0)}
SEARCH_LIMITS: Limits = {"n_trials": (">=", 1), "timeout": (">", 0), "max_failures": (">=", 1),
                         "heartbeat": (">=", 1), "grace_period": (">=", 1)}


def _allowed(value: object, op: str, bound: float) -> bool:
    if value is None:  # an unset optional setting (a timeout of null: no limit)
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= bound if op == ">=" else value > bound


def check_limits(values: Mapping[str, object], limits: Limits, prefix: str = "") -> None:
    """Raise :class:`SettingsError` naming the first of ``values`` outside its range in ``limits``."""
    for key, (op, bound) in limits.items():
        if key in values and not _allowed(values[key], op, bound):
            shown = f"{bound:g}" if isinstance(bound, float) else bound
            raise SettingsError(f"{prefix}{key}={values[key]!r} is out of range (allowed: {op} {shown}); "
                                f"set {prefix}{key} to a number {op} {shown}")


def check_heartbeat(heartbeat: int, grace_period: int) -> None:
    """Raise :class:`SettingsError` unless a trial's ``grace_period`` outlasts its ``heartbeat`` (else live trials
    would be failed as stale)."""
    if grace_period <= heartbeat:
        raise SettingsError(f"search.grace_period={grace_period} must be longer than search.heartbeat={heartbeat}, "
                            "or live trials are failed as stale; raise search.grace_period")
