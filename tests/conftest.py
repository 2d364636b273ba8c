"""Shared fixtures: the real bundled digits exported once per session, and a quiet environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's digits exported as class folders of PNGs (real data, no download)."""
    from nas.data import export_digits

    return export_digits(tmp_path_factory.mktemp("data") / "digits")


@pytest.fixture(scope="session")
def digits(digits_folder: Path):
    """The loaded digits dataset with its deterministic splits."""
    from nas.data import load_data_folder

    return load_data_folder(digits_folder)
