"""Errors of the workflow layer; the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class WorkflowError(Exception):
    """A user-facing error of the command line, configuration, tracking or data versioning."""


class ConfigError(WorkflowError):
    """The composed Hydra config is invalid (bad override, missing group option, bad value)."""
