"""``nasflow -v`` prints the traceback (with its chained causes) of an error that is otherwise one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.cli import main


@pytest.mark.parametrize("verbose", [False, True])
def test_traceback_only_with_v(tmp_path: Path, capsys: pytest.CaptureFixture[str], verbose: bool) -> None:
    missing = tmp_path / "nothing.yaml"
    argv = ["config", "--params-file", str(missing)]
    assert main((["-v"] if verbose else []) + argv) == 2
    err = capsys.readouterr().err
    assert "nasflow: error:" in err and "nothing.yaml" in err
    assert ("Traceback (most recent call last)" in err) is verbose
