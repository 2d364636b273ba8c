"""Range checks of a composed config's numeric train and search settings (types are the schema's job)."""

from __future__ import annotations

from typing import Any

# settings of the config that the library's settings classes do not hold
CONFIG_LIMITS = {
    "train": {"retrain_epochs": (">=", 1)},
    "search": {"workers": (">=", 1), "threads": (">=", 0), "warm_start_k": (">=", 1), "seed": (">=", 0)},
}


def validate_ranges(cfg: Any) -> None:
    """Raise :class:`nas.errors.SettingsError` (one line: key, value, allowed range) for the first bad setting."""
    from omegaconf import OmegaConf

    from nas.limits import SEARCH_LIMITS, TRAIN_LIMITS, check_limits

    for group, limits in (("train", TRAIN_LIMITS), ("search", SEARCH_LIMITS)):
        values = OmegaConf.to_container(cfg[group])
        check_limits(values, {**limits, **CONFIG_LIMITS[group]}, f"{group}.")
