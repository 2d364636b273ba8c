"""Hardware constraints checked on a built model before any training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COST_ATTR = "cost"  #: the trial user attribute holding the built model's cost figures (one storage write)
#: constraint name -> the cost figure it limits
LIMITS = {"max_params": "params", "max_flops": "flops", "max_latency_ms": "latency_ms", "max_memory_mb": "memory_mb"}


@dataclass(frozen=True)
class Constraints:
    """Upper limits on a model's cost; ``None`` means no limit."""

    max_params: float | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None

    def active(self) -> dict[str, float]:
        """The limits that are set."""
        return {k: float(v) for k, v in self.__dict__.items() if v is not None}

    def margins(self, cost: dict[str, Any]) -> dict[str, float]:
        """Optuna constraint values (``cost - limit``; feasible when every value is <= 0)."""
        return {name: float(cost[LIMITS[name]]) - limit for name, limit in self.active().items()}

    def violations(self, cost: dict[str, Any]) -> list[str]:
        """Human-readable reasons, e.g. ``params 120000 > max_params 50000``."""
        return [f"{LIMITS[name]} {cost[LIMITS[name]]:g} > {name} {limit:g}"
                for name, limit in self.active().items() if float(cost[LIMITS[name]]) > limit]
