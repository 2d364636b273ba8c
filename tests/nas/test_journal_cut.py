"""A journal whose last line was cut short loads its complete records; the cut line is kept in a side file."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.study import make_storage


def test_cut_last_line_is_set_aside_and_the_study_loads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    journal = tmp_path / "optuna.journal"
    study = optuna.create_study(study_name="cut", storage=make_storage(f"journal:///{journal}"))
    for value in (1.0, 2.0):
        trial = study.ask()
        study.tell(trial, value)
    whole = journal.read_bytes()
    cut = b'{"op_code":5,"worker_id":"x","study_id":0,"dat'
    journal.write_bytes(whole + cut)  # a write cut mid-record
    capsys.readouterr()
    again = optuna.load_study(study_name="cut", storage=make_storage(f"journal:///{journal}"))
    assert [t.value for t in again.trials] == [1.0, 2.0]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"its last record was cut short ({len(cut)} bytes); set aside in" in err[0]
    side = next(tmp_path.glob("optuna.journal.cut-*"))
    assert side.read_bytes() == cut and journal.read_bytes() == whole
    trial = again.ask()  # the next write starts on a line of its own
    again.tell(trial, 3.0)
    reloaded = optuna.load_study(study_name="cut", storage=make_storage(f"journal:///{journal}"))
    assert [t.value for t in reloaded.trials] == [1.0, 2.0, 3.0]
