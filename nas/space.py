"""Search spaces: a flat mapping from a unique label to a distribution, with a YAML round trip."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nas.errors import SpaceError

KINDS = ("int", "float", "categorical")


@dataclass(frozen=True)
class Dimension:
    """One searchable dimension: an integer or float range, or a list of choices.

    ``default`` is today's value (the model file's own), used for the first trial and for display.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    default: Any = None

    def validate(self, label: str, source: str = "search space") -> None:
        """Raise :class:`SpaceError` naming ``label`` if this dimension is inconsistent."""
        where = f"{source}: dimension '{label}'"
        if self.kind not in KINDS:
            raise SpaceError(f"{where} has type '{self.kind}'; use one of {', '.join(KINDS)}")
        if self.kind == "categorical":
            if not self.choices:
                raise SpaceError(f"{where} is categorical but has no choices; list at least one")
            if self.default is not None and self.default not in self.choices:
                raise SpaceError(f"{where} default {self.default!r} is not among choices {list(self.choices)}")
            return
        if self.low is None or self.high is None:
            raise SpaceError(f"{where} needs both 'low' and 'high'")
        if not self.low <= self.high:
            raise SpaceError(f"{where} has low={self.low} > high={self.high}; swap or fix them")
        if self.log and self.low <= 0:
            raise SpaceError(f"{where} is log-scaled but low={self.low} <= 0; use low > 0 or log: false")
        if self.log and self.step not in (None, 1):
            raise SpaceError(f"{where} sets both log and step={self.step}; Optuna allows only one")
        if self.kind == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise SpaceError(f"{where} is an int range with non-integer bounds {self.low}..{self.high}")
        if self.default is not None and not self.low <= self.default <= self.high:
            raise SpaceError(f"{where} default {self.default} is outside [{self.low}, {self.high}]")

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a range (set on every range that passed :meth:`validate`)."""
        if self.low is None or self.high is None:
            raise SpaceError(f"{self.kind} dimension has no 'low' and 'high'; give both")
        return self.low, self.high

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a possible sample of this dimension."""
        if self.kind == "categorical":
            return value in (self.choices or ())
        low, high = self.bounds
        return low <= value <= high

    def clip(self, value: Any) -> Any:
        """``value`` moved into this dimension (nearest bound, or the default for an unknown choice)."""
        if self.kind == "categorical":
            return (
                value
                if value in (self.choices or ())
                else (self.default if self.default is not None else self.choices[0])  # type: ignore[index]
            )
        low, high = self.bounds
        clipped = min(max(value, low), high)
        return int(round(clipped)) if self.kind == "int" else float(clipped)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: ``{type, low, high, log, step, choices, default}`` without empty keys."""
        out: dict[str, Any] = {"type": self.kind}
        if self.kind == "categorical":
            out["choices"] = list(self.choices or ())
        else:
            cast = int if self.kind == "int" else float
            out["low"], out["high"] = (cast(b) for b in self.bounds)
            if self.log:
                out["log"] = True
            if self.step is not None:
                out["step"] = cast(self.step)
        if self.default is not None:
            out["default"] = self.default
        return out

    @classmethod
    def from_dict(cls, label: str, raw: Mapping[str, Any], source: str = "search space") -> Dimension:
        """Parse and validate the YAML form of one dimension."""
        if not isinstance(raw, Mapping):
            raise SpaceError(f"{source}: dimension '{label}' must be a mapping with a 'type', got {raw!r}")
        unknown = set(raw) - {"type", "low", "high", "log", "step", "choices", "default"}
        if unknown:
            raise SpaceError(
                f"{source}: dimension '{label}' has unknown key(s) {sorted(unknown)}; "
                "allowed: type, low, high, log, step, choices, default"
            )
        kind = str(raw.get("type", "categorical" if "choices" in raw else ""))
        choices = raw.get("choices")
        dim = cls(
            kind=kind,
            low=raw.get("low"),
            high=raw.get("high"),
            log=bool(raw.get("log", False)),
            step=raw.get("step"),
            choices=tuple(choices) if choices is not None else None,
            default=raw.get("default"),
        )
        dim.validate(label, source)
        return dim


@dataclass
class SearchSpace:
    """An ordered mapping from label to :class:`Dimension`, plus fixed values and notes.

    ``fixed`` holds values that are not searched (frozen dimensions, data-bound arguments);
    ``notes`` records what extraction adapted (for example the first layer's input channels).
    """

    dimensions: dict[str, Dimension] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    def __contains__(self, label: object) -> bool:
        return label in self.dimensions

    def __getitem__(self, label: str) -> Dimension:
        return self.dimensions[label]

    def defaults(self) -> dict[str, Any]:
        """Today's value of every dimension that has one."""
        return {k: d.default for k, d in self.dimensions.items() if d.default is not None}

    def sample(self, trial: Any) -> dict[str, Any]:
        """Sample every dimension through an Optuna trial (``suggest_int``/``float``/``categorical``)."""
        params: dict[str, Any] = {}
        for label, dim in self.dimensions.items():
            if dim.kind == "categorical":
                params[label] = trial.suggest_categorical(label, list(dim.choices or ()))
            elif dim.kind == "int":
                step = int(dim.step) if dim.step else 1
                low, high = dim.bounds
                params[label] = trial.suggest_int(label, int(low), int(high), step=step, log=dim.log)
            else:
                low, high = dim.bounds
                params[label] = trial.suggest_float(label, float(low), float(high), step=dim.step, log=dim.log)
        return params

    def to_optuna(self) -> dict[str, Any]:
        """The space as Optuna distributions (for ``enqueue_trial``/``create_trial`` checks)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, Any] = {}
        for label, dim in self.dimensions.items():
            if dim.kind == "categorical":
                out[label] = CategoricalDistribution(list(dim.choices or ()))
            elif dim.kind == "int":
                low, high = dim.bounds
                out[label] = IntDistribution(int(low), int(high), log=dim.log, step=int(dim.step or 1))
            else:
                low, high = dim.bounds
                out[label] = FloatDistribution(float(low), float(high), log=dim.log, step=dim.step)
        return out

    def clip(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` mapped onto this space: unknown labels dropped, values moved into range."""
        return {k: self.dimensions[k].clip(v) for k, v in params.items() if k in self.dimensions}

    def to_dict(self) -> dict[str, Any]:
        """The YAML form of the whole space."""
        out: dict[str, Any] = {"dimensions": {k: d.to_dict() for k, d in self.dimensions.items()}}
        if self.fixed:
            out["fixed"] = dict(self.fixed)
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, source: str = "search space") -> SearchSpace:
        """Parse and validate the YAML form; errors name ``source`` and the label."""
        raw = raw or {}
        dims_raw = raw.get("dimensions") or {}
        if not isinstance(dims_raw, Mapping):
            raise SpaceError(f"{source}: 'dimensions' must be a mapping from label to distribution")
        dims = {str(label): Dimension.from_dict(str(label), spec, source) for label, spec in dims_raw.items()}
        return cls(dimensions=dims, fixed=dict(raw.get("fixed") or {}), notes=list(raw.get("notes") or []))

    def write_yaml(self, path: Path, header: str = "") -> None:
        """Write the space as an editable YAML file (a Hydra ``space/`` config)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)
        path.write_text((header + "\n" if header else "") + body)

    @classmethod
    def read_yaml(cls, path: Path) -> SearchSpace:
        """Read and validate a space YAML written by :meth:`write_yaml` (and maybe edited)."""
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError as exc:
            raise SpaceError(
                f"search space file {path} does not exist; create it with 'nasflow space <file>:<Class>'"
            ) from exc
        except yaml.YAMLError as exc:
            raise SpaceError(
                f"{path}: not valid YAML ({exc}); fix the syntax or regenerate it with 'nasflow space'"
            ) from exc
        return cls.from_dict(raw, source=str(path))
