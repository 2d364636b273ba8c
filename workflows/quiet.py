"""Offline and quiet: the environment every nasflow process (CLI, search workers, Hydra jobs) runs with."""

from __future__ import annotations

import os

QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "GIT_PYTHON_REFRESH": "quiet",
    "HYDRA_FULL_ERROR": "0",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # stdout carries --json; a tracking server printed run URLs
}


def quiet() -> None:
    """Telemetry off, library chatter (experimental-feature notices) hidden."""
    import warnings

    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message=r".*(is an experimental feature|is experimental \(supported from)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(optuna|mlflow)(\..*)?")
