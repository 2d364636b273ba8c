"""Smoke test: every benchmark part runs in quick mode and produces finite figures (no targets asserted).

The parts run as three ``python -m benchmarks --quick`` processes at once (the two command-line parts alone, the
in-process parts together), each writing its JSON into a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import PARTS
from benchmarks.nb201_table import TABLE_DIR

REPO = Path(__file__).resolve().parents[2]
GROUPS = (("startup",), ("workers",), ("training_speed", "cnn", "images", "machinery", "kb", "nb201"))


@pytest.mark.timeout(300)
def test_every_part_produces_finite_figures(tmp_path: Path) -> None:
    if not (TABLE_DIR / "cifar10.csv").is_file():
        pytest.skip(f"no NAS-Bench-201 table at {TABLE_DIR}: put the tables at ../shared/benchmarks/nb201 or set "
                    "NASFLOW_NB201_DIR to their folder")
    assert sorted(p for group in GROUPS for p in group) == sorted(PARTS)
    runs = []
    for i, group in enumerate(GROUPS):
        args = [sys.executable, "-m", "benchmarks", "--quick", "--results", str(tmp_path / str(i))]
        args += [arg for part in group for arg in ("--only", part)]
        runs.append(subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for run in runs:
        out, err = run.communicate(timeout=280)
        assert run.returncode == 0, err[-3000:]
        assert "figure" in out and "met?" in out
    parts = {p["part"]: p for i in range(len(GROUPS)) for p in
             json.loads((tmp_path / str(i) / "latest-quick.json").read_text())["parts"]}
    assert sorted(parts) == sorted(PARTS)
    for name, part in parts.items():
        assert part["figures"], name
        for figure in part["figures"]:
            assert math.isfinite(figure["value"]), (name, figure["name"])
            if figure["baseline"] is not None:
                assert math.isfinite(figure["baseline"]), (name, figure["name"])


def test_gpu_part_says_so_without_cuda_and_its_loops_run_on_cpu(tmp_path: Path) -> None:
    import torch

    from benchmarks.gpu import throughput_figures

    if not torch.cuda.is_available():
        done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "gpu", "--results", str(tmp_path)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "no CUDA device" in done.stderr and not any(tmp_path.iterdir())
    figures = throughput_figures(torch.device("cpu"), n=128, repeats=1)  # the same loops, on the CPU
    assert len(figures) == 3 and all(math.isfinite(f.value) and f.value > 0 and f.ratio > 0 for f in figures)
    assert [f.name for f in figures] == ["cpu throughput 32: nasflow vs hand loop",
                                         "cpu throughput bf16-mixed channels_last: nasflow vs hand loop",
                                         "cpu data resident on the device vs per-batch copies"]


@pytest.mark.timeout(240)
def test_gpu_scaling_gives_each_worker_its_gpu_and_times_them_together() -> None:
    from benchmarks.gpu import SCALING_TARGET, run_workers, scaling_figure, worker_envs

    assert [env["CUDA_VISIBLE_DEVICES"] for env in worker_envs(["1", "3", "0"])] == ["1", "3", "0"]
    (cpu_env,) = worker_envs([])
    assert cpu_env.get("CUDA_VISIBLE_DEVICES") == os.environ.get("CUDA_VISIBLE_DEVICES")
    rates = run_workers([cpu_env, cpu_env], n=128, device="cpu")  # the same processes, on the CPU
    assert len(rates) == 2 and all(math.isfinite(r) and r > 0 for r in rates)
    figure = scaling_figure(100.0, [95.0, 86.0], "GPUs 0,1")
    assert figure.ratio == pytest.approx(0.905) and figure.met is True and SCALING_TARGET == 0.9
    assert figure.cells("0.4→0.6") == ["one trial per GPU: 2 worker(s) at once vs 2 × one alone", "181 samples/s",
                                       "200 (2 × one worker alone)", "0.91×", "≥ 0.9×", "yes", "0.4→0.6"]
    assert figure.note.endswith("per worker: 95, 86")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_shared_services_part_produces_finite_figures(tmp_path: Path) -> None:
    from tests.workflows.test_resume_and_workers import postgres_url

    postgres_url()  # skips (or fails under CI) without a PostgreSQL server
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "shared", "--results",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=880)
    assert done.returncode == 0, done.stderr[-3000:]
    (part,) = json.loads((tmp_path / "latest-quick.json").read_text())["parts"]
    assert len(part["figures"]) == 4
    assert all(math.isfinite(f["value"]) and math.isfinite(f["baseline"]) for f in part["figures"])
