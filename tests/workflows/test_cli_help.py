"""Every subcommand's ``--help`` starts with a description and explains every option and argument."""

from __future__ import annotations

import argparse
import subprocess
import sys

from tests.workflows.conftest import REPO
from workflows.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


def test_every_subcommand_has_a_description_and_help_for_every_option() -> None:
    commands = _commands(build_parser())
    assert len(commands) > 20
    missing = [f"{' '.join(path)}: {action.dest}" for path, parser in commands for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    undescribed = [" ".join(path) for path, parser in commands if not parser.description]
    assert missing == [] and undescribed == []


def test_kb_query_help_summarizes_the_filter_language() -> None:
    out = subprocess.run([sys.executable, "-m", "workflows.cli", "kb", "query", "--help"], cwd=REPO, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": ""}).stdout
    for part in ("order by", "limit", "in (", "like", "arch.LABEL", "settings.KEY", "lineage.KEY", "examples:"):
        assert part in out, part
