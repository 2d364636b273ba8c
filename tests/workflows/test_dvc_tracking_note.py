"""Starting to track a folder with DVC is said, with the files it wrote; a tracked folder says nothing."""

from __future__ import annotations

from pathlib import Path

from tests.workflows.dvc_repo import copy_images, make_repo
from workflows.data_versioning import track_and_report


def test_a_new_folder_reports_the_files_dvc_add_wrote(tmp_path: Path, digits_folder: Path) -> None:
    tracked = make_repo(tmp_path / "repo", digits_folder, per_class=2)
    fresh = tracked.parent / "more"
    copy_images(digits_folder, fresh, slice(0, 2))
    hash_, note = track_and_report(fresh)
    assert hash_.endswith(".dir")
    assert note == (f"started tracking '{fresh}' with DVC: wrote {fresh.parent / 'more.dvc'}, "
                    f"{fresh.parent / '.gitignore'} (entry added); commit them with git")
    assert track_and_report(fresh)[1] is None and track_and_report(tracked)[1] is None
