"""``python -m benchmarks``: every figure beside its baseline and target, as one table and a JSON file.

python -m benchmarks                       # everything (about 15 minutes on 2 cores)
python -m benchmarks --quick               # tiny sizes and a couple of seeds (the CI smoke test)
python -m benchmarks --only nb201 --only kb
python -m benchmarks --only images         # loading 50,000 PNGs (generated once into benchmarks/.cache)
python -m benchmarks --only cnn            # a ResNet-style CNN at 3×32×32: nasflow's loop vs a hand loop, bf16 vs fp32
python -m benchmarks --only nb201-proposals   # candidate default samplers on NAS-Bench-201 (not in the default run)
python -m benchmarks --only gpu            # nasflow on a CUDA GPU vs a hand loop (says so and exits 0 without CUDA)
python -m benchmarks --only shared         # 2 hosts vs 2 workers, tracking server vs SQLite (needs PostgreSQL)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.table import RESULTS, PartResult, markdown, plain, write_json


def _nb201(quick: bool) -> PartResult:
    from benchmarks import nb201

    return nb201.run(quick)


def _proposals(quick: bool) -> PartResult:
    from benchmarks import nb201
    from benchmarks.nb201_proposals import PROPOSALS

    result = nb201.run(quick, methods=(*PROPOSALS, "Optuna TPE"))
    result.part = "nb201-proposals"
    return result


def _module_run(name: str) -> Callable[[bool], PartResult]:
    def run(quick: bool) -> PartResult:
        import importlib

        return importlib.import_module(f"benchmarks.{name}").run(quick)

    return run


# Timing-sensitive parts first, the parallel NAS-Bench-201 searches last.
PARTS: dict[str, Callable[[bool], PartResult]] = {
    "startup": _module_run("startup"),
    "training_speed": _module_run("training_speed"),
    "cnn": _module_run("cnn_training"),
    "images": _module_run("image_loading"),
    "machinery": _module_run("machinery"),
    "workers": _module_run("workers"),
    "kb": _module_run("kb"),
    "nb201": _nb201,
}
EXTRA: dict[str, Callable[[bool], PartResult]] = {"nb201-proposals": _proposals, "gpu": _module_run("gpu"),
                                                  "shared": _module_run("shared_services")}


def _has_cuda() -> bool:
    from benchmarks.gpu import available

    return available()


def _load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and a couple of seeds (smoke test)")
    parser.add_argument("--only", action="append", choices=[*PARTS, *EXTRA], metavar="NAME",
                        help=f"run only this part (repeatable): {', '.join([*PARTS, *EXTRA])}")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="folder for the JSON (default benchmarks/results)"
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)
    for key, value in {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "DVC_NO_ANALYTICS": "1"}.items():
        os.environ.setdefault(key, value)
    import warnings

    warnings.filterwarnings("ignore")
    parts: list[PartResult] = []
    started = time.perf_counter()
    for name in args.only or list(PARTS):
        if name == "gpu" and not _has_cuda():
            print("[benchmarks] gpu: this machine has no CUDA device; nothing measured", file=sys.stderr, flush=True)
            continue
        print(f"[benchmarks] {name}{' (quick)' if args.quick else ''}...", file=sys.stderr, flush=True)
        part_start, load_before = time.perf_counter(), _load_average()
        result = {**PARTS, **EXTRA}[name](args.quick)
        result.seconds = time.perf_counter() - part_start
        result.load_average = None if load_before is None else (load_before, _load_average() or 0.0)
        parts.append(result)
        print(f"[benchmarks] {name} done in {result.seconds:.0f} s", file=sys.stderr, flush=True)
    if not parts:
        return 0
    print(plain(parts))
    if args.markdown:
        print("\n" + markdown(parts))
    path = write_json(parts, args.quick, args.results)
    print(f"\n{time.perf_counter() - started:.0f} s in all; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
