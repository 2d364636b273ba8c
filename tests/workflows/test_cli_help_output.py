"""What ``nasflow … --help`` prints, through the real command line: each subcommand's description and the help of
every one of its options."""

from __future__ import annotations

import argparse
import subprocess

from tests.workflows.conftest import NASFLOW, REPO, cli_env
from tests.workflows.test_cli_help import _commands
from workflows.cli import build_parser


def _bare(text: str) -> str:
    """``text`` without whitespace (argparse wraps lines where it likes) and before any ``%(…)s`` placeholder."""
    return "".join(text.split("%(")[0].split())


def test_every_help_screen_prints_its_description_and_every_options_help(tmp_path) -> None:
    unexplained = []
    for path, parser in _commands(build_parser()):
        out = subprocess.run([*NASFLOW, *path, "--help"], cwd=REPO, env=cli_env(tmp_path / "ws"), capture_output=True,
                             text=True, timeout=60, check=True).stdout
        printed = _bare(out)
        assert parser.description and _bare(parser.description) in printed, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            names = action.option_strings or [action.metavar or action.dest]
            if not (action.help and _bare(action.help) in printed and all(_bare(str(n)) in printed for n in names)):
                unexplained.append(f"nasflow {' '.join(path)}: {names[0]}")
    assert unexplained == []
