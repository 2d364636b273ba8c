"""The defaults a project folder may lack: the bundled ``conf/`` and example models, in a wheel or a checkout.

A wheel ships them as ``workflows/shipped/{conf,examples}`` (see ``setup.py``); a checkout keeps them at its root.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_CHECKOUT = _HERE.parent


def _bundled(name: str) -> Path:
    """The installed ``workflows/shipped/<name>`` if the wheel holds it, else the checkout's ``<name>/``."""
    installed = _HERE / "shipped" / name
    return installed if installed.is_dir() else _CHECKOUT / name


def package_conf() -> Path:
    """The default ``conf/`` folder that ships with nasflow."""
    return _bundled("conf")


def resolve_model_file(file: str | Path) -> Path:
    """``file`` as given if it exists (or is absolute), else the bundled example of that relative path."""
    path = Path(file)
    if path.is_absolute() or path.exists() or not path.parts or path.parts[0] != "examples":
        return path
    bundled = _bundled("examples").joinpath(*path.parts[1:])
    return bundled if bundled.is_file() else path


def shipped_file(name: str) -> Path:
    """A project-root file nasflow ships as a template (``dvc.yaml``): the wheel's copy, else the checkout's."""
    installed = _HERE / "shipped" / "project" / name
    return installed if installed.is_file() else _CHECKOUT / name
