"""Figures of a benchmark run: one row each, printed as one table and written as JSON."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("figure", "measured", "baseline (same run)", "ratio", "target", "met?", "load avg")


@dataclass
class Figure:
    """One measured figure beside its baseline (measured in the same run) and its target.

    ``higher_is_better`` orients the target: ``value >= target`` (or ``<=`` when False). ``met`` is None when
    there is no target. ``target_on`` says which number the target applies to: the value or the ratio.
    """

    name: str
    value: float
    unit: str = ""
    std: float | None = None
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    higher_is_better: bool = True
    target_on: str = "value"
    note: str = ""
    decimals: int = 2
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        """measured / baseline, or the median of paired ratios when given (None without a baseline)."""
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None without a target or a number to compare)."""
        checked = self.ratio if self.target_on == "ratio" else self.value
        if self.target is None or checked is None or not math.isfinite(checked):
            return None
        return checked >= self.target if self.higher_is_better else checked <= self.target

    def cells(self, load: str = "—") -> list[str]:
        """The row's text cells, in :data:`COLUMNS` order (``load``: the machine's load while it was measured)."""
        d = self.decimals
        measured = f"{self.value:.{d}f}" + (f" ± {self.std:.{d}f}" if self.std is not None else "")
        measured += f" {self.unit}" if self.unit else ""
        baseline = "—"
        if self.baseline is not None:
            baseline = f"{self.baseline:.{d}f}" + (f" ({self.baseline_name})" if self.baseline_name else "")
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else "—"
        target = "—"
        if self.target is not None:
            sign = "≥" if self.higher_is_better else "≤"
            target = f"{sign} {self.target:.3g}" + ("×" if self.target_on == "ratio" else f" {self.unit}".rstrip())
        met = {True: "yes", False: "**no**", None: "—"}[self.met]
        return [self.name, measured, baseline, ratio, target, met, load]


@dataclass
class PartResult:
    """What one benchmark part produced: its figures and the details behind them (for the JSON), and the 1-minute
    load average before and after it ran (other work on the machine skews timings: a load above the core count
    means the figures are pessimistic)."""

    part: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    load_average: tuple[float, float] | None = None

    def load(self) -> str:
        """The load averages as a table cell: ``before→after``, or — when not measured."""
        return "—" if self.load_average is None else "{:.1f}→{:.1f}".format(*self.load_average)


def markdown(parts: list[PartResult]) -> str:
    """Every figure of every part as one Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for part in parts:
        for figure in part.figures:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in figure.cells(part.load())) + " |")
    return "\n".join(lines)


def plain(parts: list[PartResult]) -> str:
    """The same table aligned for a terminal, with notes below it."""
    rows = [list(COLUMNS)] + [[c.replace("**", "") for c in f.cells(p.load())] for p in parts for f in p.figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"- {f.name}: {f.note}" for p in parts for f in p.figures if f.note]
    return "\n".join(out + ([""] + notes if notes else []))


def write_json(parts: list[PartResult], quick: bool, folder: Path = RESULTS) -> Path:
    """Write ``<timestamp>.json`` and ``latest.json`` under ``folder``; returns the timestamped path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    payload = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "parts": [
            {"part": p.part, "seconds": round(p.seconds, 1), "load_average": p.load_average, "details": p.details,
             "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in p.figures]}
            for p in parts
        ],
        "markdown": markdown(parts),
    }
    text = json.dumps(payload, indent=2, default=str)
    path = folder / f"{stamp}{'-quick' if quick else ''}.json"
    path.write_text(text)
    (folder / ("latest-quick.json" if quick else "latest.json")).write_text(text)
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
