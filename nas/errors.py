"""Exception classes of the search library: each message names the bad value, the file and the fix."""

from __future__ import annotations


class NasError(Exception):
    """Base class of every user-facing error raised by ``nas``."""


class ModelFileError(NasError):
    """A model file cannot be loaded, or its class cannot be found or built."""


class SpaceError(NasError):
    """A search space (extracted or read from YAML) is invalid."""


class DataError(NasError):
    """A data folder cannot be loaded or fails validation."""


class SearchError(NasError):
    """A search cannot start or continue (storage, budget, configuration)."""


class TrainSettingsError(NasError, ValueError):
    """A training setting names an unknown choice (optimizer, schedule). Still a ``ValueError`` for old callers."""


class BudgetError(SearchError, ValueError):
    """No trial budget can be kept for a study storage. Still a ``ValueError`` for old callers."""


class SplitError(DataError, ValueError):
    """A data split is asked for by an unknown name. Still a ``ValueError`` for old callers."""


class SettingsError(NasError):
    """A training or search setting is outside its allowed range."""


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (for an error that names it), or its class name where it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__
